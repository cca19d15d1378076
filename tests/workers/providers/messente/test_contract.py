"""Contract checks: what our Messente clients send, and the answers our tests feed them, parse with the
official SDK's models (messente-api 2.x), with no field the SDK does not know.

The SDK models keep unknown keys in ``additional_properties`` instead of refusing them, so parsing
alone would let a misspelt field through: every check also walks the parsed tree for such leftovers.
Where the SDK and Messente's own documents disagree, a strict xfail records it, so an SDK release
that closes the gap fails the test and the check can be tightened."""

from __future__ import annotations

import json
from typing import Any

import messente_api as sdk
import pytest
from pydantic import BaseModel

from smsq.workers.providers.messente import omnichannel as messente
from smsq.workers.providers.messente import phonebook
from smsq.workers.providers.messente.phonebook import Contact
from tests.workers.providers.messente import test_omnichannel as omni
from tests.workers.providers.messente import test_phonebook as pb

SDK_CHANNELS = ("sms", "viber", "viber_video", "whatsapp")
# The last SDK that had a Telegram model (1.x) knew these fields; 2.x has none (see below).
TELEGRAM_SDK_1_FIELDS = frozenset(
    {"sender", "validity", "text", "image_url", "document_url", "audio_url", "channel"}
)


def unknown_fields(model: Any, path: str = "$") -> list[str]:
    """Every key the SDK parsed into ``additional_properties`` anywhere in the tree."""
    found: list[str] = []
    if isinstance(model, list):
        for index, item in enumerate(model):
            found += unknown_fields(item, f"{path}[{index}]")
    elif isinstance(model, BaseModel):
        found += [f"{path}.{key}" for key in getattr(model, "additional_properties", None) or {}]
        for name in type(model).model_fields:
            if name != "additional_properties":
                found += unknown_fields(getattr(model, name, None), f"{path}.{name}")
    return found


def without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [without_none(item) for item in value]
    return value


def parse_strictly(model: type[Any], body: Any) -> Any:
    parsed = model.from_dict(body)
    assert parsed is not None
    assert unknown_fields(parsed) == []
    return parsed


def assert_request_body(model: type[Any], body: dict[str, Any]) -> None:
    """The SDK parses the body, knows every field, and writes the same JSON back."""
    parsed = parse_strictly(model, body)
    # to_dict() leaves enum members and some unset nested fields (None) in place: compare as JSON.
    assert without_none(json.loads(parsed.to_json())) == without_none(body)


# Requests: Omnichannel


@pytest.mark.parametrize("name", SDK_CHANNELS)
def test_send_body_per_channel(name: str) -> None:
    assert_request_body(sdk.Omnimessage, messente.send_body(omni.outbound(name)))


def test_send_body_with_dlr_url_and_native_schedule() -> None:
    message = omni.outbound("sms", time_to_send="2030-01-02T03:04:05Z", dlr_url="https://smsq.example.com/d")
    body = messente.send_body(message, native_schedule=True)
    parsed = parse_strictly(sdk.Omnimessage, body)
    assert parsed.time_to_send.isoformat() == "2030-01-02T03:04:05+00:00"
    assert (parsed.dlr_url, parsed.priority, parsed.text_store) == (
        "https://smsq.example.com/d",
        "high",
        "plaintext",
    )


@pytest.mark.parametrize(
    "content",
    [
        {"text": {"body": "Hi https://example.com/", "preview_url": True}},
        {"image": {"link": "https://cdn.example.com/a.png", "caption": "A"}},
        {"video": {"id": "media-1", "caption": "V"}},
        {"audio": {"link": "https://cdn.example.com/a.ogg"}},
        {"sticker": {"id": "sticker-1"}},
    ],
    ids=lambda content: next(iter(content)),
)
def test_whatsapp_free_form_bodies(content: dict[str, Any]) -> None:
    message = omni.outbound("sms", messages=[{"channel": "whatsapp", **content}])
    assert_request_body(sdk.Omnimessage, messente.send_body(message))


@pytest.mark.xfail(
    strict=True,
    reason="SDK WhatsAppDocument calls the field file_name; Messente's document (and smsq) say filename",
)
def test_whatsapp_document_filename() -> None:
    message = omni.outbound(
        "sms",
        messages=[
            {
                "channel": "whatsapp",
                "document": {"link": "https://cdn.example.com/r.pdf", "filename": "r.pdf"},
            }
        ],
    )
    parse_strictly(sdk.Omnimessage, messente.send_body(message))


def test_telegram_body() -> None:
    """messente-api 2.x has no Telegram model: check the envelope and the other channels with the SDK,
    and the Telegram part against the fields of the last SDK Telegram model."""
    body = messente.send_body(omni.outbound("telegram"))
    telegram = [part for part in body["messages"] if part["channel"] == "telegram"]
    others = [part for part in body["messages"] if part["channel"] != "telegram"]
    assert len(telegram) == 1
    assert set(telegram[0]) <= TELEGRAM_SDK_1_FIELDS
    assert_request_body(sdk.Omnimessage, {**body, "messages": others})


@pytest.mark.xfail(
    strict=True, reason="messente-api 2.x has no Telegram model (its anyOf is Viber/SMS/WhatsApp/Rcs)"
)
def test_telegram_body_with_the_sdk() -> None:
    sdk.Omnimessage.from_dict(messente.send_body(omni.outbound("telegram")))


@pytest.mark.parametrize("autoconvert", ["on", "off"])
@pytest.mark.xfail(
    strict=True, reason="SDK SMS.autoconvert allows full|true|false; Messente's document says on|full|off"
)
def test_sms_autoconvert_values_from_the_document(autoconvert: str) -> None:
    message = omni.outbound("sms", messages=[{"channel": "sms", "text": "x", "autoconvert": autoconvert}])
    parse_strictly(sdk.Omnimessage, messente.send_body(message))


