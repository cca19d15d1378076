from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import DM_TOKEN
from tests.support.fakes import FakeClock

RECEIVER = "37255555555"
SEND = {"api_token": DM_TOKEN, "smstext": "Hello", "receiver": RECEIVER, "sender": "Bar"}
BEARER = {"Authorization": f"Bearer {DM_TOKEN}"}


def test_form_encoded_send_succeeds_without_dlr_id(client: TestClient) -> None:
    response = client.post("/dm/", data=SEND)

    assert response.status_code == 200
    assert response.json() == {
        "status": "Success",
        "description": "Your message was succesfully added to the queue",
    }
    sent = client.get("/_admin/messages", params={"provider": "dm"}).json()["dm"]
    assert [(m["to"], m["request"]["smstext"]) for m in sent] == [(RECEIVER, "Hello")]
    assert "api_token" not in sent[0]["request"]


@pytest.mark.parametrize("path", ["/dm", "/dm/", "/dm/api"])
def test_query_string_send_works_on_each_documented_url(client: TestClient, path: str) -> None:
    response = client.post(path, params=SEND)

    assert response.json()["status"] == "Success"


def test_dlruri_gives_a_dlr_id_custom_or_generated(client: TestClient) -> None:
    custom = client.post("/dm/", data={**SEND, "dlruri": "https://me.example/dlr?id=%smsid%", "dlrid": "158"})
    generated = client.post("/dm/", data={**SEND, "dlruri": "https://me.example/dlr"})

    assert custom.json()["dlr_id"] == "158"
    assert len(generated.json()["dlr_id"]) == 36


def test_all_documented_parameters_are_accepted(client: TestClient) -> None:
    params = {**SEND, "conversion": "2", "deliverytime": "2027-01-15 09:00:00", "sender": "+37251000000"}

    assert client.post("/dm/", data=params).status_code == 200


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"smstext": ""}, "smstext", "The smstext field is required."),
        ({"receiver": None}, "receiver", "The receiver field is required."),
        ({"sender": None}, "sender", "The sender field is required."),
        ({"sender": "Alphanumeric1"}, "sender", "The sender may not be greater than 11 characters."),
        ({"sender": "+3725100000000000"}, "sender", "The sender may not be greater than 15 characters."),
        ({"smstext": "x" * 472}, "smstext", "The smstext may not be longer than 3 messages."),
        ({"smstext": "ж" * 202}, "smstext", "The smstext may not be longer than 3 messages."),
        ({"conversion": "3"}, "conversion", "The selected conversion is invalid."),
        (
            {"deliverytime": "2027-01-15T09:00"},
            "deliverytime",
            "The deliverytime does not match the format Y-m-d H:i:s.",
        ),
        ({"dlruri": "not a url"}, "dlruri", "The dlruri format is invalid."),
        ({"dlrid": "5"}, "dlruri", "The dlruri field is required when dlrid is present."),
    ],
)
def test_validation_errors_are_422_per_field(
    client: TestClient, change: dict[str, Any], field: str, message: str
) -> None:
    params = {key: value for key, value in {**SEND, **change}.items() if value is not None}

    response = client.post("/dm/", data=params)

    assert response.status_code == 422
    assert response.json() == {"message": "The given data was invalid.", "errors": {field: [message]}}


@pytest.mark.parametrize("text", ["x" * 471, "ж" * 201])
def test_three_full_parts_are_allowed(client: TestClient, text: str) -> None:
    assert client.post("/dm/", data={**SEND, "smstext": text}).status_code == 200


@pytest.mark.parametrize("receiver", ["+37255555555", "5555", "3725555abc"])
def test_invalid_receiver_is_message_and_error(client: TestClient, receiver: str) -> None:
    response = client.post("/dm/", data={**SEND, "receiver": receiver})

    assert response.status_code == 400
    assert response.json() == {"message": "Problem with validating numbers", "error": "Invalid number"}


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_bad_api_token_is_401(client: TestClient, token: str | None) -> None:
    params = {key: value for key, value in SEND.items() if key != "api_token"}
    if token is not None:
        params["api_token"] = token

    response = client.post("/dm/", data=params)

    assert (response.status_code, response.json()) == (401, {"message": "Unauthenticated."})


