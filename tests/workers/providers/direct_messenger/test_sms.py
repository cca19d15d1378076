"""Direct Messenger send at the HTTP seam: exact form fields, dlruri, parsing, errors, delivery reports
(the blacklist is in test_direct_messenger_blacklist.py)."""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings
from smsq.producers.messages.models import parse_omnimessage
from smsq.workers.providers.base import OutboundMessage, Provider
from smsq.workers.providers.direct_messenger import sms as dm
from smsq.workers.providers.direct_messenger.sms import DirectMessengerClient
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError
from tests.support.fakes import Wire

BASE = "http://sandbox.test/dm"
MESSAGE_ID = "5d1f7a0e-4b8c-4a43-9e55-0c7f0e6a9b21"
SUCCESS = {"status": "Success", "description": "Your message was succesfully added to the queue"}


def make(wire: Wire, **options: Any) -> DirectMessengerClient:
    settings = DirectMessengerSettings(base_url=BASE, api_token=SecretStr("sandbox-token"))
    return DirectMessengerClient.from_settings(settings, transport=httpx.MockTransport(wire), **options)


def outbound(callback_url: str | None = None, **fields: Any) -> OutboundMessage:
    data: dict[str, Any] = {
        "to": "+37255555555",
        "messages": [{"channel": "sms", "text": "Tere %name%", "sender": "Bar"}],
    }
    data.update(fields)
    return OutboundMessage(MESSAGE_ID, parse_omnimessage(data), callback_url)


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.content.decode(), keep_blank_values=True))


# --- send ---------------------------------------------------------------------------------------


def test_send_posts_the_exact_form_to_the_base_url() -> None:
    wire = Wire(httpx.Response(200, json=SUCCESS))
    make(wire).send(outbound())
    assert (wire.last.method, str(wire.last.url)) == ("POST", f"{BASE}/")
    assert "Authorization" not in wire.last.headers  # sends authenticate with api_token in the form
    assert wire.last.headers["Accept"] == "application/json"
    assert form_of(wire.last) == {
        "api_token": "sandbox-token",
        "smstext": "Tere %name%",
        "receiver": "37255555555",
        "sender": "Bar",
    }


def test_client_satisfies_the_provider_protocol() -> None:
    client = make(Wire())
    assert isinstance(client, Provider)
    assert client.idempotent_send is False and client.name == "direct_messenger"


def test_dlruri_gets_the_placeholders_and_dlrid_is_the_smsq_id() -> None:
    wire = Wire(httpx.Response(200, json={**SUCCESS, "dlr_id": MESSAGE_ID}))
    result = make(wire).send(outbound("https://smsq.example/dlr/dm?k=1"))
    form = form_of(wire.last)
    assert (
        form["dlruri"]
        == "https://smsq.example/dlr/dm?k=1&id=%smsid%&dlr=%dlr%&receiver=%receiver%&time=%time%"
    )
    assert form["dlrid"] == MESSAGE_ID
    assert b"dlruri=https%3A%2F%2Fsmsq.example%2Fdlr%2Fdm%3Fk%3D1%26id%3D%25smsid%25" in wire.last.content
    assert result.provider_message_id == MESSAGE_ID


@pytest.mark.parametrize(
    ("callback", "expected"),
    [
        (
            "https://cb.example/dlr",
            "https://cb.example/dlr?id=%smsid%&dlr=%dlr%&receiver=%receiver%&time=%time%",
        ),
        (
            "https://cb.example/dlr?a=b",
            "https://cb.example/dlr?a=b&id=%smsid%&dlr=%dlr%&receiver=%receiver%&time=%time%",
        ),
        ("https://cb.example/dlr?s=%smsid%&d=%dlr%", "https://cb.example/dlr?s=%smsid%&d=%dlr%"),
    ],
)
def test_dlr_uri(callback: str, expected: str) -> None:
    assert dm.dlr_uri(callback) == expected


def test_no_callback_means_no_dlruri_nor_dlrid_and_the_smsq_id_stands_in() -> None:
    wire = Wire(httpx.Response(200, json=SUCCESS))
    result = make(wire).send(outbound())
    assert "dlruri" not in form_of(wire.last) and "dlrid" not in form_of(wire.last)
    assert result.provider_message_id == MESSAGE_ID
    assert result.parts[0].sender == "Bar"