def test_bulk_body() -> None:
    messages = [omni.outbound(name, f"m-{index}") for index, name in enumerate(SDK_CHANNELS)]
    assert_request_body(sdk.BulkOmnimessage, messente.bulk_body(messages))


# Requests: Phonebook


def test_blacklist_add_body() -> None:
    assert_request_body(sdk.NumberToBlacklist, phonebook.blacklist_add_body("37251000000"))


def test_group_create_and_rename_body() -> None:
    assert_request_body(sdk.GroupName, phonebook.group_name_body("Customers"))


def test_contact_create_body_with_every_field() -> None:
    contact = Contact(
        phone_number="+37251000000",
        email="ada@example.com",
        first_name="Ada",
        last_name="Lovelace",
        company="Analytical Engines",
        title="Countess",
        custom="1",
        custom2="2",
        custom3="3",
        custom4="4",
    )
    assert_request_body(sdk.ContactFields, phonebook.contact_to_wire(contact))


def test_contact_update_body_with_every_field() -> None:
    changes = {name: f"new {name}" for name in sorted(phonebook.UPDATABLE_CONTACT_FIELDS)}
    assert_request_body(sdk.ContactUpdateFields, phonebook.contact_update_body(changes))


def test_contact_update_body_clearing_a_field() -> None:
    parsed = parse_strictly(sdk.ContactUpdateFields, phonebook.contact_update_body({"custom": None}))
    assert parsed.custom is None


# Responses our tests feed the clients

OMNICHANNEL_RESPONSES: list[tuple[str, type[Any], Any]] = [
    ("created", sdk.OmniMessageCreateSuccessResponse, omni.CREATED),
    ("created-two-channels", sdk.OmniMessageCreateSuccessResponse, omni.CREATED_TWO_CHANNELS),
    ("bulk-created", sdk.BulkOmniMessageCreateSuccessResponse, omni.BULK_CREATED),
    *(
        (f"error-{code}", sdk.ErrorOmnichannel, omni.error_body(code, source="payload[to]"))
        for code in sorted(omni.ERROR_TITLES)
    ),
    *(
        (f"status-{status}", sdk.DeliveryReportResponse, omni.status_body(omni.delivery_result(status)))
        for status, _ in omni.DELIVERY_STATUSES
    ),
    (
        "status-chain",
        sdk.DeliveryReportResponse,
        omni.status_body(
            omni.delivery_result("FAILED", channel="viber", err=9, error="Unroutable"),
            omni.delivery_result("ACK", err=999, error="General temporary error"),
        ),
    ),
]
PHONEBOOK_RESPONSES: list[tuple[str, type[Any], Any]] = [
    ("blacklist", sdk.FetchBlacklistSuccess, pb.BLACKLIST),
    ("group", sdk.GroupEnvelope, pb.GROUP_ENVELOPE),
    ("group-renamed", sdk.GroupEnvelope, pb.RENAMED_GROUP_ENVELOPE),
    ("groups", sdk.GroupListEnvelope, pb.GROUP_LIST),
    ("contact", sdk.ContactEnvelope, pb.CONTACT_ENVELOPE),
    ("contact-updated", sdk.ContactEnvelope, pb.UPDATED_CONTACT_ENVELOPE),
    ("contacts", sdk.ContactListEnvelope, pb.CONTACT_LIST),
    *((f"error-{code}", sdk.ErrorPhonebook, pb.error_body(code)) for code in sorted(pb.ERROR_TITLES)),
]


@pytest.mark.parametrize(
    ("model", "body"),
    [row[1:] for row in OMNICHANNEL_RESPONSES + PHONEBOOK_RESPONSES],
    ids=[row[0] for row in OMNICHANNEL_RESPONSES + PHONEBOOK_RESPONSES],
)
def test_canned_response_parses_with_the_sdk(model: type[Any], body: Any) -> None:
    parse_strictly(model, body)


def test_bulk_entries_are_told_apart_as_the_sdk_does() -> None:
    parsed = parse_strictly(sdk.BulkOmniMessageCreateSuccessResponse, omni.BULK_CREATED)
    kinds = [type(entry.actual_instance) for entry in parsed.messages]
    assert kinds == [
        sdk.OmniMessageCreateSuccessResponse,
        sdk.ErrorOmnichannel,
        sdk.OmniMessageCreateSuccessResponse,
    ]


def test_every_documented_error_code_is_in_the_sdk_and_in_our_tables() -> None:
    assert {code.value for code in sdk.ErrorCodeOmnichannel} == set(messente.ERROR_CODES)
    assert {code.value for code in sdk.ErrorCodePhonebook} == set(phonebook.ERROR_CODES)
    assert {status.value for status in sdk.Status} == messente.KNOWN_STATUSES


def test_undocumented_status_is_beyond_the_sdk_but_not_beyond_our_client() -> None:
    body = omni.status_body(omni.delivery_result(omni.UNDOCUMENTED_STATUS, err=None))
    with pytest.raises(ValueError):
        sdk.DeliveryReportResponse.from_dict(body)
    assert messente.channel_status(body["statuses"][0]).status == omni.UNDOCUMENTED_STATUS


def test_unknown_fields_are_found_at_any_depth() -> None:
    body = {
        "to": "+37251000000",
        "dlrurl": "https://x.example.com/",
        "messages": [
            {
                "channel": "viber",
                "video": {"url": "u", "thumbnail": "t", "file_size": 1, "duration": 1, "x": 1},
            }
        ],
    }
    parsed = sdk.Omnimessage.from_dict(body)
    assert unknown_fields(parsed) == ["$.dlrurl", "$.messages[0].actual_instance.video.x"]
