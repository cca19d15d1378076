"""Delivery reports end to end over loopback: the send path puts smsq's callback URL in each provider's
request, the sandbox pushes its reports there, the receiver queues them, and applying them settles
the message, once, whatever the order or repetition."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.contract import DeliveryReport
from smsq.config.settings import (
    DirectMessengerSettings,
    MessenteSettings,
    RetrySettings,
    SmsapiSettings,
)
from smsq.config.status_settings import WebhookSettings
from smsq.producers.client import Smsq
from smsq.producers.core.results import MessageResult
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.base import Provider
from smsq.workers.providers.direct_messenger.sms import DirectMessengerClient
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.providers.messente.reports import messente_signature
from smsq.workers.providers.smsapi.sms import SmsapiClient
from smsq.workers.sending.single import send_message
from smsq.workers.status.followup import Followup
from smsq.workers.status.reports import apply_report
from smsq.workers.webhooks.app import create_webhook_app
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.support.sending import make_sender
from tests.workers.status.helpers import polling, serving

SECRET = "loopback-secret-0123456789"


class Queue:
    def __init__(self) -> None:
        self.reports: list[dict[str, Any]] = []

    def __call__(self, report: DeliveryReport) -> None:
        self.reports.append(report.model_dump(mode="json"))


QUEUE = Queue()


@pytest.fixture(scope="module")
def receiver_url() -> Iterator[str]:
    webhooks = WebhookSettings(public_base_url="http://unused.example", secret=SecretStr(SECRET))
    with serving(create_webhook_app(webhooks, QUEUE)) as url:
        yield url


@pytest.fixture
def clock(sandbox_clock: FakeClock) -> FakeClock:
    return sandbox_clock  # the store's clock is the sandbox's clock


@pytest.fixture
def admin(admin: httpx.Client) -> httpx.Client:
    QUEUE.reports.clear()
    return admin


@pytest.fixture
def providers(sandbox_url: str) -> Iterator[dict[str, Provider]]:
    built: dict[str, Provider] = {
        "messente": MessenteClient.from_settings(MessenteSettings(
            base_url=f"{sandbox_url}/v1", username=SecretStr("sandbox"), password=SecretStr("sandbox"))),
        "smsapi": SmsapiClient.from_settings(SmsapiSettings(
            base_url=f"{sandbox_url}/smsapi", token=SecretStr("sandbox-token"))),
        "direct_messenger": DirectMessengerClient.from_settings(DirectMessengerSettings(
            enabled=True, base_url=f"{sandbox_url}/dm", api_token=SecretStr("sandbox-token"))),
    }  # fmt: skip
    yield built
    for provider in built.values():
        provider.close()


def send_via(store: MessageStore, providers: dict[str, Provider], receiver_url: str, provider: str) -> str:
    message = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi", "sender": "smsq"}]}
    receipt = Smsq(store, RecordingPublisher()).send(message)
    webhooks = WebhookSettings(public_base_url=receiver_url, secret=SecretStr(SECRET))
    sender = make_sender(
        store, providers[provider], retry=RetrySettings(), followup=Followup(polling(), webhooks)
    )
    assert send_message(receipt.message_id, sender).status == "sent"
    return receipt.message_id


def result(store: MessageStore, message_id: str) -> MessageResult:
    record = store.get(message_id)
    assert record is not None
    return MessageResult.from_record(record)


def apply_all(store: MessageStore, reports: list[dict[str, Any]]) -> list[str]:
    return [apply_report(DeliveryReport.model_validate(r), store, polling()).result for r in reports]


@pytest.mark.parametrize(
    ("provider", "statuses"),
    [("messente", ["ACK", "DELIVRD"]), ("smsapi", ["SENT", "DELIVERED"]), ("direct_messenger", ["8", "1"])],
)
def test_the_providers_reports_settle_the_message(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, providers: dict[str, Provider],
    receiver_url: str, provider: str, statuses: list[str],
) -> None:  # fmt: skip
    message_id = send_via(store, providers, receiver_url, provider)
    clock.advance(5)
    pushed = admin.post("/_admin/delivery_reports/flush").json()["sent"]
    log = admin.get("/_admin/delivery_reports").json()["reports"]
    assert pushed == 2 and [entry["status"] for entry in log] == [200, 200]
    assert [(r["message_id"], r["provider"], r["status"]) for r in QUEUE.reports] == [
        (message_id, provider, status) for status in statuses
    ]
    assert apply_all(store, QUEUE.reports) == ["applied", "settled"]
    final = result(store, message_id)
    assert final.status == "delivered"
    assert [(c.channel, c.status, c.provider_status, c.via) for c in final.channel_results] == [
        ("sms", "delivered", statuses[-1], "report")
    ]


def test_repeated_and_reordered_reports_change_nothing_more(
    store: MessageStore,
    clock: FakeClock,
    admin: httpx.Client,
    providers: dict[str, Provider],
    receiver_url: str,
) -> None:
    admin.post("/_admin/outcomes", json={"phone": "+37251234567", "outcome": "undeliverable"})
    message_id = send_via(store, providers, receiver_url, "messente")
    clock.advance(5)
    admin.post("/_admin/delivery_reports/flush")
    ack, final = QUEUE.reports
    assert apply_all(store, [final, ack, final, ack]) == ["settled", "applied", "applied", "applied"]
    settled = result(store, message_id)
    assert settled.status == "undeliverable" and settled.channel_results[0].provider_status == "UNDELIV"
    assert settled.last_error is not None and settled.last_error.code == "1"


def test_no_public_url_means_no_report_is_asked_for(
    store: MessageStore, admin: httpx.Client, providers: dict[str, Provider]
) -> None:
    message = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]}
    receipt = Smsq(store, RecordingPublisher()).send(message)
    sender = make_sender(store, providers["messente"], followup=Followup(polling(), WebhookSettings()))
    send_message(receipt.message_id, sender)
    (request,) = admin.get("/_admin/requests", params={"provider": "messente"}).json()["requests"]
    assert "dlr_url" not in request["body"]


def test_the_sandbox_signs_the_body_it_sends(clock: FakeClock, admin: httpx.Client, sandbox_url: str) -> None:
    message = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}],
               "dlr_url": f"{sandbox_url}/_admin/dlr_sink"}  # fmt: skip
    httpx.post(f"{sandbox_url}/v1/omnimessage", json=message, auth=("sandbox", "sandbox")).raise_for_status()
    clock.advance(5)
    admin.post("/_admin/delivery_reports/flush")
    (report, *_) = admin.get("/_admin/dlr_sink/reports").json()["reports"]
    sent_bytes = json.dumps(report["body"], separators=(",", ":"), ensure_ascii=False).encode()
    assert report["headers"]["x-messente-signature"] == messente_signature("sandbox", sent_bytes)
