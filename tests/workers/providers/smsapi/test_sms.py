"""SMSAPI sms.do at the HTTP seam: exact requests, parsing and error translation (the Blacklist API
is in test_smsapi_blacklist.py)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import SmsapiSettings, Timeouts
from smsq.producers.messages.models import parse_omnimessage
from smsq.workers.providers.base import OutboundMessage, Provider
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError
from smsq.workers.providers.smsapi import sms as smsapi
from smsq.workers.providers.smsapi.sms import SmsapiClient
from tests.support.fakes import Wire

BASE = "http://sandbox.test/smsapi"
MESSAGE_ID = "0b9c4a56-3f0e-4c1e-9d7a-2f1f5b0c7e11"
SUCCESS = {
    "count": 1,
    "list": [
        {
            "id": "17006321",
            "points": 0.16,
            "number": "48500600700",
            "date_sent": 1700000000,
            "submitted_number": "48500600700",
            "status": "QUEUE",
            "error": None,
            "idx": MESSAGE_ID,
        }
    ],
}


def make(wire: Wire, **options: Any) -> SmsapiClient:
    settings = SmsapiSettings(base_url=BASE, token=SecretStr("sandbox-token"))
    return SmsapiClient.from_settings(settings, transport=httpx.MockTransport(wire), **options)


def outbound(callback_url: str | None = None, **fields: Any) -> OutboundMessage:
    data: dict[str, Any] = {
        "to": "+48500600700",
        "messages": [{"channel": "sms", "text": "Your code is 1234"}],
    }
    data.update(fields)
    return OutboundMessage(MESSAGE_ID, parse_omnimessage(data), callback_url)


def body_of(request: httpx.Request) -> Any:
    return json.loads(request.content)


# --- send ---------------------------------------------------------------------------------------


def test_send_posts_the_exact_json_body_with_bearer_auth() -> None:
    wire = Wire(httpx.Response(200, json=SUCCESS))
    make(wire).send(outbound("https://smsq.example/dlr/smsapi"))
    request = wire.last
    assert (request.method, str(request.url)) == ("POST", f"{BASE}/sms.do")
    assert request.headers["Authorization"] == "Bearer sandbox-token"
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert body_of(request) == {
        "to": "48500600700",
        "message": "Your code is 1234",
        "format": "json",
        "encoding": "utf-8",
        "idx": MESSAGE_ID,
        "check_idx": 1,
        "notify_url": "https://smsq.example/dlr/smsapi",
    }


def test_send_returns_the_smsapi_id() -> None:
    result = make(Wire(httpx.Response(200, json=SUCCESS))).send(outbound())
    assert result.provider == "smsapi"
    assert result.provider_message_id == "17006321"
    assert [(p.channel, p.provider_message_id) for p in result.parts] == [("sms", "17006321")]


def test_client_satisfies_the_provider_protocol() -> None:
    client = make(Wire())
    assert isinstance(client, Provider)
    assert client.idempotent_send is True and client.channels == frozenset({"sms"})


@pytest.mark.parametrize(
    ("part_sender", "default", "expected"),
    [(None, None, None), (None, "Shop", "Shop"), ("Bank", "Shop", "Bank")],
)
def test_from_is_the_part_sender_else_the_client_default(
    part_sender: str | None, default: str | None, expected: str | None
) -> None:
    part: dict[str, Any] = {"channel": "sms", "text": "hi"}
    if part_sender:
        part["sender"] = part_sender
    wire = Wire(httpx.Response(200, json=SUCCESS))
    result = make(wire, sender=default).send(outbound(messages=[part]))
    assert body_of(wire.last).get("from") == expected
    assert result.parts[0].sender == expected


def test_date_is_sent_only_when_scheduling_natively() -> None:
    wire = Wire(httpx.Response(200, json=SUCCESS), httpx.Response(200, json=SUCCESS))
    message = outbound(time_to_send="2030-01-02T03:04:05Z")
    make(wire).send(message)
    assert "date" not in body_of(wire.last)
    make(wire, native_schedule=True).send(message)
    assert body_of(wire.last)["date"] == "2030-01-02T03:04:05+00:00"
    assert body_of(wire.last)["date_validate"] == 1


@pytest.mark.parametrize(
    ("configured", "priority", "fast"),
    [(False, "high", False), (True, "high", True), (True, "regular", False), (True, "low", False)],
)
def test_fast_only_for_high_priority_and_only_when_configured(
    configured: bool, priority: str, fast: bool
) -> None:
    wire = Wire(httpx.Response(200, json=SUCCESS))
    make(wire, fast_for_high=configured).send(outbound(priority=priority))
    assert ("fast" in body_of(wire.last)) is fast
    if fast:
        assert body_of(wire.last)["fast"] == 1


def test_a_message_without_an_sms_part_is_refused_before_any_request() -> None:
    wire = Wire()
    message = outbound(messages=[{"channel": "telegram", "text": "hi"}])
    with pytest.raises(PermanentError) as caught:
        make(wire).send(message)
    assert caught.value.code == "no_sms"
    assert wire.requests == []


def test_a_repeated_idx_is_treated_as_already_sent() -> None:
    body = {
        "error": 53,
        "message": "Not unique idx parameter, message with the same idx has been already sent",
    }
    result = make(Wire(httpx.Response(200, json=body))).send(outbound())
    assert result.provider == "smsapi"
    assert result.provider_message_id == MESSAGE_ID  # idx: SMSAPI echoes it in callbacks
    assert result.duplicate is True
    assert result.parts == ()


def test_a_first_send_is_not_a_duplicate() -> None:
    assert make(Wire(httpx.Response(200, json=SUCCESS))).send(outbound()).duplicate is False


SEND_ERRORS = sorted((code for code in smsapi.ERROR_CODES if code != smsapi.ALREADY_SENT), key=int)


@pytest.mark.parametrize("code", SEND_ERRORS)
def test_every_send_error_code_in_a_200_body_is_an_error_of_its_kind(code: str) -> None:
    body = {"error": int(code), "message": f"refusal {code}"}
    with pytest.raises(smsapi.ERROR_CODES[code]) as caught:
        make(Wire(httpx.Response(200, json=body))).send(outbound())
    error = caught.value
    assert type(error) is smsapi.ERROR_CODES[code]
    assert (error.provider, error.code, error.status_code) == ("smsapi", code, 200)
    assert error.detail.startswith(f"refusal {code}")
    if isinstance(error, RateLimited):
        assert error.retry_after == smsapi.RETRY_AFTER[code]


@pytest.mark.parametrize(
    ("code", "kind"),
    [
        ("13", PermanentError),
        ("57", PermanentError),
        ("101", PermanentError),
        ("103", TransientError),
        ("201", TransientError),
        ("999", TransientError),
        ("52", RateLimited),
        ("203", RateLimited),
    ],
)
def test_key_codes_are_classified_as_documented(code: str, kind: type[Exception]) -> None:
    assert smsapi.ERROR_CODES[code] is kind


def test_an_unknown_error_code_is_permanent_and_keeps_its_code() -> None:
    body = {"error": 4242, "message": "something new"}
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(200, json=body))).send(outbound())
    assert (caught.value.code, caught.value.detail) == ("4242", "something new")


def test_invalid_numbers_are_named_in_the_detail() -> None:
    body = {
        "invalid_numbers": [
            {"number": "48500600700", "submitted_number": "48500600700", "message": "Invalid phone number"}
        ],
        "error": 13,
        "message": "No correct phone numbers",
    }
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(200, json=body))).send(outbound())
    assert caught.value.detail == "No correct phone numbers (48500600700: Invalid phone number)"
    assert caught.value.field == "to"


def test_internal_errors_may_have_sent() -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, json={"error": 999, "message": "internal"}))).send(outbound())
    assert caught.value.maybe_sent is True
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, json={"error": 103, "message": "no credits"}))).send(outbound())
    assert caught.value.maybe_sent is False


@pytest.mark.parametrize(
    ("status", "body", "code"),
    [
        (401, {"error": 101, "message": "Authorization failed"}, "101"),
        (
            401,
            {
                "message": "Authorization failed",
                "error": "authorization_failed",
                "developer_description": None,
                "errors": None,
            },
            "authorization_failed",
        ),
        (403, {"message": "Forbidden"}, "403"),
        (400, "not json", "400"),
    ],
)
def test_http_level_refusals_are_permanent(status: int, body: Any, code: str) -> None:
    response = (
        httpx.Response(status, json=body) if isinstance(body, dict) else httpx.Response(status, text=body)
    )
    with pytest.raises(PermanentError) as caught:
        make(Wire(response)).send(outbound())
    assert (caught.value.code, caught.value.status_code) == (code, status)


def test_429_is_rate_limited_with_retry_after() -> None:
    wire = Wire(httpx.Response(429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        make(wire).send(outbound())
    assert caught.value.retry_after == 7.0


def test_5xx_is_transient_and_may_have_sent() -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(502, text="bad gateway"))).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("502", True)
    assert not isinstance(caught.value, RateLimited)


def test_malformed_json_is_transient() -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, text="OK:123"))).send(outbound())
    assert caught.value.code == "malformed"


def test_a_200_without_a_list_is_transient_and_may_have_sent() -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, json={"count": 0, "list": []}))).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("malformed", True)


def test_connection_failures_are_retried_briefly_then_transient() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    wire = Wire(refuse, refuse, refuse)
    with pytest.raises(TransientError) as caught:
        make(wire).send(outbound())
    assert caught.value.code == "connect"
    assert len(wire.requests) == 3


def test_connection_failure_then_success_sends_once() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    wire = Wire(refuse, httpx.Response(200, json=SUCCESS))
    assert make(wire).send(outbound()).provider_message_id == "17006321"
    assert len(wire.requests) == 2


def test_read_timeout_is_not_retried_and_may_have_sent() -> None:
    def slow(request: httpx.Request) -> httpx.Response:
        raise httpx.ReadTimeout("slow", request=request)

    wire = Wire(slow)
    with pytest.raises(TransientError) as caught:
        make(wire).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent, len(wire.requests)) == ("timeout", True, 1)


def test_the_client_has_explicit_timeouts_from_settings() -> None:
    timeouts = Timeouts(connect=1.5, read=4.0, write=5.0, pool=2.0)
    settings = SmsapiSettings(base_url=BASE, token=SecretStr("t"), timeouts=timeouts)
    client = SmsapiClient.from_settings(settings, transport=httpx.MockTransport(Wire()))
    assert client.http.timeout == httpx.Timeout(connect=1.5, read=4.0, write=5.0, pool=2.0)


# --- cancel and status --------------------------------------------------------------------------


def test_cancel_posts_sch_del() -> None:
    wire = Wire(httpx.Response(200, json={"count": 1, "list": [{"id": "17006321"}]}))
    assert make(wire).cancel("17006321") is True
    assert (wire.last.method, str(wire.last.url)) == ("POST", f"{BASE}/sms.do")
    assert body_of(wire.last) == {"sch_del": "17006321", "format": "json"}


def test_cancel_of_an_unknown_or_sent_message_returns_false() -> None:
    wire = Wire(httpx.Response(200, json={"error": 301, "message": "Not exists ID message"}))
    assert make(wire).cancel("17006321") is False


def test_cancel_other_errors_raise() -> None:
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(200, json={"error": 101, "message": "auth"}))).cancel("1")
    assert caught.value.code == "101"


def test_status_lookup_parses_and_normalises_the_number() -> None:
    wire = Wire(
        httpx.Response(200, json={**SUCCESS, "list": [{**SUCCESS["list"][0], "status": "DELIVERED"}]})
    )
    status = make(wire).status("17006321")
    assert body_of(wire.last) == {"status": "17006321", "format": "json"}
    assert status.to == "+48500600700"
    assert [(c.channel, c.provider_message_id, c.status) for c in status.channels] == [
        ("sms", "17006321", "DELIVERED")
    ]


def test_status_of_an_unknown_id_is_not_found() -> None:
    wire = Wire(httpx.Response(200, json={"error": 301, "message": "Not exists ID message"}))
    status = make(wire).status(MESSAGE_ID)
    assert [(c.provider_message_id, c.status) for c in status.channels] == [(MESSAGE_ID, "NOT_FOUND")]
    assert smsapi.smsq_status(status.channels[0].status) == "unknown"


def test_status_other_errors_raise() -> None:
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(200, json={"error": 400, "message": "Invalid message ID"}))).status("x")
    assert caught.value.code == "400"


@pytest.mark.parametrize(("status", "expected"), list(smsapi.STATUSES.items()))
def test_every_delivery_status_maps_to_an_smsq_status(status: str, expected: str | None) -> None:
    assert smsapi.smsq_status(status) == expected


def test_an_unknown_delivery_status_is_in_progress() -> None:
    assert smsapi.smsq_status("SOMETHING_NEW") is None
    assert smsapi.smsq_status(None) is None


@pytest.mark.parametrize(("number", "name"), list(smsapi.STATUS_CODES.items()))
def test_callback_numeric_status_codes_are_named(number: str, name: str) -> None:
    status = smsapi.parse_callback(
        {"MsgId": "17006321", "status": number, "idx": MESSAGE_ID, "donedate": "1700000100"}
    )
    assert (status.provider_message_id, status.status, status.timestamp) == ("17006321", name, "1700000100")
    assert name in smsapi.STATUSES
