"""Settings of what a message costs and when it may go (``settings.cost``, ``SMSQ_COST__*``): SMS
segment counting, prices, spend caps, the SMS-pumping guard and send windows (README "Cost, caps
and send windows")."""

from __future__ import annotations

from datetime import time
from pathlib import Path

from pydantic import BaseModel, Field, field_validator, model_validator


class CapSettings(BaseModel):
    """Spend caps per UTC day and month: in SMS parts, and in cost (the price table's currency)
    where prices are known. None: no such cap."""

    daily_segments: int | None = Field(None, ge=0)
    monthly_segments: int | None = Field(None, ge=0)
    daily_cost: float | None = Field(None, ge=0)
    monthly_cost: float | None = Field(None, ge=0)


class PumpingSettings(BaseModel):
    """The SMS-pumping guard on high-priority traffic (OTP): where it may go, and how fast."""

    # ISO country codes high-priority SMS may go to; None: anywhere.
    allowed_countries: list[str] | None = None
    # Off by default (None): set them from the traffic you expect, e.g. 5 and 100.
    per_number_per_hour: int | None = Field(None, ge=1)
    prefix_digits: int = Field(7, ge=3, le=12)  # a number range: "+" and this many digits
    per_prefix_per_hour: int | None = Field(None, ge=1)
    priorities: list[str] = ["high"]  # the priorities the guard applies to

    @field_validator("allowed_countries")
    @classmethod
    def _country_codes(cls, value: list[str] | None) -> list[str] | None:
        bad = [code for code in value or [] if not (len(code) == 2 and code.isalpha() and code.isupper())]
        if bad:
            raise ValueError(f"{bad[0]!r} is not an ISO country code (EE, US, ...)")
        return value


WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")


class WindowRule(BaseModel):
    """One country's marketing send window (smsq.producers.windows.rules has the defaults)."""

    start: time = time(9)  # local time the window opens
    end: time = time(20)  # local time it closes (exclusive)
    days: list[str] = Field(default_factory=lambda: list(WEEKDAYS[:6]))
    holidays: bool = False  # True: public holidays are allowed like any other day

    @field_validator("days")
    @classmethod
    def _weekday_names(cls, value: list[str]) -> list[str]:
        bad = [day for day in value if day not in WEEKDAYS]
        if bad:
            raise ValueError(f"{bad[0]!r} is not a weekday ({', '.join(WEEKDAYS)})")
        return value

    @model_validator(mode="after")
    def _end_after_start(self) -> WindowRule:
        if self.end <= self.start:
            raise ValueError("end must be after start (a window within one local day)")
        return self


class WindowSettings(BaseModel):
    """Marketing messages go out only inside the recipient's local send window."""

    enabled: bool = True
    # Country (ISO code, or "*" for every other) -> its rule; replaces that country's default.
    rules: dict[str, WindowRule] = Field(default_factory=dict)


class CostSettings(BaseModel):
    # False: no campaign parts counting, caps, pumping guard or send windows (a single message's
    # parts are still counted at validation: the parts limit needs them).
    enabled: bool = True
    # Messente's autoconvert=on (its default) applies the account's Auto Replace settings, which
    # smsq cannot read: mirror them here, one character -> its replacement, so parts are counted as
    # sent. Empty: counted as sent as is (never fewer parts than the provider bills).
    auto_replace: dict[str, str] = Field(default_factory=dict)
    # A TOML file of prices per provider and country (config/prices.example.toml); none: unpriced.
    prices_file: Path | None = None
    caps: CapSettings = CapSettings()  # all traffic
    key_caps: CapSettings = CapSettings()  # each API key not listed in key_caps_by_id
    key_caps_by_id: dict[str, CapSettings] = Field(default_factory=dict)  # API key id -> its caps
    warn_at: float = Field(0.8, gt=0, le=1)  # a warning (log + event) when a cap crosses this share
    pumping: PumpingSettings = PumpingSettings()
    windows: WindowSettings = WindowSettings()

    @field_validator("auto_replace")
    @classmethod
    def _one_character_each(cls, value: dict[str, str]) -> dict[str, str]:
        bad = [key for key in value if len(key) != 1]
        if bad:
            raise ValueError(f"each key is one character to replace (not {bad[0]!r})")
        return value
