"""The pieces every channel model of the message contract is built from: field types (numbers,
senders, URLs, UTC times), the limits a validation runs under, the strict base model that bounds
every string, and the channel base with its validity/TTL and text limits."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, ClassVar, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.messages.numbers import to_e164
from smsq.producers.messages.segments import Segments, describe

VIBER_VIDEO_MAX_BYTES = 200 * 1024 * 1024
VIBER_VIDEO_MAX_SECONDS = 600
# A UDH longer than this leaves too little room for text in a part (140 bytes, less the UDH).
UDH_MAX_BYTES = 100


PhoneNumber = Annotated[str, BeforeValidator(to_e164)]

# fullmatch, never match + "$": "$" also matches before a trailing newline, which would be sent.
_ALPHANUMERIC_SENDER = re.compile(r"[A-Za-z0-9 ._&-]{1,11}", re.ASCII)
_NUMERIC_SENDER = re.compile(r"\+?[0-9]{1,15}", re.ASCII)


def _check_sender(value: str) -> str:
    if not (_NUMERIC_SENDER.fullmatch(value) or _ALPHANUMERIC_SENDER.fullmatch(value)):
        raise ValueError("must be a phone number (up to 15 digits) or up to 11 letters and digits")
    return value


Sender = Annotated[str, AfterValidator(_check_sender)]
Url = Annotated[HttpUrl, AfterValidator(lambda url: url)]
NonEmpty = Annotated[str, Field(min_length=1)]


def _as_utc(value: object) -> object:
    """ISO-8601 with no zone means UTC (as Messente says); store as aware UTC."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError("must be an ISO-8601 date and time, e.g. 2026-06-22T09:05:07Z") from None
    if isinstance(value, datetime):
        try:
            return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        except OverflowError:  # 0001-01-01T00:00+01:00 or 9999-12-31T23:59-01:00: no such UTC time
            raise ValueError("is out of range: in UTC it falls before year 1 or after year 9999") from None
    return value


UtcDatetime = Annotated[datetime, BeforeValidator(_as_utc)]


def limits_of(info: ValidationInfo) -> LimitSettings:
    """The limits a validation runs under: ``context={"limits": ...}``, else the defaults."""
    context = info.context
    limits = context.get("limits") if isinstance(context, dict) else None
    return limits if isinstance(limits, LimitSettings) else DEFAULT_LIMITS


class StrictModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Fields with a limit of their own (a channel's text); every other string gets text.other_chars.
    _OWN_LIMIT: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _bounded_strings(self, info: ValidationInfo) -> Self:
        limit = limits_of(info).text.other_chars
        # __dict__ holds every field (extra is forbidden); iterating the model itself builds a
        # generator over it per message, a cost each campaign message paid on the worker.
        for name, value in self.__dict__.items():
            if isinstance(value, str) and name not in self._OWN_LIMIT and len(value) > limit:
                raise ValueError(f"{name} is longer than {limit} characters (SMSQ_LIMITS__TEXT__OTHER_CHARS)")
        return self


class ChannelModel(StrictModel):
    _OWN_LIMIT = frozenset({"text"})
    sender: Sender | None = None
    validity: int | None = Field(None, description="minutes before the next channel is tried")
    ttl: int | None = Field(None, description="seconds before the next channel is tried")

    @model_validator(mode="after")
    def _validity_xor_ttl(self) -> Self:
        if self.validity is not None and self.ttl is not None:
            raise ValueError("give either validity or ttl, not both")
        return self

    @field_validator("ttl")
    @classmethod
    def _ttl_in_range(cls, value: int | None, info: ValidationInfo) -> int | None:
        limits = limits_of(info)
        return _in_range(value, limits.ttl_min_seconds, limits.ttl_max_seconds, "seconds", "TTL")

    @field_validator("validity")
    @classmethod
    def _validity_in_range(cls, value: int | None, info: ValidationInfo) -> int | None:
        limits = limits_of(info)
        low, high = limits.validity_min_minutes, limits.validity_max_minutes
        return _in_range(value, low, high, "minutes", "VALIDITY")

    @field_validator("text", check_fields=False)
    @classmethod
    def _text_within_limits(cls, value: object, info: ValidationInfo) -> object:
        if isinstance(value, str):  # WhatsApp's text is an object, bounded by WhatsAppText
            check_text(str(cls.model_fields["channel"].default), value, limits_of(info))
        return value


def _in_range(value: int | None, low: int, high: int, unit: str, setting: str) -> int | None:
    if value is not None and not low <= value <= high:
        bound = "MIN" if value < low else "MAX"
        raise ValueError(f"must be {low}-{high} {unit} (SMSQ_LIMITS__{setting}_{bound}_{unit.upper()})")
    return value


_TEXT_LIMITS = {"sms": "sms_chars", "viber": "viber_chars", "whatsapp": "whatsapp_chars",
                "telegram": "telegram_chars"}  # fmt: skip


def check_text(channel: str, text: str, limits: LimitSettings) -> None:
    """A channel's text within its character limit (SMS parts: ``check_segments``)."""
    setting = _TEXT_LIMITS[channel]
    most = getattr(limits.text, setting)
    if len(text) > most:
        raise ValueError(
            f"is {len(text)} characters; {channel} takes at most {most} "
            f"(SMSQ_LIMITS__TEXT__{setting.upper()})"
        )


def check_segments(segments: Segments, most: int) -> None:
    """Refuse an SMS text of more parts than ``most``, naming the count and, when UCS-2 made it
    longer, the character that forced UCS-2 and where it is."""
    if segments.segments <= most:
        return
    why = f"{segments.characters} characters in {segments.encoding}"
    if segments.forced_by is not None:
        why += f", forced by {describe(segments.forced_by)} at position {segments.forced_at}"
    raise ValueError(
        f"takes {segments.segments} SMS parts ({why}); "
        f"at most {most} (SMSQ_LIMITS__TEXT__SMS_SEGMENTS, or max_segments for one message)"
    )


def auto_replace_of(info: ValidationInfo) -> Mapping[str, str] | None:
    """The account's autoconvert=on replacements (``SMSQ_COST__AUTO_REPLACE``) a validation runs with."""
    context = info.context
    table = context.get("auto_replace") if isinstance(context, dict) else None
    return table if isinstance(table, Mapping) else None
