from __future__ import annotations

from typing import Any

import pytest
from starlette.testclient import TestClient

from tests.sandbox.conftest import SMSAPI_HEADERS
from tests.support.fakes import START, FakeClock

NUMBER = "48500000000"


def sms_do(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    fields = {"format": "json", **{key: str(value) for key, value in params.items()}}
    return client.post("/smsapi/sms.do", data=fields, headers=SMSAPI_HEADERS if headers is None else headers)


def test_send_answers_with_a_list_entry_per_number(client: TestClient) -> None:
    response = sms_do(client, to=f"{NUMBER},+48500000001", message="Hello", **{"from": "Shop"}, idx="m-1")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    first = body["list"][0]
    assert set(first) == {
        "id",
        "points",
        "number",
        "date_sent",
        "submitted_number",
        "status",
        "error",
        "idx",
        "parts",
    }
    assert (first["number"], first["status"], first["idx"], first["parts"], first["error"]) == (
        NUMBER,
        "QUEUE",
        "m-1",
        1,
        None,
    )
    assert (body["list"][1]["number"], body["list"][1]["submitted_number"]) == ("48500000001", "+48500000001")
    assert first["date_sent"] == int(START)


def test_send_accepts_json_bodies_and_access_token_parameter(client: TestClient) -> None:
    body = {"to": NUMBER, "message": "Hi", "format": "json", "access_token": "sandbox-token"}

    response = client.post("/smsapi/sms.do", json=body)

    assert response.json()["count"] == 1
    recorded = client.get("/_admin/requests", params={"provider": "smsapi"}).json()["requests"][0]
    assert recorded["body"]["access_token"] == "***"


def test_long_message_counts_parts(client: TestClient) -> None:
    response = sms_do(client, to=NUMBER, message="x" * 200)

    assert response.json()["list"][0]["parts"] == 2


@pytest.mark.parametrize(
    ("params", "code"),
    [
        ({"to": NUMBER}, 11),
        ({"to": NUMBER, "message": "x" * 2000}, 11),
        ({"message": "hi"}, 13),
        ({"to": "12ab", "message": "hi"}, 13),
        ({"to": NUMBER, "message": "hi", "from": "A very long sender"}, 14),
        ({"to": NUMBER, "message": "hi", "idx": "i" * 256}, 27),
        ({"to": NUMBER, "message": "hi", "date": str(int(START) + 100 * 24 * 3600)}, 50),
        ({"to": NUMBER, "message": "hi", "date": "tomorrow"}, 54),
        ({"to": NUMBER, "message": "hi", "notify_url": "ftp://x"}, 70),
        ({"sch_del": "123"}, 301),
        ({"status": "123"}, 301),
    ],
)
def test_errors_come_inside_http_200(client: TestClient, params: dict[str, str], code: int) -> None:
    response = sms_do(client, **params)

    assert response.status_code == 200
    assert response.json()["error"] == code
    assert isinstance(response.json()["message"], str)
    assert client.get("/_admin/messages").json()["smsapi"] == []


def test_blacklisted_and_invalid_numbers_are_listed_while_valid_ones_go(client: TestClient) -> None:
    client.post(
        "/smsapi/blacklist/phone_numbers", json={"phone_number": "48500000009"}, headers=SMSAPI_HEADERS
    )

    response = sms_do(client, to=f"{NUMBER},48500000009,abc", message="hi")

    body = response.json()
    assert [item["number"] for item in body["list"]] == [NUMBER]
    assert [(item["number"], item["message"]) for item in body["invalid_numbers"]] == [
        ("48500000009", "The number is blacklisted for this user"),
        ("abc", "Invalid phone number"),
    ]


def test_only_blacklisted_numbers_is_error_13_with_invalid_numbers(client: TestClient) -> None:
    client.post("/smsapi/blacklist/phone_numbers", json={"phone_number": NUMBER}, headers=SMSAPI_HEADERS)

    body = sms_do(client, to=NUMBER, message="hi").json()

    assert body["error"] == 13
    assert body["invalid_numbers"][0]["message"] == "The number is blacklisted for this user"


def test_an_expired_blacklist_entry_no_longer_blocks(client: TestClient) -> None:
    entry = {"phone_number": NUMBER, "expire_at": "2027-01-14"}
    client.post("/smsapi/blacklist/phone_numbers", json=entry, headers=SMSAPI_HEADERS)

    assert sms_do(client, to=NUMBER, message="hi").json()["count"] == 1


def test_repeated_idx_with_check_idx_is_refused_for_24_hours(client: TestClient, clock: FakeClock) -> None:
    assert sms_do(client, to=NUMBER, message="hi", idx="k1", check_idx=1).json()["count"] == 1
    assert sms_do(client, to=NUMBER, message="hi", idx="k1", check_idx=1).json()["error"] == 53
    assert sms_do(client, to=NUMBER, message="hi", idx="k1").json()["count"] == 1  # no check asked for

    clock.advance(24 * 3600 + 1)
    assert sms_do(client, to=NUMBER, message="hi", idx="k1", check_idx=1).json()["count"] == 1


@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic eDp5"}])
def test_bad_token_is_401_error_101(client: TestClient, headers: dict[str, str]) -> None:
    response = sms_do(client, headers=headers, to=NUMBER, message="hi")

    assert response.status_code == 401
    assert response.json() == {"error": 101, "message": "Authorization failed"}


def test_plain_text_protocol_without_format_json(client: TestClient) -> None:
    ok = client.post("/smsapi/sms.do", data={"to": NUMBER, "message": "hi"}, headers=SMSAPI_HEADERS)
    refused = client.post("/smsapi/sms.do", data={"to": NUMBER}, headers=SMSAPI_HEADERS)

    assert ok.text.startswith("OK:") and ok.text.endswith(f":{NUMBER}")
    assert refused.text == "ERROR:11"


def status_name(client: TestClient, message_id: str) -> str:
    name: str = sms_do(client, status=message_id).json()["list"][0]["status"]
    return name


@pytest.mark.parametrize(
    ("outcome", "final"),
    [
        ("delivered", "DELIVERED"),
        ("undeliverable", "UNDELIVERED"),
        ("failed", "FAILED"),
        ("expired", "EXPIRED"),
        ("rejected", "REJECTED"),
    ],
)
def test_status_lookup_follows_the_configured_outcome(
    client: TestClient, clock: FakeClock, outcome: str, final: str
) -> None:
    client.post("/_admin/outcomes", json={"phone": f"+{NUMBER}", "outcome": outcome})
    message_id = sms_do(client, to=NUMBER, message="hi").json()["list"][0]["id"]

    seen = [status_name(client, message_id)]
    clock.advance(1.5)
    seen.append(status_name(client, message_id))
    clock.advance(1.5)
    seen.append(status_name(client, message_id))

    assert seen == ["QUEUE", "SENT", final]


def test_scheduled_send_can_be_cancelled_until_due(client: TestClient, clock: FakeClock) -> None:
    early = sms_do(client, to=NUMBER, message="hi", date=int(START) + 600).json()["list"][0]["id"]
    late = sms_do(client, to=NUMBER, message="hi", date="2027-01-15T08:05:00Z").json()["list"][0]["id"]

    cancelled = sms_do(client, sch_del=early).json()
    assert cancelled == {"count": 1, "list": [{"id": early}]}
    assert sms_do(client, sch_del=early).json()["error"] == 301  # already cancelled

    clock.advance(300)
    assert sms_do(client, sch_del=late).json()["error"] == 301  # already due
    assert status_name(client, late) == "QUEUE"
    clock.advance(2)
    assert status_name(client, late) == "SENT"


def test_test_mode_validates_without_sending(client: TestClient) -> None:
    body = sms_do(client, to=NUMBER, message="hi", test=1).json()

    assert body["count"] == 1
    assert client.get("/_admin/messages").json()["smsapi"] == []
