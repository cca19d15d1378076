"""Status polls against the provider sandbox over loopback: each outcome's progression, driven by one
clock shared by the store and the sandbox (no sleeping)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import MessenteSettings, RetrySettings
from smsq.config.status_settings import WebhookSettings
from smsq.producers.client import Smsq
from smsq.producers.core.results import MessageResult
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.single import send_message
from smsq.workers.status.followup import Followup
from smsq.workers.status.polling import Poller, PollReport, poll_messages
from smsq.workers.status.schedule import PollSchedule
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.support.sending import make_sender
from tests.workers.status.helpers import polling


@pytest.fixture
def clock(sandbox_clock: FakeClock) -> FakeClock:
    return sandbox_clock  # the store's clock is the sandbox's clock


@pytest.fixture
def messente(sandbox_url: str) -> Iterator[MessenteClient]:
    settings = MessenteSettings(
        base_url=f"{sandbox_url}/v1", username=SecretStr("sandbox"), password=SecretStr("sandbox")
    )
    client = MessenteClient.from_settings(settings, native_schedule=True)
    yield client
    client.close()


def send(
    store: MessageStore, messente: MessenteClient, message: dict[str, Any], *, at_provider: bool = False
) -> str:
    receipt = Smsq(store, RecordingPublisher(), schedule_at_provider=at_provider).send(message)
    sender = make_sender(store, messente, retry=RetrySettings(), schedule_at_provider=at_provider,
                         followup=Followup(polling(), WebhookSettings()))  # fmt: skip
    assert send_message(receipt.message_id, sender).status == "sent"
    return receipt.message_id


def sms(to: str = "+37251234567", **extra: Any) -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": "hi", "sender": "smsq"}], **extra}


def poll_due(store: MessageStore, messente: MessenteClient) -> PollReport:
    claimed = PollSchedule(store, polling()).claim(100)
    return poll_messages(claimed, Poller(store=store, providers={"messente": messente}, polling=polling()))


def result(store: MessageStore, message_id: str) -> MessageResult:
    record = store.get(message_id)
    assert record is not None
    return MessageResult.from_record(record)


@pytest.mark.parametrize(
    ("outcome", "status", "raw", "err"),
    [
        ("delivered", "delivered", "DELIVRD", 0),
        ("undeliverable", "undeliverable", "UNDELIV", 1),
        ("failed", "failed", "FAILED", 3),
        ("expired", "expired", "EXPIRED", 2),
        ("rejected", "undeliverable", "REJECTD", 9),
    ],
)
def test_each_outcome_is_polled_to_its_final_status(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, messente: MessenteClient,
    outcome: str, status: str, raw: str, err: int,
) -> None:  # fmt: skip
    admin.post("/_admin/outcomes", json={"phone": "+37251234567", "outcome": outcome}).raise_for_status()
    message_id = send(store, messente, sms())
    assert poll_due(store, messente).polled == 0  # nothing is due before 30 s
    clock.advance(30)
    report = poll_due(store, messente)
    final = result(store, message_id)
    assert (report.polled, dict(report.settled)) == (1, {status: 1})
    assert final.status == status and final.final_at is not None
    (sms_result,) = final.channel_results
    assert (sms_result.channel, sms_result.status, sms_result.provider_status, sms_result.err) == (
        "sms",
        status,
        raw,
        err,
    )
    if status != "delivered":
        assert final.last_error is not None and final.last_error.code == str(err)
    assert PollSchedule(store, polling()).size() == 0  # settled: out of the poll schedule


def test_in_progress_statuses_keep_polling_on_the_backoff(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, messente: MessenteClient
) -> None:
    message_id = send(store, messente, sms())
    clock.advance(0.5)
    sent_ms = result(store, message_id).sent_at
    assert sent_ms is not None
    # Poll early by moving the entry: the sandbox still has it pending (null status).
    store.redis.zadd(store.keys.polls, {message_id: store.now_ms()})
    report = poll_due(store, messente)
    assert (report.polled, report.rescheduled) == (1, 1) and result(store, message_id).status == "sent"
    assert result(store, message_id).channel_results[0].provider_status is None
    clock.advance(1)  # ACK now
    store.redis.zadd(store.keys.polls, {message_id: store.now_ms()})
    poll_due(store, messente)
    assert result(store, message_id).channel_results[0].provider_status == "ACK"
    base_ms = int(sent_ms.timestamp() * 1000)
    assert store.redis.zscore(store.keys.polls, message_id) == base_ms + 30_000  # the first offset


def test_a_chain_that_fails_over_to_viber_ends_delivered_with_both_channels(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, messente: MessenteClient
) -> None:
    admin.post(
        "/_admin/outcomes", json={"phone": "+37251234567", "outcome": "undeliverable", "channel": "sms"}
    )
    message = {
        "to": "+37251234567",
        "messages": [{"channel": "sms", "text": "hi"}, {"channel": "viber", "text": "hi"}],
    }
    message_id = send(store, messente, message)
    clock.advance(4)  # sms final at 3 s, viber tried from then on, still pending
    store.redis.zadd(store.keys.polls, {message_id: store.now_ms()})
    poll_due(store, messente)
    assert result(store, message_id).status == "sent"  # sms failed, but viber is still going
    clock.advance(30)
    poll_due(store, messente)
    final = result(store, message_id)
    assert final.status == "delivered"
    assert [(c.channel, c.status, c.provider_status) for c in final.channel_results] == [
        ("sms", "undeliverable", "UNDELIV"),
        ("viber", "delivered", "DELIVRD"),
    ]


def test_a_message_the_provider_holds_is_first_polled_after_its_time_to_send_and_deleted_means_cancelled(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, messente: MessenteClient
) -> None:
    due = datetime.fromtimestamp(clock.now, tz=UTC) + timedelta(hours=1)
    message_id = send(store, messente, sms(time_to_send=due.isoformat()), at_provider=True)
    omnimessage_id = result(store, message_id).provider_message_id
    clock.advance(600)
    assert poll_due(store, messente).polled == 0  # held until its time: no polls before
    admin.delete(f"/v1/omnimessage/{omnimessage_id}", auth=("sandbox", "sandbox")).raise_for_status()
    clock.advance(3000 + 30)
    poll_due(store, messente)
    final = result(store, message_id)
    assert final.status == "cancelled" and final.channel_results[0].provider_status == "DELETED"


def test_404_for_a_message_the_provider_held_means_cancelled_there(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, messente: MessenteClient
) -> None:
    due = datetime.fromtimestamp(clock.now, tz=UTC) + timedelta(minutes=5)
    message_id = send(store, messente, sms(time_to_send=due.isoformat()), at_provider=True)
    admin.post("/_admin/reset").raise_for_status()  # the provider no longer knows it
    clock.advance(5 * 60 + 30)
    report = poll_due(store, messente)
    final = result(store, message_id)
    assert dict(report.settled) == {"cancelled": 1} and final.status == "cancelled"
    assert final.last_error is not None and final.last_error.code == "101"


def test_404_for_a_message_sent_at_once_waits_out_the_grace_then_is_unknown(
    store: MessageStore, clock: FakeClock, admin: httpx.Client, messente: MessenteClient
) -> None:
    message_id = send(store, messente, sms())
    admin.post("/_admin/reset").raise_for_status()
    clock.advance(30)
    report = poll_due(store, messente)
    assert (report.errors, report.rescheduled) == (1, 1) and result(store, message_id).status == "sent"
    clock.advance(600)
    poll_due(store, messente)
    final = result(store, message_id)
    assert final.status == "unknown" and final.last_error is not None and final.last_error.code == "101"
