from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import DM_TOKEN, MESSENTE_AUTH, SMSAPI_HEADERS
from tests.support.fakes import START, FakeClock

OMNIMESSAGE = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]}


def test_requests_are_recorded_without_credentials(client: TestClient, clock: FakeClock) -> None:
    client.post("/v1/omnimessage", json=OMNIMESSAGE, auth=MESSENTE_AUTH, params={"trace": "1"})
    client.post("/dm/", data={"api_token": DM_TOKEN, "smstext": "x"})

    records = client.get("/_admin/requests").json()["requests"]

    assert [(r["provider"], r["method"], r["path"], r["status"]) for r in records] == [
        ("messente", "POST", "/v1/omnimessage", 201),
        ("dm", "POST", "/dm/", 422),
    ]
    messente, dm = records
    assert messente["body"] == OMNIMESSAGE
    assert messente["query"] == {"trace": "1"}
    assert messente["received_at"] == START
    assert "authorization" not in {key.lower() for key in messente["headers"]}
    assert dm["body"] == {"api_token": "***", "smstext": "x"}


@pytest.mark.parametrize(
    ("params", "paths"),
    [
        ({"provider": "smsapi"}, ["/smsapi/sms.do", "/smsapi/blacklist/phone_numbers"]),
        ({"provider": "dm2fa"}, ["/dm2fa/"]),
        ({"path": "/smsapi/blacklist"}, ["/smsapi/blacklist/phone_numbers"]),
        ({"provider": "messente", "path": "/v1/phonebook"}, ["/v1/phonebook/groups"]),
    ],
)
def test_requests_filter_by_provider_and_path(
    client: TestClient, params: dict[str, str], paths: list[str]
) -> None:
    client.post("/smsapi/sms.do", headers=SMSAPI_HEADERS)
    client.get("/smsapi/blacklist/phone_numbers", headers=SMSAPI_HEADERS)
    client.post("/dm2fa/", data={"api_token": DM_TOKEN})
    client.get("/v1/phonebook/groups", auth=MESSENTE_AUTH)
    client.get("/_admin/messages")  # admin calls are not recorded

    records = client.get("/_admin/requests", params=params).json()["requests"]

    assert [record["path"] for record in records] == paths


def test_clearing_requests(client: TestClient) -> None:
    client.get("/v1/phonebook/groups", auth=MESSENTE_AUTH)

    assert client.delete("/_admin/requests").status_code == 204
    assert client.get("/_admin/requests").json() == {"requests": []}


def test_multipart_bodies_are_recorded_with_file_content(client: TestClient) -> None:
    client.post(
        "/smsapi/blacklist/phone_numbers/imports",
        files={"file": ("a.csv", "48500000000\n", "text/csv")},
        headers=SMSAPI_HEADERS,
    )

    body = client.get("/_admin/requests").json()["requests"][0]["body"]

    assert body == {"file": {"filename": "a.csv", "content": "48500000000\n"}}


@pytest.mark.parametrize(
    "body",
    [
        {"outcome": "delivered"},
        {"phone": "+3725", "outcome": "lost"},
        {"phone": "+3725", "outcome": "failed", "channel": "fax"},
        {"phone": "abc", "outcome": "failed"},
    ],
)
def test_bad_outcome_is_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/_admin/outcomes", json=body).status_code == 400


def test_outcomes_listed_and_cleared(client: TestClient, clock: FakeClock) -> None:
    client.post("/_admin/outcomes", json={"phone": "+37251234567", "outcome": "failed", "channel": "sms"})
    assert client.get("/_admin/outcomes").json() == {
        "outcomes": [{"phone": "37251234567", "channel": "sms", "outcome": "failed"}]
    }

    client.delete("/_admin/outcomes")
    created = client.post("/v1/omnimessage", json=OMNIMESSAGE, auth=MESSENTE_AUTH).json()
    clock.advance(10)
    status = client.get(f"/v1/omnimessage/{created['omnimessage_id']}/status", auth=MESSENTE_AUTH)
    assert status.json()["statuses"][0]["status"] == "DELIVRD"


