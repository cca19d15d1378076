"""Messente Omnichannel client at the HTTP seam: request shapes, response parsing, the error table.

The canned answers here are also checked against the official SDK (test_messente_contract.py)."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import MessenteSettings, Timeouts
from smsq.producers.messages.models import Omnimessage
from smsq.workers.providers.base import OutboundMessage, Provider, SendResult, SentPart
from smsq.workers.providers.errors import PermanentError, ProviderError, TransientError
from smsq.workers.providers.messente import omnichannel as messente
from smsq.workers.providers.messente.omnichannel import MessenteClient
from tests.support.fakes import Wire

BASE_URL = "https://api.messente.test/v1"
AUTH_HEADER = "Basic " + base64.b64encode(b"api-user:api-pass").decode()
TO = "+37251000000"
TO_2 = "+37251000001"
OMNIMESSAGE_ID = "7a1c4f2e-8b0d-4e7a-9f53-2d1c6b8e4a10"
MESSAGE_ID = "c3b0a7e4-1d2f-4a5b-8c6d-9e0f1a2b3c4d"
MESSAGE_ID_2 = "d4c1b8f5-2e3a-4b6c-9d7e-0f1a2b3c4d5e"
TIMESTAMP = "2024-05-01T10:00:00.123456Z"

# One omnimessage per channel, as producers hand them over (shared with the contract checks).
CHANNEL_MESSAGES: dict[str, dict[str, Any]] = {
    "sms": {
        "to": TO,
        "messages": [{"channel": "sms", "text": "Your code is 1234", "sender": "smsq", "validity": 5}],
        "priority": "high",
    },
    "viber": {
        "to": TO,
        "messages": [
            {
                "channel": "viber",
                "text": "Sale!",
                "image_url": "https://cdn.example.com/sale.png",
                "button_url": "https://shop.example.com/",
                "button_text": "Shop",
                "ttl": 3600,
            },
            {"channel": "sms", "text": "Sale! https://shop.example.com/", "autoconvert": "full"},
        ],
        "dlr_url": "https://smsq.example.com/dlr/messente",
        "text_store": "sha256",
    },
    "viber_video": {
        "to": TO,
        "messages": [
            {
                "channel": "viber",
                "text": "Watch",
                "button_text": "Play",
                "video": {
                    "url": "https://cdn.example.com/v.mp4",
                    "thumbnail": "https://cdn.example.com/v.jpg",
                    "file_size": 10_000_000,
                    "duration": 120,
                },
            }
        ],
    },
    "whatsapp": {
        "to": TO,
        "messages": [
            {
                "channel": "whatsapp",
                "sender": "smsq",
                "template": {
                    "name": "order_update",
                    "language": {"code": "en", "policy": "deterministic"},
                    "components": [
                        {
                            "type": "body",
                            "parameters": [
                                {"type": "text", "text": "Ada"},
                                {
                                    "type": "currency",
                                    "currency": {
                                        "fallback_value": "EUR 9.99",
                                        "code": "EUR",
                                        "amount_1000": "9990",
                                    },
                                },
                                {"type": "date_time", "date_time": {"fallback_value": "May 1"}},
                            ],
                        },
                        {
                            "type": "header",
                            "parameters": [
                                {"type": "image", "image": {"link": "https://cdn.example.com/h.png"}}
                            ],
                        },
                    ],
                },
            }
        ],
        "priority": "low",
    },
    "telegram": {
        "to": TO,
        "messages": [
            {"channel": "telegram", "text": "Your receipt", "document_url": "https://cdn.example.com/r.pdf"},
            {"channel": "sms", "text": "Your receipt: https://cdn.example.com/r.pdf"},
        ],
    },
}

# Canned answers (each parses with the SDK; see the contract checks).
ERROR_TITLES = {
    "101": "Not found",
    "102": "Forbidden",
    "103": "Unauthorized",
    "104": "Internal Server Error",
    "105": "Invalid data",
    "106": "Missing data",
    "107": "Method not allowed",
}
# code -> the HTTP status Messente answers it with.
ERROR_STATUSES = {"101": 404, "102": 403, "103": 401, "104": 500, "105": 400, "106": 400, "107": 405}
EXPECTED_KIND = {
    "101": PermanentError,
    "102": PermanentError,
    "103": PermanentError,
    "104": TransientError,
    "105": PermanentError,
    "106": PermanentError,
    "107": PermanentError,
}


def error_body(code: str, detail: str = "something is wrong", source: str | None = None) -> dict[str, Any]:
    return {"errors": [{"title": ERROR_TITLES[code], "detail": detail, "code": code, "source": source}]}


CREATED = {
    "messages": [{"message_id": MESSAGE_ID, "channel": "sms", "sender": "smsq"}],
    "to": TO,
    "omnimessage_id": OMNIMESSAGE_ID,
}
CREATED_TWO_CHANNELS = {
    "messages": [
        {"message_id": MESSAGE_ID, "channel": "viber", "sender": "smsq"},
        {"message_id": MESSAGE_ID_2, "channel": "sms", "sender": "smsq"},
    ],
    "to": TO_2,
    "omnimessage_id": "0b9e8d7c-6f5a-4e3d-8c2b-1a0f9e8d7c6b",
}
BULK_CREATED = {
    "messages": [
        CREATED,
        error_body("105", "Invalid phone number", source="payload[to]"),
        CREATED_TWO_CHANNELS,
    ]
}
CANCELLED: dict[str, Any] = {}


def delivery_result(status: str | None, **overrides: Any) -> dict[str, Any]:
    result: dict[str, Any] = {
        "status": status,
        "channel": "sms",
        "message_id": MESSAGE_ID,
        "error": None,
        "err": None if status is None else 0,
        "timestamp": TIMESTAMP,
        "sender": "smsq",
    }
    if status is not None:
        result["price_info"] = {"part_price": "0.0500", "parts_count": 1, "total_price": "0.0500"}
    return {**result, **overrides}


def status_body(*results: dict[str, Any]) -> dict[str, Any]:
    return {"statuses": list(results), "to": TO, "omnimessage_id": OMNIMESSAGE_ID}


# One row per DeliveryResult status: (status, final?)
DELIVERY_STATUSES: list[tuple[str | None, bool]] = [
    ("ACK", False),
    ("DELIVRD", True),
    ("UNDELIV", True),
    ("FAILED", True),
    ("UNKNOWN", False),
    ("ACCEPTD", False),
    ("REJECTD", True),
    ("DELETED", True),
    ("EXPIRED", True),
    ("NACK", False),
    ("SEEN", True),
    (None, False),
]
UNDOCUMENTED_STATUS = "QUEUED_AT_OPERATOR"


# The HTTP seam


class FakeMessente(Wire):
    """Messente at the HTTP seam; the last reply repeats (the client retries a failed connect)."""

    repeat_last = True


def answer(status: int, body: Any = None, **kwargs: Any) -> httpx.Response:
    return (
        httpx.Response(status, json=body, **kwargs) if body is not None else httpx.Response(status, **kwargs)
    )


def settings() -> MessenteSettings:
    return MessenteSettings(
        base_url=BASE_URL,
        username=SecretStr("api-user"),
        password=SecretStr("api-pass"),
        timeouts=Timeouts(connect=1.5, read=4.0, write=4.0, pool=2.0),
    )


def client_for(fake: FakeMessente, *, native_schedule: bool = False) -> MessenteClient:
    transport = httpx.MockTransport(fake)
    return MessenteClient.from_settings(settings(), transport=transport, native_schedule=native_schedule)


def outbound(name: str = "sms", message_id: str = "m-1", **changes: Any) -> OutboundMessage:
    return OutboundMessage(
        message_id=message_id, omnimessage=Omnimessage.model_validate({**CHANNEL_MESSAGES[name], **changes})
    )


# Send


def test_send_posts_the_omnimessage_with_basic_auth() -> None:
    fake = FakeMessente(answer(201, CREATED))
    result = client_for(fake).send(outbound("sms"))

    request = fake.last
    assert (request.method, str(request.url)) == ("POST", f"{BASE_URL}/omnimessage")
    assert request.headers["Authorization"] == AUTH_HEADER
    assert request.headers["Content-Type"] == "application/json"
    assert fake.last_json() == {
        "to": TO,
        "messages": [{"channel": "sms", "text": "Your code is 1234", "sender": "smsq", "validity": 5}],
        "text_store": "plaintext",
        "priority": "high",
    }
    assert result == SendResult(
        provider="messente",
        provider_message_id=OMNIMESSAGE_ID,
        parts=(SentPart(channel="sms", provider_message_id=MESSAGE_ID, sender="smsq"),),
    )


@pytest.mark.parametrize("name", sorted(CHANNEL_MESSAGES))
def test_send_body_keeps_every_channel_field(name: str) -> None:
    body = messente.send_body(outbound(name))
    expected = {"text_store": "plaintext", "priority": "regular", **CHANNEL_MESSAGES[name]}
    assert body == expected


def test_callback_url_becomes_dlr_url() -> None:
    message = OutboundMessage(
        "m-1", outbound("sms").omnimessage, callback_url="https://smsq.example.com/dlr/1"
    )
    assert messente.send_body(message)["dlr_url"] == "https://smsq.example.com/dlr/1"


def test_time_to_send_is_passed_on_only_for_native_scheduling() -> None:
    message = outbound("sms", time_to_send="2030-01-02T03:04:05Z")
    assert "time_to_send" not in messente.send_body(message)
    fake = FakeMessente(answer(201, CREATED))
    client_for(fake, native_schedule=True).send(message)
    assert fake.last_json()["time_to_send"] == "2030-01-02T03:04:05Z"


def test_client_uses_the_configured_timeouts_and_satisfies_the_provider_protocol() -> None:
    client = client_for(FakeMessente(answer(201, CREATED)))
    assert client.http.timeout == httpx.Timeout(connect=1.5, read=4.0, write=4.0, pool=2.0)
    assert isinstance(client, Provider)


@pytest.mark.parametrize("code", sorted(ERROR_TITLES))
def test_send_error_codes(code: str) -> None:
    status = ERROR_STATUSES[code]
    fake = FakeMessente(answer(status, error_body(code, "bad sender", source="payload[messages][0][sender]")))
    with pytest.raises(ProviderError) as caught:
        client_for(fake).send(outbound())
    assert type(caught.value) is EXPECTED_KIND[code]
    assert caught.value.status_code == status
    if status < 500:  # 5xx is turned into TransientError by the HTTP layer before the body is read
        assert (caught.value.code, caught.value.detail) == (code, "bad sender")
        assert caught.value.field == "payload[messages][0][sender]"


@pytest.mark.parametrize("code", sorted(ERROR_TITLES))
def test_error_table_row(code: str) -> None:
    error = messente.error_from(answer(ERROR_STATUSES[code], error_body(code)))
    assert type(error) is EXPECTED_KIND[code]
    assert error.code == code
    assert messente.ERROR_CODES[code] is EXPECTED_KIND[code]


def test_error_without_a_body_keeps_the_http_status() -> None:
    error = messente.error_from(httpx.Response(403, text="<html>denied</html>"))
    assert (type(error), error.code, error.detail) == (PermanentError, "403", "<html>denied</html>")


def test_unknown_error_code_follows_the_http_status() -> None:
    unknown = {"errors": [{"title": "New", "detail": "new", "code": "199", "source": None}]}
    assert type(messente.error_from(answer(400, unknown))) is PermanentError
    assert type(messente.error_from(answer(503, unknown))) is TransientError
