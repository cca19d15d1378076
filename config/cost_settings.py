"""Settings of what a message costs and when it may go (``settings.cost``, ``SMSQ_COST__*``): SMS
segment counting, prices, spend caps, the SMS-pumping guard and send windows (README "Cost, caps
and send windows")."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field, field_validator


class CostSettings(BaseModel):
    # Messente's autoconvert=on (its default) applies the account's Auto Replace settings, which
    # smsq cannot read: mirror them here, one character -> its replacement, so parts are counted as
    # sent. Empty: counted as sent as is (never fewer parts than the provider bills).
    auto_replace: dict[str, str] = Field(default_factory=dict)
    # A TOML file of prices per provider and country (config/prices.example.toml); none: unpriced.
    prices_file: Path | None = None

    @field_validator("auto_replace")
    @classmethod
    def _one_character_each(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if len(key) != 1]
        if bad:
            raise ValueError(f"each key is one character to replace (not {bad[0]!r})")
        return value