def test_dlr_id_from_the_answer_is_the_provider_id() -> None:
    result = make(Wire(httpx.Response(200, json={**SUCCESS, "dlr_id": "6d775630-54b0"}))).send(
        outbound("https://cb.example/x")
    )
    assert result.provider_message_id == "6d775630-54b0"


def test_the_message_success_variant_is_accepted() -> None:
    body = {
        "message": "Success",
        "description": "Your message was succesfully added to the queue",
        "dlr_id": "158",
    }
    assert make(Wire(httpx.Response(200, json=body))).send(outbound()).provider_message_id == "158"


def test_a_warning_is_logged_not_raised(caplog: pytest.LogCaptureFixture) -> None:
    body = {**SUCCESS, "warning": "Balance low, please contact us!"}
    with caplog.at_level(logging.WARNING, logger="smsq.workers.providers.direct_messenger.sms"):
        result = make(Wire(httpx.Response(200, json=body))).send(outbound())
    assert result.provider == "direct_messenger"
    assert "Balance low" in caplog.text
    assert "sandbox-token" not in caplog.text and "37255555555" not in caplog.text


@pytest.mark.parametrize(
    ("timezone", "expected"),
    [("UTC", "2030-01-02 03:04:05"), ("Europe/Tallinn", "2030-01-02 05:04:05")],
)
def test_deliverytime_in_dm_format_only_when_scheduling_natively(timezone: str, expected: str) -> None:
    message = outbound(time_to_send="2030-01-02T03:04:05Z")
    wire = Wire(httpx.Response(200, json=SUCCESS), httpx.Response(200, json=SUCCESS))
    make(wire).send(message)
    assert "deliverytime" not in form_of(wire.last)
    make(wire, native_schedule=True, delivery_timezone=timezone).send(message)
    assert form_of(wire.last)["deliverytime"] == expected


@pytest.mark.parametrize(
    ("autoconvert", "default", "expected"),
    [(None, None, None), (None, 2, "2"), ("off", 2, "0"), ("on", None, "1"), ("full", 0, "2")],
)
def test_conversion_from_autoconvert_else_the_client_default(
    autoconvert: str | None, default: int | None, expected: str | None
) -> None:
    part: dict[str, Any] = {"channel": "sms", "text": "hi", "sender": "Bar"}
    if autoconvert:
        part["autoconvert"] = autoconvert
    wire = Wire(httpx.Response(200, json=SUCCESS))
    make(wire, conversion=default).send(outbound(messages=[part]))
    assert form_of(wire.last).get("conversion") == expected


def test_conversion_out_of_range_is_refused() -> None:
    with pytest.raises(ValueError, match="conversion"):
        make(Wire(), conversion=3)


def test_the_client_default_sender_is_used_when_the_part_has_none() -> None:
    wire = Wire(httpx.Response(200, json=SUCCESS))
    make(wire, sender="+37251000000").send(outbound(messages=[{"channel": "sms", "text": "hi"}]))
    assert form_of(wire.last)["sender"] == "+37251000000"


def test_a_message_without_an_sms_part_is_refused_before_any_request() -> None:
    wire = Wire()
    with pytest.raises(PermanentError) as caught:
        make(wire).send(outbound(messages=[{"channel": "viber", "text": "hi"}]))
    assert caught.value.code == "no_sms" and wire.requests == []


