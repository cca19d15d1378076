from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import DM_TOKEN
from tests.support.fakes import FakeClock

RECEIVER = "372555555555"


def send_code(client: TestClient, path: str = "/dm2fa/", **params: Any) -> Any:
    return client.post(path, data={"api_token": DM_TOKEN, "receiver": RECEIVER, **params})


def verify(client: TestClient, pin: str, pin_id: str, path: str = "/dm2fa/") -> Any:
    return client.post(path, data={"api_token": DM_TOKEN, "pin": pin, "pin_id": pin_id})


def issued(client: TestClient, path: str = "/dm2fa/") -> tuple[str, str]:
    response = send_code(client, path)
    assert response.status_code == 200
    body = response.json()["response"]
    return body["pin"], body["pin_id"]


@pytest.mark.parametrize(("pin_length", "expected"), [(None, 6), ("4", 4), ("20", 20)])
def test_send_code_returns_pin_pin_id_and_sms_status(
    client: TestClient, pin_length: str | None, expected: int
) -> None:
    params = {} if pin_length is None else {"pin_length": pin_length}

    response = send_code(client, **params)

    body = response.json()
    assert body["message"] == "Success"
    assert body["response"]["sms"] == "sent"
    assert len(body["response"]["pin"]) == expected
    assert len(body["response"]["pin_id"]) == 20


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"receiver": ""}, "receiver", "The receiver field is required."),
        ({"receiver": "+372abc"}, "receiver", "Invalid number"),
        ({"pin_length": "3"}, "pin_length", "The pin length must be between 4 and 20."),
        ({"pin_length": "21"}, "pin_length", "The pin length must be between 4 and 20."),
        ({"pin_length": "six"}, "pin_length", "The pin length must be between 4 and 20."),
    ],
)
def test_send_code_validation(client: TestClient, params: dict[str, str], field: str, message: str) -> None:
    response = send_code(client, **params)

    assert response.status_code == 422
    assert response.json() == {"message": "The given data was invalid.", "errors": {field: [message]}}


@pytest.mark.parametrize(
    ("send_path", "verify_path"), [("/dm2fa/", "/dm2fa/"), ("/dm2fa/send", "/dm2fa/verify")]
)
def test_verify_authenticates_once(client: TestClient, send_path: str, verify_path: str) -> None:
    pin, pin_id = issued(client, send_path)

    response = verify(client, pin, pin_id, verify_path)

    assert response.status_code == 200
    assert response.json() == {
        "message": "Success",
        "response": {"auth_status": "User has been authenticated", "pin": pin, "pin_id": pin_id},
    }
    again = verify(client, pin, pin_id, verify_path)
    assert again.status_code == 422
    assert again.json()["errors"] == {"auth_status": ["The PIN has already been authenticated"]}


def test_unknown_pin_is_not_found(client: TestClient) -> None:
    _, pin_id = issued(client)

    response = verify(client, "ZZZZZZZZ", pin_id)

    assert response.json()["errors"] == {"pin": ["PIN not found"]}


def test_pin_of_another_request_is_a_mismatch(client: TestClient) -> None:
    first_pin, _ = issued(client)
    _, second_pin_id = issued(client)

    response = verify(client, first_pin, second_pin_id)

    assert response.status_code == 422
    assert response.json()["errors"] == {"pin_id": ["PIN and PIN ID not matching"]}


def test_pin_expires_after_five_minutes(client: TestClient, clock: FakeClock) -> None:
    pin, pin_id = issued(client)
    early_pin, early_id = issued(client)
    clock.advance(299)
    assert verify(client, early_pin, early_id).status_code == 200

    clock.advance(1)
    response = verify(client, pin, pin_id)

    assert response.status_code == 422
    assert response.json()["errors"] == {"expire_time": ["The PIN given has expired"]}


@pytest.mark.parametrize(
    ("pin", "pin_id", "errors"),
    [
        ("", "A" * 20, {"pin": ["The pin field is required."]}),
        ("ABC", "A" * 20, {"pin": ["The pin must be between 4 and 20 characters."]}),
        ("ABCD", "A" * 19, {"pin_id": ["The pin id must be 20 characters."]}),
    ],
)
def test_verify_validation(client: TestClient, pin: str, pin_id: str, errors: dict[str, list[str]]) -> None:
    response = client.post("/dm2fa/verify", data={"api_token": DM_TOKEN, "pin": pin, "pin_id": pin_id})

    assert response.status_code == 422
    assert response.json()["errors"] == errors


@pytest.mark.parametrize("path", ["/dm2fa/", "/dm2fa/send", "/dm2fa/verify"])
def test_bad_api_token_is_401(client: TestClient, path: str) -> None:
    response = client.post(path, data={"api_token": "nope", "receiver": RECEIVER})

    assert (response.status_code, response.json()) == (401, {"message": "Unauthenticated."})


def test_unknown_action_is_404(client: TestClient) -> None:
    assert client.post("/dm2fa/other", data={"api_token": DM_TOKEN}).status_code == 404
