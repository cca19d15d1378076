"""Messente Omnichannel request validation: the 105/106 errors with the offending field as `source`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

E164 = re.compile(r"^\+[1-9]\d{6,14}$")
HEX = re.compile(r"^(?:[0-9a-fA-F]{2})+$")
CHANNELS = ("sms", "viber", "whatsapp", "telegram", "rcs")
# The document says on|full|off; the official SDK sends full|true|false. Both are accepted.
AUTOCONVERT = ("on", "full", "off", "true", "false")
TEXT_STORE = ("plaintext", "sha256", "nostore")
PRIORITIES = ("low", "regular", "high")
VIBER_VIDEO_MAX_BYTES = 200 * 1024 * 1024
VIBER_VIDEO_MAX_SECONDS = 600
# The field sets a Viber message may carry (template and carousel messages are checked apart).
VIBER_COMBINATIONS = (
    frozenset({"image_url"}),
    frozenset({"text"}),
    frozenset({"text", "button_text", "button_url"}),
    frozenset({"text", "image_url", "button_text", "button_url"}),
    frozenset({"video"}),
    frozenset({"video", "text"}),
    frozenset({"video", "text", "button_text"}),
    frozenset({"video", "text", "button_text", "button_url"}),
)
VIBER_CONTENT_FIELDS = frozenset({"text", "image_url", "button_text", "button_url", "video"})
WHATSAPP_CONTENT_FIELDS = ("template", "text", "image", "video", "audio", "document", "sticker")
TELEGRAM_MEDIA_FIELDS = ("image_url", "document_url", "audio_url")


class InvalidOmnimessage(Exception):
    def __init__(self, code: str, detail: str, source: str | None) -> None:
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.source = source


@dataclass(frozen=True)
class ValidOmnimessage:
    to: str
    messages: list[dict[str, Any]]
    dlr_url: str | None
    time_to_send: datetime | None


def missing(source: str, detail: str | None = None) -> InvalidOmnimessage:
    return InvalidOmnimessage("106", detail or f"Missing required field: {source}", source)


def invalid(source: str | None, detail: str) -> InvalidOmnimessage:
    return InvalidOmnimessage("105", detail, source)


def validate_omnimessage(body: Any) -> ValidOmnimessage:
    if not isinstance(body, dict):
        raise invalid(None, "Request body must be a JSON object")
    to = body.get("to")
    if to is None or to == "":
        raise missing("to")
    if not isinstance(to, str) or not E164.match(to):
        raise invalid("to", "Phone number must be in E.164 format, e.g. +37251234567")
    messages = body.get("messages")
    if messages is None or messages == []:
        raise missing("messages", "At least one message is required")
    if not isinstance(messages, list):
        raise invalid("messages", "messages must be an array")
    for index, message in enumerate(messages):
        _validate_message(message, f"messages[{index}]")
    dlr_url = body.get("dlr_url")
    if dlr_url is not None and not _is_url(dlr_url):
        raise invalid("dlr_url", "dlr_url must be an http(s) URL")
    if body.get("text_store") is not None and body["text_store"] not in TEXT_STORE:
        raise invalid("text_store", f"text_store must be one of {', '.join(TEXT_STORE)}")
    if body.get("priority") is not None and body["priority"] not in PRIORITIES:
        raise invalid("priority", f"priority must be one of {', '.join(PRIORITIES)}")
    return ValidOmnimessage(
        to=to, messages=messages, dlr_url=dlr_url, time_to_send=_time_to_send(body.get("time_to_send"))
    )


def _validate_message(message: Any, source: str) -> None:
    if not isinstance(message, dict):
        raise invalid(source, "Each message must be a JSON object")
    channel = message.get("channel")
    if channel is None:
        raise missing(f"{source}.channel")
    if channel not in CHANNELS:
        raise invalid(f"{source}.channel", f"channel must be one of {', '.join(CHANNELS)}")
    _validate_common(message, source)
    CHANNEL_VALIDATORS[channel](message, source)


def _validate_common(message: dict[str, Any], source: str) -> None:
    sender = message.get("sender")
    if sender is not None and (not isinstance(sender, str) or not sender.strip()):
        raise invalid(f"{source}.sender", "sender must be a non-empty string")
    for name in ("validity", "ttl"):
        value = message.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value <= 0):
            raise invalid(f"{source}.{name}", f"{name} must be a positive integer")
    if message.get("validity") is not None and message.get("ttl") is not None:
        raise invalid(f"{source}.ttl", 'Only one of "ttl" and "validity" can be used')


def _validate_sms(message: dict[str, Any], source: str) -> None:
    text = message.get("text")
    if text is None or text == "":
        raise missing(f"{source}.text")
    if not isinstance(text, str):
        raise invalid(f"{source}.text", "text must be a string")
    autoconvert = message.get("autoconvert")
    if autoconvert is not None and autoconvert not in AUTOCONVERT:
        raise invalid(f"{source}.autoconvert", f"autoconvert must be one of {', '.join(AUTOCONVERT)}")
    udh = message.get("udh")
    if udh is not None and (not isinstance(udh, str) or not HEX.match(udh)):
        raise invalid(f"{source}.udh", "udh must be a hex-encoded string")


def _validate_viber(message: dict[str, Any], source: str) -> None:
    present = frozenset(name for name in VIBER_CONTENT_FIELDS if message.get(name) not in (None, ""))
    if message.get("template") is not None:
        return
    if message.get("carousel") is not None:
        if "text" not in present:
            raise missing(f"{source}.text", "A Viber carousel needs text")
        return
    if not present:
        raise missing(f"{source}.text", "A Viber message needs text, image_url or video")
    if present not in VIBER_COMBINATIONS:
        raise invalid(source, f"Invalid combination of Viber fields: {', '.join(sorted(present))}")
    if "video" in present:
        _validate_viber_video(message["video"], f"{source}.video")


def _validate_viber_video(video: Any, source: str) -> None:
    if not isinstance(video, dict):
        raise invalid(source, "video must be an object")
    for name in ("url", "thumbnail", "file_size", "duration"):
        if video.get(name) in (None, ""):
            raise missing(f"{source}.{name}")
    if not isinstance(video["file_size"], int) or not 0 < video["file_size"] <= VIBER_VIDEO_MAX_BYTES:
        raise invalid(f"{source}.file_size", "Video file cannot be larger than 200MB")
    if not isinstance(video["duration"], int) or not 0 < video["duration"] <= VIBER_VIDEO_MAX_SECONDS:
        raise invalid(f"{source}.duration", "Video cannot be longer than 600 seconds")


def _validate_whatsapp(message: dict[str, Any], source: str) -> None:
    present = [name for name in WHATSAPP_CONTENT_FIELDS if message.get(name) is not None]
    if not present:
        raise missing(f"{source}.template", "A WhatsApp message needs a template or one content object")
    if len(present) > 1:
        raise invalid(source, f"Only one WhatsApp content can be given, got: {', '.join(present)}")
    content = message[present[0]]
    if not isinstance(content, dict):
        raise invalid(f"{source}.{present[0]}", f"{present[0]} must be an object")
    if present[0] == "template":
        _validate_whatsapp_template(content, f"{source}.template")
    elif present[0] == "text" and not isinstance(content.get("body"), str):
        raise missing(f"{source}.text.body")


def _validate_whatsapp_template(template: dict[str, Any], source: str) -> None:
    if not isinstance(template.get("name"), str) or not template["name"]:
        raise missing(f"{source}.name")
    language = template.get("language")
    if not isinstance(language, dict) or not isinstance(language.get("code"), str):
        raise missing(f"{source}.language.code")
    components = template.get("components")
    if components is None:
        return
    if not isinstance(components, list):
        raise invalid(f"{source}.components", "components must be an array")
    for index, component in enumerate(components):
        if not isinstance(component, dict) or not isinstance(component.get("type"), str):
            raise missing(f"{source}.components[{index}].type")


def _validate_telegram(message: dict[str, Any], source: str) -> None:
    media = [name for name in TELEGRAM_MEDIA_FIELDS if message.get(name) not in (None, "")]
    if len(media) > 1:
        raise invalid(source, f"Only one of {', '.join(TELEGRAM_MEDIA_FIELDS)} can be given")
    if not media and message.get("text") in (None, ""):
        raise missing(f"{source}.text", "A Telegram message needs text or one media URL")


def _validate_rcs(message: dict[str, Any], source: str) -> None:
    if not any(message.get(name) for name in ("text", "rich_card")):
        raise missing(f"{source}.text", "An RCS message needs text or a rich_card")


CHANNEL_VALIDATORS = {
    "sms": _validate_sms,
    "viber": _validate_viber,
    "whatsapp": _validate_whatsapp,
    "telegram": _validate_telegram,
    "rcs": _validate_rcs,
}


def _time_to_send(value: Any) -> datetime | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise invalid("time_to_send", "time_to_send must be an ISO-8601 string")
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise invalid("time_to_send", "time_to_send must be in ISO-8601 format") from error
    # The API reads a time without a zone as UTC.
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


def _is_url(value: Any) -> bool:
    return isinstance(value, str) and re.match(r"^https?://[^\s/]+", value) is not None
