"""The delivery-report receiver: authentication (401), payload checks (400, nothing queued), and what
it queues for each provider."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from smsq.config.contract import DeliveryReport
from smsq.config.status_settings import WebhookSettings
from smsq.workers.status.followup import callback_path
from smsq.workers.webhooks.app import create_webhook_app

SECRET = "0123456789abcdef-secret"
KEY = "messente-shared-secret"
MESSAGE_ID = str(uuid.uuid4())
MESSENTE_REPORT = {
    "status": "DELIVRD", "sender": "smsq", "err": 0, "message_id": "part-1", "to": "+37251234567",
    "channel": "sms", "error": None, "omnimessage_id": "omni-1", "timestamp": "2026-01-01T10:00:00.000001",
}  # fmt: skip


class Queue:
    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def __call__(self, report: DeliveryReport) -> None:
        self.reports.append(report.model_dump(mode="json"))


@pytest.fixture
def queue() -> Queue:
    return Queue()


def client_for(queue: Queue, **settings: Any) -> TestClient:
    webhooks = WebhookSettings(public_base_url="https://smsq.example", secret=SecretStr(SECRET), **settings)
    return TestClient(create_webhook_app(webhooks, queue))


@pytest.fixture
def client(queue: Queue) -> Iterator[TestClient]:
    with client_for(queue) as test_client:
        yield test_client


def path(provider: str, message_id: str = MESSAGE_ID, secret: str = SECRET) -> str:
    return callback_path(secret, provider, message_id)


OTHER_ID = str(uuid.uuid4())


@pytest.mark.parametrize(
    "token",
    [
        "0" * 40,  # made up
        callback_path("another-installation-secret", "messente", MESSAGE_ID).rsplit("/", 1)[1],
        callback_path(SECRET, "smsapi", MESSAGE_ID).rsplit("/", 1)[1],  # another provider's
        callback_path(SECRET, "messente", OTHER_ID).rsplit("/", 1)[1],  # another message's
        "",
    ],
)
def test_a_request_without_this_messages_token_is_401(client: TestClient, queue: Queue, token: str) -> None:
    response = client.post(f"/dlr/messente/{MESSAGE_ID}/{token}", json=MESSENTE_REPORT)
    assert response.status_code == (401 if token else 404) and queue.reports == []


def test_each_refusal_is_401(client: TestClient, queue: Queue) -> None:
    for url in (f"/dlr/messente/{MESSAGE_ID}/{'0' * 40}", path("messente", secret="wrong-secret-0000")):
        assert client.post(url, json=MESSENTE_REPORT).status_code == 401
    assert (
        client.get(f"/dlr/smsapi/{MESSAGE_ID}/bad", params={"MsgId": "1", "status": "404"}).status_code == 401
    )
    assert client.get(f"/dlr/direct_messenger/{MESSAGE_ID}/bad", params={"dlr": "1"}).status_code == 401
    assert queue.reports == []


def test_no_secret_configured_refuses_everything(queue: Queue) -> None:
    with TestClient(create_webhook_app(WebhookSettings(), queue)) as client:
        assert client.post(path("messente", secret=""), json=MESSENTE_REPORT).status_code == 401
    assert queue.reports == []


def test_a_messente_report_is_queued_and_acknowledged(client: TestClient, queue: Queue) -> None:
    response = client.post(path("messente"), json=MESSENTE_REPORT)
    assert (response.status_code, response.text) == (200, "OK")
    assert queue.reports == [{
        "message_id": MESSAGE_ID, "provider": "messente", "channel": "sms", "status": "DELIVRD",
        "provider_message_id": "omni-1", "part_id": "part-1", "err": 0, "error": None,
        "timestamp": "2026-01-01T10:00:00.000001",
    }]  # fmt: skip


def signed(body: bytes, key: str = KEY) -> dict[str, str]:
    return {"X-Messente-Signature": hmac.new(key.encode(), body, hashlib.sha256).hexdigest(),
            "Content-Type": "application/json"}  # fmt: skip


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({}, 401),
        ({"X-Messente-Signature": "nope"}, 401),
        (signed(b"another body"), 401),
        (signed(json.dumps(MESSENTE_REPORT).encode(), key="wrong-key"), 401),
        (signed(json.dumps(MESSENTE_REPORT).encode()), 200),
    ],
)
def test_with_a_key_configured_the_messente_signature_is_checked(
    queue: Queue, headers: dict[str, str], expected: int
) -> None:
    body = json.dumps(MESSENTE_REPORT).encode()
    with client_for(queue, messente_signature_key=SecretStr(KEY)) as client:
        response = client.post(path("messente"), content=body, headers=headers)
    assert response.status_code == expected and len(queue.reports) == (expected == 200)


def test_without_a_key_the_signature_is_not_checked(client: TestClient, queue: Queue) -> None:
    response = client.post(
        path("messente"), json=MESSENTE_REPORT, headers={"X-Messente-Signature": "anything"}
    )
    assert response.status_code == 200 and len(queue.reports) == 1


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (b"not json", "body: is not JSON"),
        (b"[1, 2]", "body: must be a JSON object"),
        (json.dumps({**MESSENTE_REPORT, "omnimessage_id": None}).encode(), "omnimessage_id"),
        (json.dumps({k: v for k, v in MESSENTE_REPORT.items() if k != "status"}).encode(), "status"),
        (json.dumps({**MESSENTE_REPORT, "status": 5}).encode(), "status"),
        (json.dumps({**MESSENTE_REPORT, "channel": None}).encode(), "channel"),
        (json.dumps({**MESSENTE_REPORT, "channel": "pigeon"}).encode(), "channel"),
        (json.dumps({**MESSENTE_REPORT, "err": "x"}).encode(), "err"),
        (json.dumps({**MESSENTE_REPORT, "status": "X" * 100}).encode(), "status"),
    ],
)
def test_an_unreadable_messente_report_is_400_naming_the_field(
    client: TestClient, queue: Queue, body: bytes, field: str
) -> None:
    response = client.post(path("messente"), content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400 and field in response.json()["error"] and queue.reports == []


def test_a_report_for_a_malformed_message_id_is_refused(client: TestClient, queue: Queue) -> None:
    response = client.post(path("messente", message_id="not-a-uuid"), json=MESSENTE_REPORT)
    assert response.status_code == 400 and "message_id" in response.json()["error"] and queue.reports == []


def test_an_smsapi_callback_is_queued(client: TestClient, queue: Queue) -> None:
    params = {"MsgId": "17001", "status": "404", "status_name": "DELIVERED", "idx": MESSAGE_ID, "donedate": "1767261600",
              "to": "48500000000", "from": "Test", "points": "0.16", "username": "u"}  # fmt: skip
    response = client.get(path("smsapi"), params=params)
    assert (response.status_code, response.text) == (200, "OK")
    assert [
        (r["provider"], r["status"], r["provider_message_id"], r["timestamp"]) for r in queue.reports
    ] == [("smsapi", "DELIVERED", "17001", "1767261600")]


def test_an_smsapi_callback_may_carry_several_reports(client: TestClient, queue: Queue) -> None:
    params = {"MsgId": "1,2", "status": "403,404", "idx": f"{MESSAGE_ID},{MESSAGE_ID}", "donedate": "1,2"}
    assert client.post(path("smsapi"), data=params).status_code == 200
    assert [r["status"] for r in queue.reports] == ["SENT", "DELIVERED"]


@pytest.mark.parametrize(
    ("params", "field"),
    [({"MsgId": "1"}, "status"), ({"MsgId": "1,2,3", "status": "403,404"}, "status")],
)
def test_an_unreadable_smsapi_callback_is_400(
    client: TestClient, queue: Queue, params: dict[str, str], field: str
) -> None:
    response = client.get(path("smsapi"), params=params)
    assert response.status_code == 400 and response.json()["error"].startswith(field) and queue.reports == []


def test_a_direct_messenger_dlr_is_queued(client: TestClient, queue: Queue) -> None:
    params = {"id": MESSAGE_ID, "dlr": "1", "receiver": "37251234567", "time": "2026-01-01 10:00:00"}
    assert client.get(path("direct_messenger"), params=params).status_code == 200
    assert [(r["provider"], r["status"], r["timestamp"]) for r in queue.reports] == [
        ("direct_messenger", "1", "2026-01-01 10:00:00")
    ]
    response = client.get(path("direct_messenger"), params={"id": MESSAGE_ID})
    assert response.status_code == 400 and "dlr" in response.json()["error"] and len(queue.reports) == 1


def test_wrong_methods_and_unknown_providers(client: TestClient, queue: Queue) -> None:
    assert client.get(path("messente")).status_code == 405
    assert client.post(path("direct_messenger"), data={"dlr": "1"}).status_code == 405
    assert client.get(path("pigeon")).status_code == 404
    assert queue.reports == []


def test_a_broker_outage_is_503_so_the_provider_tries_again() -> None:
    def down(report: DeliveryReport) -> None:
        raise ConnectionError("broker unreachable")

    webhooks = WebhookSettings(public_base_url="https://smsq.example", secret=SecretStr(SECRET))
    with TestClient(create_webhook_app(webhooks, down)) as client:
        assert client.post(path("messente"), json=MESSENTE_REPORT).status_code == 503


def test_health(client: TestClient) -> None:
    assert client.get("/health").json() == {"ok": True}
