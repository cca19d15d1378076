from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import VIBER_VIDEO_MAX_BYTES, parse_omnimessage
from smsq.producers.messages.numbers import to_e164

TO = "+37251234567"
VIDEO = {
    "url": "https://v.example/v.mp4",
    "thumbnail": "https://v.example/t.jpg",
    "file_size": 1000,
    "duration": 10,
}
TEMPLATE = {"name": "otp", "language": {"code": "en"}}


def message(*parts: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"to": TO, "messages": list(parts), **extra}


def problems(data: dict[str, Any]) -> list[tuple[str, str]]:
    with pytest.raises(InvalidInput) as caught:
        parse_omnimessage(data)
    return caught.value.problems


@pytest.mark.parametrize(
    ("written", "e164"),
    [
        ("+372 5123 4567", TO),
        ("0037251234567", TO),
        ("37251234567", TO),
        ("+1 (202) 555-0143", "+12025550143"),
    ],
)
def test_numbers_are_normalised_to_e164(written: str, e164: str) -> None:
    assert to_e164(written) == e164
    assert parse_omnimessage(message({"channel": "sms", "text": "hi"}, to=written)).to == e164


@pytest.mark.parametrize(
    "part",
    [
        {"channel": "sms", "text": "hi", "sender": "Acme", "ttl": 60, "autoconvert": "full", "udh": "0a0B"},
        {"channel": "viber", "text": "hi"},
        {"channel": "viber", "image_url": "https://i.example/a.png"},
        {"channel": "viber", "text": "t", "button_url": "https://b.example", "button_text": "Go"},
        {"channel": "viber", "text": "t", "image_url": "https://i.example/a.png", "button_url": "https://b.example",
         "button_text": "Go"},
        {"channel": "viber", "video": VIDEO, "text": "t", "button_text": "Watch"},
        {"channel": "whatsapp", "template": {**TEMPLATE, "components": [
            {"type": "body", "parameters": [{"type": "text", "text": "1234"},
                                            {"type": "currency", "currency": {"fallback_value": "$1", "code": "USD",
                                                                              "amount_1000": "1000"}}]}]}},
        {"channel": "whatsapp", "text": {"body": "hello"}},
        {"channel": "whatsapp", "image": {"link": "https://i.example/a.png", "caption": "c"}},
        {"channel": "telegram", "text": "hi"},
        {"channel": "telegram", "document_url": "https://d.example/a.pdf"},
    ],
)  # fmt: skip
def test_valid_channels_are_accepted(part: dict[str, Any]) -> None:
    parsed = parse_omnimessage(message(part))
    assert parsed.messages[0].channel == part["channel"]


def test_a_whole_chain_with_every_top_level_field() -> None:
    parsed = parse_omnimessage(
        message(
            {"channel": "sms", "text": "hi", "validity": 5},
            {"channel": "viber", "text": "hi"},
            dlr_url="https://dlr.example/report",
            text_store="sha256",
            time_to_send="2026-06-22T09:05",
            priority="high",
        )
    )
    assert parsed.channels == ["sms", "viber"]
    assert parsed.time_to_send == datetime(2026, 6, 22, 9, 5, tzinfo=UTC)
    assert parsed.wire()["dlr_url"] == "https://dlr.example/report"


@pytest.mark.parametrize(
    ("written", "utc"),
    [
        ("2026-06-22T09:05:07Z", datetime(2026, 6, 22, 9, 5, 7, tzinfo=UTC)),
        ("2026-06-22T09:05:07+00:00", datetime(2026, 6, 22, 9, 5, 7, tzinfo=UTC)),
        ("2026-06-22T12:05:07+03:00", datetime(2026, 6, 22, 9, 5, 7, tzinfo=UTC)),
        ("2026-06-22T09:05", datetime(2026, 6, 22, 9, 5, tzinfo=UTC)),  # no zone means UTC
    ],
)
def test_time_to_send_is_stored_as_aware_utc(written: str, utc: datetime) -> None:
    parsed = parse_omnimessage(message({"channel": "sms", "text": "x"}, time_to_send=written))
    assert parsed.time_to_send == utc
    assert parsed.time_to_send is not None and parsed.time_to_send.utcoffset() is not None


SMS = {"channel": "sms", "text": "x"}