# One row per documented failure, plus the HTTP-status fallbacks.
SEND_FAILURES = [
    (
        422,
        {"message": "The given data was invalid.", "errors": {"dlruri": ["The dlruri format is invalid."]}},
        "dlruri",
        "The dlruri format is invalid.",
        "dlruri",
    ),
    (
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"receiver": ["The receiver field is required."]},
        },
        "receiver",
        "The receiver field is required.",
        "receiver",
    ),
    (
        422,
        {"message": "The given data was invalid.", "errors": {"smstext": ["The smstext field is required."]}},
        "smstext",
        "The smstext field is required.",
        "smstext",
    ),
    (
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"sender": ["The sender may not be greater than 11 characters."]},
        },
        "sender",
        "The sender may not be greater than 11 characters.",
        "sender",
    ),
    (
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"conversion": ["The selected conversion is invalid."]},
        },
        "conversion",
        "The selected conversion is invalid.",
        "conversion",
    ),
    (
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"deliverytime": ["The deliverytime does not match the format Y-m-d H:i:s."]},
        },
        "deliverytime",
        "The deliverytime does not match the format Y-m-d H:i:s.",
        "deliverytime",
    ),
    (
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"dlrid": ["The dlrid may only be used with dlruri."]},
        },
        "dlrid",
        "The dlrid may only be used with dlruri.",
        "dlrid",
    ),
    (
        422,
        {
            "message": "The given data was invalid.",
            "errors": {"api_token": ["The api token field is required."]},
        },
        "api_token",
        "The api token field is required.",
        "api_token",
    ),
    (
        200,
        {"message": "Problem with validating numbers", "error": "Invalid number"},
        "Invalid number",
        "Problem with validating numbers: Invalid number",
        None,
    ),
    (
        400,
        {"message": "Problem with validating numbers", "error": "Invalid number"},
        "Invalid number",
        "Problem with validating numbers: Invalid number",
        None,
    ),
    (401, {"message": "Unauthenticated."}, "401", "Unauthenticated.", None),
    (403, {"message": "Forbidden"}, "403", "Forbidden", None),
    (404, "Not Found", "404", "HTTP 404", None),
    (400, {"message": "Something else"}, "400", "Something else", None),
]


@pytest.mark.parametrize(("status", "body", "code", "detail", "field"), SEND_FAILURES)
def test_every_documented_failure_is_permanent_with_code_detail_and_field(
    status: int, body: Any, code: str, detail: str, field: str | None
) -> None:
    response = (
        httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    )
    with pytest.raises(PermanentError) as caught:
        make(Wire(response)).send(outbound())
    error = caught.value
    assert type(error) is PermanentError
    assert (error.provider, error.code, error.detail, error.field, error.status_code) == (
        "direct_messenger",
        code,
        detail,
        field,
        status,
    )


@pytest.mark.parametrize("code", sorted(dm.ERROR_CODES))
def test_every_table_row_is_permanent(code: str) -> None:
    # DM documents no transient refusal; 429 and 5xx are handled at the HTTP boundary.
    assert dm.ERROR_CODES[code] is PermanentError


def test_429_is_rate_limited_with_retry_after() -> None:
    with pytest.raises(RateLimited) as caught:
        make(Wire(httpx.Response(429, headers={"Retry-After": "3"}))).send(outbound())
    assert caught.value.retry_after == 3.0


def test_5xx_is_transient() -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(503))).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("503", True)


@pytest.mark.parametrize("body", [{}, {"status": "Queued"}])
def test_a_2xx_that_is_neither_success_nor_error_is_transient(body: dict[str, Any]) -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, json=body))).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("malformed", True)


def test_malformed_json_is_transient() -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, text="<html>"))).send(outbound())
    assert caught.value.code == "malformed"


def test_connection_failures_are_retried_briefly() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    wire = Wire(refuse, httpx.Response(200, json=SUCCESS))
    assert make(wire).send(outbound()).provider == "direct_messenger"
    assert len(wire.requests) == 2


def test_from_settings_needs_a_base_url() -> None:
    with pytest.raises(ValueError, match="base_url"):
        DirectMessengerClient.from_settings(DirectMessengerSettings(api_token=SecretStr("t")))


# --- delivery reports ---------------------------------------------------------------------------


@pytest.mark.parametrize(("dlr", "expected"), list(dm.DLR_STATUSES.items()))
def test_every_dlr_value_maps_to_an_smsq_status(dlr: str, expected: str | None) -> None:
    status = dm.parse_dlr(
        {"id": MESSAGE_ID, "dlr": dlr, "receiver": "37255555555", "time": "2030-01-02 03:04:05"}
    )
    assert (status.provider_message_id, status.status, status.timestamp) == (
        MESSAGE_ID,
        dlr,
        "2030-01-02 03:04:05",
    )
    assert dm.smsq_status(status.status) == expected


def test_an_unknown_dlr_value_is_in_progress() -> None:
    assert dm.smsq_status("99") is None and dm.smsq_status(None) is None