def test_deliverytime_schedules_the_send(client: TestClient, clock: FakeClock) -> None:
    client.post("/dm/", data={**SEND, "deliverytime": "2027-01-15 08:10:00"})

    def stage() -> str:
        message = client.get("/_admin/messages", params={"provider": "dm"}).json()["dm"][0]
        stage_name: str = message["attempts"][0]["stage"]
        return stage_name

    assert stage() == "scheduled"
    clock.advance(600.5)
    assert stage() == "pending"
    clock.advance(5)
    assert stage() == "final"


# Blacklist


def test_blacklist_create_list_delete(client: TestClient) -> None:
    created = client.post("/dm/api/blacklist/create", data={"api_token": DM_TOKEN, "receiver": RECEIVER})
    assert created.json() == {
        "response": "Success",
        "message": f"Number ({RECEIVER}) added to your blacklist",
    }

    listed = client.get("/dm/api/blacklist", headers=BEARER).json()
    assert (listed["response"], listed["message"]) == ("Success", "Blacklist")
    entry = listed["data"][0]
    assert (entry["receiver"], entry["source"], entry["created_at"]) == (
        RECEIVER,
        "api",
        "2027-01-15 08:00:00",
    )
    assert isinstance(entry["id"], int)

    deleted = client.post(f"/dm/api/blacklist/delete/{entry['id']}", data={"api_token": DM_TOKEN})
    assert deleted.json() == {
        "response": "Success",
        "message": f"Number with id {entry['id']} removed from blacklist",
    }
    assert client.get("/dm/api/blacklist", headers=BEARER).json()["data"] == []


def test_blacklist_does_not_stop_sends(client: TestClient) -> None:
    client.post("/dm/api/blacklist/create", data={"api_token": DM_TOKEN, "receiver": RECEIVER})

    assert client.post("/dm/", data=SEND).json()["status"] == "Success"


@pytest.mark.parametrize(
    ("receiver", "message"),
    [
        ("", "The receiver field is required."),
        ("+3725", "Invalid number"),
        (RECEIVER, "The receiver has already been taken."),
    ],
)
def test_blacklist_create_errors(client: TestClient, receiver: str, message: str) -> None:
    client.post("/dm/api/blacklist/create", data={"api_token": DM_TOKEN, "receiver": RECEIVER})

    response = client.post("/dm/api/blacklist/create", data={"api_token": DM_TOKEN, "receiver": receiver})

    assert response.status_code == 422
    assert response.json()["errors"] == {"receiver": [message]}


@pytest.mark.parametrize("entry_id", ["999", "abc"])
def test_blacklist_delete_unknown_id_is_404(client: TestClient, entry_id: str) -> None:
    response = client.post(f"/dm/api/blacklist/delete/{entry_id}", data={"api_token": DM_TOKEN})

    assert response.status_code == 404
    assert set(response.json()) == {"message", "error"}


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", "/dm/api/blacklist", {}),
        ("GET", "/dm/api/blacklist", {"params": {"api_token": DM_TOKEN}}),  # the list wants Bearer
        ("GET", "/dm/api/blacklist", {"headers": {"Authorization": "Bearer wrong"}}),
        ("POST", "/dm/api/blacklist/create", {"data": {"receiver": RECEIVER}}),
        ("POST", "/dm/api/blacklist/delete/1000", {"data": {"api_token": "wrong"}}),
    ],
)
def test_blacklist_auth_failures_are_401(
    client: TestClient, method: str, path: str, kwargs: dict[str, Any]
) -> None:
    response = client.request(method, path, **kwargs)

    assert (response.status_code, response.json()) == (401, {"message": "Unauthenticated."})