def test_clock_advances_the_sandbox_time(client: TestClient) -> None:
    created = client.post("/v1/omnimessage", json=OMNIMESSAGE, auth=MESSENTE_AUTH).json()

    moved = client.post("/_admin/clock", json={"advance": 10})

    assert moved.json() == {"now": START + 10, "offset": 10.0}
    assert client.get("/_admin/clock").json()["now"] == START + 10
    status = client.get(f"/v1/omnimessage/{created['omnimessage_id']}/status", auth=MESSENTE_AUTH)
    assert status.json()["statuses"][0]["status"] == "DELIVRD"


@pytest.mark.parametrize("body", [{}, {"advance": -1}, {"advance": "1"}, {"advance": True}])
def test_bad_clock_advance_is_400(client: TestClient, body: dict[str, Any]) -> None:
    assert client.post("/_admin/clock", json=body).status_code == 400


def test_messages_show_every_provider_with_attempts(client: TestClient) -> None:
    client.post("/v1/omnimessage", json=OMNIMESSAGE, auth=MESSENTE_AUTH)
    client.post(
        "/smsapi/sms.do", data={"to": "48500000000", "message": "m", "format": "json"}, headers=SMSAPI_HEADERS
    )
    client.post(
        "/dm/", data={"api_token": DM_TOKEN, "smstext": "x", "receiver": "37255555555", "sender": "Bar"}
    )
    client.post("/dm2fa/", data={"api_token": DM_TOKEN, "receiver": "37255555555"})

    messages = client.get("/_admin/messages").json()

    assert {provider: len(items) for provider, items in messages.items()} == {
        "messente": 1,
        "smsapi": 1,
        "dm": 1,
        "dm2fa": 1,
    }
    attempt = messages["messente"][0]["attempts"][0]
    assert (attempt["channel"], attempt["stage"], attempt["outcome"]) == ("sms", "pending", None)
    assert client.get("/_admin/messages", params={"provider": "nope"}).status_code == 400


def test_blacklists_of_all_three_providers_are_independent(client: TestClient) -> None:
    client.post("/v1/phonebook/blacklist", json={"phoneNumber": "+37251000000"}, auth=MESSENTE_AUTH)
    client.post(
        "/smsapi/blacklist/phone_numbers", json={"phone_number": "48500000000"}, headers=SMSAPI_HEADERS
    )
    client.post("/dm/api/blacklist/create", data={"api_token": DM_TOKEN, "receiver": "37255555555"})

    blacklists = client.get("/_admin/blacklists").json()

    assert blacklists["messente"] == ["+37251000000"]
    assert [entry["phone_number"] for entry in blacklists["smsapi"]] == ["48500000000"]
    assert [entry["receiver"] for entry in blacklists["dm"]] == ["37255555555"]


def test_reset_forgets_everything(client: TestClient) -> None:
    client.post("/v1/phonebook/blacklist", json={"phoneNumber": "+37251000000"}, auth=MESSENTE_AUTH)
    client.post("/v1/omnimessage", json=OMNIMESSAGE, auth=MESSENTE_AUTH)
    client.post("/_admin/faults", json={"kind": "status", "provider": "smsapi"})
    client.post("/_admin/outcomes", json={"phone": "+37251234567", "outcome": "failed"})
    client.post("/_admin/clock", json={"advance": 100})

    assert client.post("/_admin/reset").status_code == 204

    assert client.get("/_admin/blacklists").json() == {"messente": [], "smsapi": [], "dm": []}
    assert client.get("/_admin/messages").json()["messente"] == []
    assert client.get("/_admin/faults").json() == {"faults": []}
    assert client.get("/_admin/outcomes").json() == {"outcomes": []}
    assert client.get("/_admin/clock").json()["offset"] == 0
    assert client.get("/_admin/requests").json() == {"requests": []}


@pytest.mark.parametrize(
    ("path", "check"),
    [
        ("/smsapi/unknown", lambda b: b["error"] == "not_found"),
        ("/dm/api/unknown", lambda b: b["error"] == "Not Found"),
        ("/nowhere", lambda b: "error" in b),
    ],
)
def test_unknown_paths_answer_404_in_provider_shape(client: TestClient, path: str, check: Any) -> None:
    response = client.get(path)

    assert response.status_code == 404
    assert check(response.json())