@pytest.mark.parametrize(
    ("data", "field", "words"),
    [
        ({"messages": [SMS]}, "to", "Field required"),
        (message(SMS, to="+372123"), "to", "not a valid phone number"),
        (message(SMS, to="12"), "to", "not a phone number in international format"),
        (message(SMS, to="+372 abc"), "to", "phone number"),
        (message(SMS, to=None), "to", "phone number"),
        ({"to": TO}, "messages", "Field required"),
        (message(), "messages", "at least 1"),
        (message(SMS, SMS), "(message)", "each channel may appear once"),
        (message({"channel": "fax", "text": "x"}), "messages.0", "does not match"),
        (message({"text": "x"}), "messages.0", "discriminator"),
        (message({"channel": "sms"}), "messages.0.sms.text", "Field required"),
        (message({"channel": "sms", "text": ""}), "messages.0.sms.text", "at least 1"),
        (message({"channel": "sms", "text": "x", "ttl": 5, "validity": 5}), "messages.0.sms", "not both"),
        (message({"channel": "sms", "text": "x", "ttl": 0}), "messages.0.sms.ttl", "must be 1-259200 seconds"),
        (message({"channel": "sms", "text": "x", "sender": "WayTooLongSender"}), "messages.0.sms.sender", "11"),
        (message({"channel": "sms", "text": "x", "autoconvert": "maybe"}), "messages.0.sms.autoconvert", "on"),
        (message({"channel": "sms", "text": "x", "udh": "xyz"}), "messages.0.sms.udh", "pattern"),
        (message({"channel": "sms", "text": "x", "colour": "red"}), "messages.0.sms.colour", "Extra inputs"),
        (message({"channel": "viber"}), "messages.0.viber", "not a valid combination"),
        (message({"channel": "viber", "text": "t", "image_url": "https://i.example/a.png"}), "messages.0.viber",
         "not a valid combination"),
        (message({"channel": "viber", "text": "t", "button_url": "https://b.example"}), "messages.0.viber",
         "not a valid combination"),
        (message({"channel": "viber", "video": VIDEO, "image_url": "https://i.example/a.png"}), "messages.0.viber",
         "not a valid combination"),
        (message({"channel": "viber", "image_url": "not a url"}), "messages.0.viber.image_url", "URL"),
        (message({"channel": "viber", "video": {**VIDEO, "file_size": VIBER_VIDEO_MAX_BYTES + 1}}),
         "messages.0.viber.video.file_size", "less than or equal"),
        (message({"channel": "viber", "video": {**VIDEO, "duration": 601}}), "messages.0.viber.video.duration",
         "less than or equal to 600"),
        (message({"channel": "viber", "video": {"url": "https://v.example/v.mp4"}}),
         "messages.0.viber.video.thumbnail", "Field required"),
        (message({"channel": "whatsapp"}), "messages.0.whatsapp", "exactly one of"),
        (message({"channel": "whatsapp", "template": TEMPLATE, "text": {"body": "x"}}), "messages.0.whatsapp",
         "exactly one of"),
        (message({"channel": "whatsapp", "template": {"language": {"code": "en"}}}),
         "messages.0.whatsapp.template.name", "Field required"),
        (message({"channel": "whatsapp", "template": {"name": "t", "language": {}}}),
         "messages.0.whatsapp.template.language.code", "Field required"),
        (message({"channel": "whatsapp", "template": {**TEMPLATE, "components": [{"parameters": []}]}}),
         "messages.0.whatsapp.template.components.0.type", "Field required"),
        (message({"channel": "whatsapp", "template": {**TEMPLATE, "components": [
            {"type": "body", "parameters": [{"type": "currency"}]}]}}),
         "messages.0.whatsapp.template.components.0.parameters.0", "needs a 'currency' value"),
        (message({"channel": "whatsapp", "template": {**TEMPLATE, "components": [
            {"type": "body", "parameters": [{"type": "currency", "currency": {"fallback_value": "1", "code": "usd",
                                                                            "amount_1000": "1"}}]}]}}),
         "messages.0.whatsapp.template.components.0.parameters.0.currency.code", "pattern"),
        (message({"channel": "whatsapp", "image": {"caption": "c"}}), "messages.0.whatsapp.image",
         "exactly one of id or link"),
        (message({"channel": "telegram"}), "messages.0.telegram", "give text"),
        (message({"channel": "telegram", "image_url": "https://i.example/a", "audio_url": "https://a.example/a"}),
         "messages.0.telegram", "at most one"),
        (message(SMS, dlr_url="ftp://x"), "dlr_url", "URL scheme"),
        (message(SMS, text_store="maybe"), "text_store", "plaintext"),
        (message(SMS, priority="urgent"), "priority", "low"),
        (message(SMS, time_to_send="tomorrow"), "time_to_send", "ISO-8601"),
        (message(SMS, unexpected=1), "unexpected", "Extra inputs"),
    ],
)  # fmt: skip
def test_every_rule_names_the_field_it_guards(data: dict[str, Any], field: str, words: str) -> None:
    found = problems(data)
    assert any(name == field and words in text for name, text in found), found


def test_the_error_message_reads_as_one_line_per_field() -> None:
    with pytest.raises(InvalidInput) as caught:
        parse_omnimessage({"to": "+372123", "messages": [{"channel": "sms"}]})
    assert (
        str(caught.value) == "to: '+372123' is not a valid phone number; messages.0.sms.text: Field required"
    )


def test_input_that_is_not_an_object_is_refused() -> None:
    assert problems("not a dict")[0][0] == "(message)"  # type: ignore[arg-type]
