"""The message contract: an omnimessage as Messente's Omnimessage API defines it (one recipient, a
chain of channels tried in order; the README's "The message contract" lists the rules).

These models validate everything a caller or a task payload hands smsq. Each rule names the field it
guards; ``smsq.producers.errors.InvalidInput`` turns pydantic's errors into one readable line each.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal

from pydantic import (
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.fields import (
    UDH_MAX_BYTES,
    VIBER_VIDEO_MAX_BYTES,
    VIBER_VIDEO_MAX_SECONDS,
    ChannelModel,
    NonEmpty,
    PhoneNumber,
    StrictModel,
    Url,
    UtcDatetime,
    auto_replace_of,
    check_segments,
    check_text,
    limits_of,
)
from smsq.producers.messages.segments import Segments, count

Priority = Literal["low", "regular", "high"]
TextStore = Literal["plaintext", "sha256", "nostore"]
ChannelName = Literal["sms", "viber", "whatsapp", "telegram"]


class Sms(ChannelModel):
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


class ViberVideo(StrictModel):
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


class Viber(ChannelModel):
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


class WhatsAppLanguage(StrictModel):
    code: NonEmpty
    policy: str | None = None


class WhatsAppCurrency(StrictModel):
    fallback_value: NonEmpty
    code: Annotated[str, Field(pattern=r"^[A-Z]{3}$")]
    amount_1000: NonEmpty


class WhatsAppDateTime(StrictModel):
    fallback_value: NonEmpty


class WhatsAppMedia(StrictModel):
    id: str | None = None
    link: Url | None = None
    caption: str | None = None
    filename: str | None = None

    @model_validator(mode="after")
    def _id_or_link(self) -> WhatsAppMedia:
        if (self.id is None) == (self.link is None):
            raise ValueError("give exactly one of id or link")
        return self


class WhatsAppParameter(StrictModel):
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


class WhatsAppComponent(StrictModel):
    type: NonEmpty
    sub_type: str | None = None
    index: int | None = Field(None, ge=0)
    parameters: list[WhatsAppParameter] = []


class WhatsAppTemplate(StrictModel):
    name: NonEmpty
    language: WhatsAppLanguage
    components: list[WhatsAppComponent] = []


class WhatsAppText(StrictModel):
    _OWN_LIMIT = frozenset({"body"})
    body: NonEmpty
    preview_url: bool = False

    @field_validator("body")
    @classmethod
    def _bounded_body(cls, value: str, info: ValidationInfo) -> str:
        check_text("whatsapp", value, limits_of(info))
        return value


_WHATSAPP_CONTENT = ("template", "text", "image", "video", "audio", "document", "sticker")


class WhatsApp(ChannelModel):
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


class Telegram(ChannelModel):
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


class Omnimessage(StrictModel):
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
