"""Direct Messenger 2FA at the HTTP seam: send a code, verify it, every documented outcome."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings
from smsq.producers.errors import InvalidInput
from smsq.workers.providers.direct_messenger import two_factor as twofa
from smsq.workers.providers.direct_messenger.two_factor import DirectMessenger2FAClient, VerifyOutcome
from smsq.workers.providers.errors import PermanentError, RateLimited, TransientError
from tests.support.fakes import Wire

BASE = "http://sandbox.test/dm2fa"
SENT = {"message": "Success", "response": {"pin": "MP3KMJ", "pin_id": "BEN4KJIK62GNZDVFJCMG", "sms": "sent"}}
AUTHENTICATED = {
    "message": "Success",
    "response": {
        "auth_status": "User has been authenticated",
        "pin": "DXYMZO",
        "pin_id": "XOK4426WH1HLOG1BOUJK",
    },
}
INVALID = "The given data was invalid."


def make(wire: Wire) -> DirectMessenger2FAClient:
    settings = DirectMessengerSettings(
        base_url="http://sandbox.test/dm", two_factor_base_url=BASE, api_token=SecretStr("sandbox-token")
    )
    return DirectMessenger2FAClient.from_settings(settings, transport=httpx.MockTransport(wire))


def form_of(request: httpx.Request) -> dict[str, str]:
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    return dict(parse_qsl(request.content.decode()))


# --- send_code ----------------------------------------------------------------------------------


def test_send_code_posts_the_exact_form_to_the_2fa_base() -> None:
    wire = Wire(httpx.Response(200, json=SENT))
    code = make(wire).send_code("+37255555555", pin_length=6)
    assert (wire.last.method, str(wire.last.url)) == ("POST", f"{BASE}/")
    assert wire.last.headers["Accept"] == "application/json"
    assert form_of(wire.last) == {"api_token": "sandbox-token", "receiver": "37255555555", "pin_length": "6"}
    assert (code.pin, code.pin_id, code.sms) == ("MP3KMJ", "BEN4KJIK62GNZDVFJCMG", "sent")


def test_pin_length_is_optional() -> None:
    wire = Wire(httpx.Response(200, json=SENT))
    make(wire).send_code("37255555555")
    assert form_of(wire.last) == {"api_token": "sandbox-token", "receiver": "37255555555"}


def test_the_code_never_shows_its_pin_or_pin_id() -> None:
    code = make(Wire(httpx.Response(200, json=SENT))).send_code("+37255555555")
    assert "MP3KMJ" not in repr(code) and "BEN4KJIK62GNZDVFJCMG" not in repr(code)


@pytest.mark.parametrize("pin_length", [4, 20])
def test_pin_length_bounds_are_accepted(pin_length: int) -> None:
    wire = Wire(httpx.Response(200, json=SENT))
    make(wire).send_code("+37255555555", pin_length=pin_length)
    assert form_of(wire.last)["pin_length"] == str(pin_length)


@pytest.mark.parametrize("pin_length", [0, 3, 21])
def test_pin_length_out_of_range_is_refused_without_a_request(pin_length: int) -> None:
    wire = Wire()
    with pytest.raises(InvalidInput) as caught:
        make(wire).send_code("+37255555555", pin_length=pin_length)
    assert caught.value.problems == [("pin_length", "must be between 4 and 20")]
    assert wire.requests == []


def test_a_malformed_receiver_is_invalid_input() -> None:
    with pytest.raises(InvalidInput) as caught:
        make(Wire()).send_code("abc")
    assert caught.value.problems[0][0] == "receiver"


@pytest.mark.parametrize(
    ("field", "text"),
    [
        ("receiver", "The receiver field is required."),
        ("receiver", "Invalid number"),
        ("pin_length", "The pin length must be between 4 and 20."),
    ],
)
def test_send_code_failures_are_permanent_with_field_and_detail(field: str, text: str) -> None:
    wire = Wire(httpx.Response(422, json={"message": INVALID, "errors": {field: [text]}}))
    with pytest.raises(PermanentError) as caught:
        make(wire).send_code("+37255555555")
    error = caught.value
    assert (error.provider, error.code, error.field, error.detail) == (
        "direct_messenger_2fa",
        field,
        field,
        text,
    )


def test_send_code_429_and_5xx() -> None:
    with pytest.raises(RateLimited):
        make(Wire(httpx.Response(429))).send_code("+37255555555")
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(500))).send_code("+37255555555")
    assert caught.value.code == "500"


@pytest.mark.parametrize(
    "body",
    [{"message": "Success"}, {"message": "Success", "response": {"pin": "X"}}],
)
def test_a_success_without_the_code_is_transient(body: dict[str, Any]) -> None:
    with pytest.raises(TransientError) as caught:
        make(Wire(httpx.Response(200, json=body))).send_code("+37255555555")
    assert caught.value.code == "malformed"


def test_from_settings_needs_the_2fa_base_url() -> None:
    settings = DirectMessengerSettings(base_url="http://sandbox.test/dm", api_token=SecretStr("t"))
    with pytest.raises(ValueError, match="two_factor_base_url"):
        DirectMessenger2FAClient.from_settings(settings)


# --- verify_code --------------------------------------------------------------------------------


def test_verify_posts_the_exact_form() -> None:
    wire = Wire(httpx.Response(200, json=AUTHENTICATED))
    result = make(wire).verify_code("DXYMZO", "XOK4426WH1HLOG1BOUJK")
    assert (wire.last.method, str(wire.last.url)) == ("POST", f"{BASE}/")
    assert form_of(wire.last) == {
        "api_token": "sandbox-token",
        "pin": "DXYMZO",
        "pin_id": "XOK4426WH1HLOG1BOUJK",
    }
    assert result.outcome is VerifyOutcome.AUTHENTICATED and result.authenticated
    assert result.detail == "User has been authenticated"


VERIFY_ROWS = [
    ({"auth_status": ["The PIN has already been authenticated"]}, VerifyOutcome.ALREADY_AUTHENTICATED),
    ({"pin": ["PIN not found"]}, VerifyOutcome.NOT_FOUND),
    ({"pin_id": ["PIN and PIN ID not matching"]}, VerifyOutcome.MISMATCH),
    ({"expire_time": ["The PIN given has expired"]}, VerifyOutcome.EXPIRED),
]


@pytest.mark.parametrize(("errors", "outcome"), VERIFY_ROWS)
@pytest.mark.parametrize("status", [200, 422])
def test_every_documented_verify_failure_is_a_distinct_result(
    errors: dict[str, list[str]], outcome: VerifyOutcome, status: int
) -> None:
    result = make(Wire(httpx.Response(status, json={"message": INVALID, "errors": errors}))).verify_code(
        "DXYMZO", "XOK4426WH1HLOG1BOUJK"
    )
    assert result.outcome is outcome
    assert not result.authenticated
    assert result.detail == next(iter(errors.values()))[0]


def test_every_outcome_has_a_row() -> None:
    covered = {outcome for _, _, outcome in twofa.VERIFY_OUTCOMES} | {VerifyOutcome.AUTHENTICATED}
    assert covered == set(VerifyOutcome)


@pytest.mark.parametrize(
    ("errors", "code"),
    [
        ({"pin": ["The pin field is required."]}, "pin"),
        ({"pin_id": ["The pin id must be 20 characters."]}, "pin_id"),
        ({"api_token": ["The api token field is required."]}, "api_token"),
    ],
)
def test_plain_validation_errors_on_verify_are_permanent_errors(
    errors: dict[str, list[str]], code: str
) -> None:
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(422, json={"message": INVALID, "errors": errors}))).verify_code("", "x")
    assert caught.value.code == code


def test_verify_with_a_bad_token_is_permanent() -> None:
    with pytest.raises(PermanentError) as caught:
        make(Wire(httpx.Response(401, json={"message": "Unauthenticated."}))).verify_code("DXYMZO", "X")
    assert (caught.value.code, caught.value.status_code) == ("401", 401)


@pytest.mark.parametrize("code", sorted(twofa.ERROR_CODES))
def test_every_table_row_is_permanent(code: str) -> None:
    assert twofa.ERROR_CODES[code] is PermanentError
