"""The message contract: an omnimessage as Messente's Omnimessage API defines it (one recipient, a
chain of channels tried in order; the README's "The message contract" lists the rules).

These models validate everything a caller or a task payload hands smsq. Each rule names the field it
guards; ``smsq.producers.errors.InvalidInput`` turns pydantic's errors into one readable line each.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.numbers import to_e164
from smsq.producers.messages.segments import Segments, count, describe

Priority = Literal["low", "regular", "high"]
TextStore = Literal["plaintext", "sha256", "nostore"]
ChannelName = Literal["sms", "viber", "whatsapp", "telegram"]

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


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    # Fields with a limit of their own (a channel's text); every other string gets text.other_chars.
    _OWN_LIMIT: ClassVar[frozenset[str]] = frozenset()

    @model_validator(mode="after")
    def _bounded_strings(self, info: ValidationInfo) -> Self:
        limit = limits_of(info).text.other_chars
        for name, value in self:
            if isinstance(value, str) and name not in self._OWN_LIMIT and len(value) > limit:
                raise ValueError(f"{name} is longer than {limit} characters (SMSQ_LIMITS__TEXT__OTHER_CHARS)")
        return self


class _Channel(_Strict):
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


class Sms(_Channel):
    channel: Literal["sms"] = "sms"
    # Before text: its parts depend on them (validated in field order).
    autoconvert: Literal["on", "full", "off"] | None = None
    udh: Annotated[str, Field(pattern=r"^(?:[0-9A-Fa-f]{2})+$")] | None = None
    text: NonEmpty

    @field_validator("udh")
    @classmethod
    def _udh_leaves_room(cls, value: str | None) -> str | None:
        if value is not None and len(value) > 2 * UDH_MAX_BYTES:
            raise ValueError(
                f"is {len(value) // 2} bytes; at most {UDH_MAX_BYTES} leave room for text in a part"
            )
        return value

    @field_validator("text")
    @classmethod
    def _parts_within_limit(cls, value: str, info: ValidationInfo) -> str:
        parts = count(value, udh=info.data.get("udh"), autoconvert=info.data.get("autoconvert"),
                      auto_replace=auto_replace_of(info))  # fmt: skip
        check_segments(parts, limits_of(info).text.sms_segments)
        return value

    def segments(self, auto_replace: Mapping[str, str] | None = None) -> Segments:
        """Encoding and parts of this text as it will be sent (autoconvert and udh applied)."""
        return count(self.text, udh=self.udh, autoconvert=self.autoconvert, auto_replace=auto_replace)


class ViberVideo(_Strict):
    url: Url
    thumbnail: Url
    file_size: int = Field(gt=0, le=VIBER_VIDEO_MAX_BYTES)
    duration: int = Field(gt=0, le=VIBER_VIDEO_MAX_SECONDS)


# Messente's documented content combinations for Viber, by the set of fields present.
_VIBER_COMBINATIONS = {
    frozenset({"text"}),
    frozenset({"image_url"}),
    frozenset({"text", "button_url", "button_text"}),
    frozenset({"text", "image_url", "button_url", "button_text"}),
    frozenset({"video"}),
    frozenset({"video", "text"}),
    frozenset({"video", "text", "button_text"}),
    frozenset({"video", "text", "button_text", "button_url"}),
}


class Viber(_Channel):
    channel: Literal["viber"] = "viber"
    text: NonEmpty | None = None
    image_url: Url | None = None
    button_url: Url | None = None
    button_text: NonEmpty | None = None
    video: ViberVideo | None = None

    @model_validator(mode="after")
    def _valid_combination(self) -> Viber:
        present = frozenset(
            name
            for name in ("text", "image_url", "button_url", "button_text", "video")
            if getattr(self, name) is not None
        )
        if present not in _VIBER_COMBINATIONS:
            given = ", ".join(sorted(present)) or "nothing"
            raise ValueError(
                f"viber content {given} is not a valid combination: use text; image_url; "
                "text+button_url+button_text (+image_url); or video (+text, +button_text, +button_url)"
            )
        return self


class WhatsAppLanguage(_Strict):
    code: NonEmpty
    policy: str | None = None


class WhatsAppCurrency(_Strict):
    fallback_value: NonEmpty
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    amount_1000: NonEmpty


class WhatsAppDateTime(_Strict):
    fallback_value: NonEmpty


class WhatsAppMedia(_Strict):
    id: str | None = None
    link: Url | None = None
    caption: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _id_or_link(self) -> WhatsAppMedia:
        if (self.id is None) == (self.link is None):
            raise ValueError("give exactly one of id or link")
        return self


class WhatsAppParameter(_Strict):
    type: Literal["text", "currency", "date_time", "image", "document", "video"]
    text: str | None = None
    currency: WhatsAppCurrency | None = None
    date_time: WhatsAppDateTime | None = None
    image: WhatsAppMedia | None = None
    document: WhatsAppMedia | None = None
    video: WhatsAppMedia | None = None

    @model_validator(mode="after")
    def _value_matches_type(self) -> WhatsAppParameter:
        if getattr(self, self.type) is None:
            raise ValueError(f"a parameter of type {self.type!r} needs a {self.type!r} value")
        return self


class WhatsAppComponent(_Strict):
    type: NonEmpty
    sub_type: str | None = None
    index: int | None = Field(None, ge=0)
    parameters: list[WhatsAppParameter] = []


class WhatsAppTemplate(_Strict):
    name: NonEmpty
    language: WhatsAppLanguage
    components: list[WhatsAppComponent] = []


class WhatsAppText(_Strict):
    _OWN_LIMIT = frozenset({"body"})
    body: NonEmpty
    preview_url: bool = False

    @field_validator("body")
    @classmethod
    def _bounded_body(cls, value: str, info: ValidationInfo) -> str:
        check_text("whatsapp", value, limits_of(info))
        return value


_WHATSAPP_CONTENT = ("template", "text", "image", "video", "audio", "document", "sticker")


class WhatsApp(_Channel):
    channel: Literal["whatsapp"] = "whatsapp"
    template: WhatsAppTemplate | None = None
    text: WhatsAppText | None = None
    image: WhatsAppMedia | None = None
    video: WhatsAppMedia | None = None
    audio: WhatsAppMedia | None = None
    document: WhatsAppMedia | None = None
    sticker: WhatsAppMedia | None = None

    @model_validator(mode="after")
    def _exactly_one_content(self) -> WhatsApp:
        present = [name for name in _WHATSAPP_CONTENT if getattr(self, name) is not None]
        if len(present) != 1:
            raise ValueError(f"give exactly one of {', '.join(_WHATSAPP_CONTENT)} (got {len(present)})")
        return self


class Telegram(_Channel):
    channel: Literal["telegram"] = "telegram"
    text: NonEmpty | None = None
    image_url: Url | None = None
    document_url: Url | None = None
    audio_url: Url | None = None

    @model_validator(mode="after")
    def _content(self) -> Telegram:
        media = [name for name in ("image_url", "document_url", "audio_url") if getattr(self, name)]
        if len(media) > 1:
            raise ValueError("give at most one of image_url, document_url, audio_url")
        if not media and self.text is None:
            raise ValueError("give text, or one of image_url, document_url, audio_url")
        return self


Channel = Annotated[Sms | Viber | WhatsApp | Telegram, Field(discriminator="channel")]


class Omnimessage(_Strict):
    """One message to one recipient, with an ordered chain of channels to try."""

    to: PhoneNumber
    messages: list[Channel] = Field(min_length=1, max_length=4)
    dlr_url: Url | None = None
    text_store: TextStore = "plaintext"
    time_to_send: UtcDatetime | None = None
    priority: Priority = "regular"

    @model_validator(mode="after")
    def _each_channel_once(self) -> Omnimessage:
        names = [part.channel for part in self.messages]
        if len(names) != len(set(names)):
            raise ValueError("messages: each channel may appear once in the chain")
        return self

    @property
    def channels(self) -> list[str]:
        return [part.channel for part in self.messages]

    @property
    def sms(self) -> Sms | None:
        """The SMS part of the chain (a channel appears at most once), if any."""
        return next((part for part in self.messages if isinstance(part, Sms)), None)

    def wire(self) -> dict[str, Any]:
        """The JSON-ready form (Messente's field names), without unset fields."""
        return self.model_dump(mode="json", exclude_none=True)


def parse_omnimessage(
    data: object, limits: LimitSettings = DEFAULT_LIMITS, auto_replace: Mapping[str, str] | None = None
) -> Omnimessage:
    """Validate untrusted input (a dict, or an Omnimessage) or raise InvalidInput naming each field.
    ``auto_replace``: the account's autoconvert=on replacements, for counting SMS parts."""
    if isinstance(data, Omnimessage):
        message = data
    else:
        try:
            context = {"limits": limits, "auto_replace": auto_replace}
            message = Omnimessage.model_validate(data, context=context)
        except ValidationError as error:
            raise InvalidInput.from_validation_error(error) from None
        except RecursionError:  # nested deeper than Python can follow: not an omnimessage
            raise InvalidInput([("(message)", "is nested too deeply")]) from None
    size = len(message.model_dump_json(exclude_none=True))
    if size > limits.message_bytes:
        most = limits.message_bytes
        raise InvalidInput(
            [("(message)", f"is {size} bytes as JSON; at most {most} (SMSQ_LIMITS__MESSAGE_BYTES)")]
        )
    return message
