from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsq.producers.client import PUBLISH_GRACE_MS, Smsq
from smsq.producers.core.store import IDEMPOTENCY_EXTRA_SECONDS, MessageStore
from smsq.producers.errors import CannotCancel, InvalidInput, MessageNotFound
from tests.support.fakes import FakeClock, RecordingPublisher


def sms(**extra: Any) -> dict[str, Any]:
    return {"to": "+37251234567", "messages": [{"channel": "sms", "text": "Your code is 1234"}], **extra}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def smsq(store: MessageStore, publisher: RecordingPublisher) -> Smsq:
    return Smsq(store, publisher, schedule_horizon=timedelta(days=30))


def iso(clock: FakeClock, seconds: float) -> str:
    return datetime.fromtimestamp(clock() + seconds, tz=UTC).isoformat()


@pytest.mark.parametrize(("priority", "lane"), [("high", "high"), ("regular", "regular"), ("low", "low")])
def test_send_stores_and_queues_on_the_lane_of_its_priority(
    smsq: Smsq, publisher: RecordingPublisher, priority: str, lane: str
) -> None:
    receipt = smsq.send(sms(priority=priority))
    assert (receipt.status, receipt.duplicate) == ("queued", False)
    assert publisher.published == [("smsq.send", {"message_id": receipt.message_id}, lane)]
    result = smsq.result(receipt.message_id)
    assert (result.status, result.to, result.priority, result.channels) == (
        "queued",
        "+37251234567",
        priority,
        ["sms"],
    )
    # Once published, the outbox entry is the message's watch: its lane's recovery limit from now.
    watch = smsq.store.redis.zscore(smsq.store.keys.schedule, receipt.message_id)
    assert watch == smsq.store.now_ms() + smsq.recovery.limit_for(lane) * 1000
    assert int(smsq.store.get(receipt.message_id)["published_ms"]) == smsq.store.now_ms()  # type: ignore[index]


def test_a_publish_that_fails_leaves_the_message_for_the_release_loop(
    store: MessageStore, clock: FakeClock
) -> None:
    smsq = Smsq(store, RecordingPublisher(fail=True))
    receipt = smsq.send(sms())  # accepted: the record and its outbox entry were stored together
    assert receipt.status == "queued" and "published_ms" not in store.get(receipt.message_id)  # type: ignore[operator]
    assert store.claim_due(10, 1000) == []  # not before the grace period
    clock.advance(PUBLISH_GRACE_MS / 1000)
    (released,) = store.claim_due(10, 1000)
    assert store.get(released.message_id)["status"] == "queued"  # type: ignore[index]


def test_future_time_to_send_goes_to_the_schedule(
    smsq: Smsq, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    receipt = smsq.send(sms(time_to_send=iso(clock, 3600)))
    assert receipt.status == "scheduled" and publisher.published == []
    result = smsq.result(receipt.message_id)
    assert result.scheduled_for == datetime.fromtimestamp(clock() + 3600, tz=UTC)
    assert smsq.store.redis.zscore(smsq.store.keys.schedule, receipt.message_id) == (clock() + 3600) * 1000


def test_a_time_in_the_past_sends_now(smsq: Smsq, publisher: RecordingPublisher, clock: FakeClock) -> None:
    receipt = smsq.send(sms(time_to_send=iso(clock, -60)))
    assert receipt.status == "queued" and len(publisher.published) == 1


def test_a_time_beyond_the_horizon_is_refused_and_nothing_is_stored(
    smsq: Smsq, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    with pytest.raises(InvalidInput, match="time_to_send: is more than 30 days ahead"):
        smsq.send(sms(time_to_send=iso(clock, 31 * 86400)))
    assert smsq.store.redis.dbsize() == 0 and publisher.published == []


@pytest.mark.parametrize(
    ("data", "key", "field"),
    [
        (sms(to="not a number"), None, "to"),
        ({"to": "+37251234567", "messages": [{"channel": "sms"}]}, None, "messages.0.sms.text"),
        (sms(), "has spaces", "idempotency_key"),
        (sms(), "", "idempotency_key"),
        (sms(), "x" * 201, "idempotency_key"),
    ],
)
def test_bad_input_is_refused_with_the_field_and_nothing_is_stored_or_queued(
    smsq: Smsq, publisher: RecordingPublisher, data: dict[str, Any], key: str | None, field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        smsq.send(data, idempotency_key=key)
    assert field in [name for name, _ in caught.value.problems]
    assert smsq.store.redis.dbsize() == 0 and publisher.published == []


def test_an_idempotency_key_maps_to_one_message_while_it_can_matter(
    smsq: Smsq, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    first = smsq.send(sms(), idempotency_key="order-42")
    again = smsq.send(sms(priority="high"), idempotency_key="order-42")
    assert again.message_id == first.message_id and again.duplicate
    assert len(publisher.published) == 1
    # Bounded: the retention plus a week (longer than any message stays unfinished), plus the wait
    # until a scheduled message is due.
    store = smsq.store
    assert (
        store.redis.ttl(store.keys.idempotency("order-42"))
        == PUBLISH_GRACE_MS // 1000 + store.retention_seconds + IDEMPOTENCY_EXTRA_SECONDS
    )
    smsq.send(sms(time_to_send=iso(clock, 86400)), idempotency_key="later")
    assert (
        store.redis.ttl(store.keys.idempotency("later"))
        == 86400 + store.retention_seconds + IDEMPOTENCY_EXTRA_SECONDS
    )


def test_results_for_many_ids_in_one_call(smsq: Smsq) -> None:
    ids = [smsq.send(sms()).message_id for _ in range(3)]
    missing = "00000000-0000-4000-8000-00000000dead"
    found = smsq.results([*ids, missing])
    assert [r.id if r else None for r in found.values()] == [*ids, None]


def test_result_of_an_unknown_or_malformed_id(smsq: Smsq) -> None:
    with pytest.raises(MessageNotFound):
        smsq.result("00000000-0000-4000-8000-00000000dead")
    with pytest.raises(InvalidInput, match="message_id: 'abc' is not a message id"):
        smsq.result("abc")


def test_cancel_a_scheduled_message(smsq: Smsq, clock: FakeClock) -> None:
    receipt = smsq.send(sms(time_to_send=iso(clock, 60)))
    assert smsq.cancel(receipt.message_id).status == "cancelled"
    assert smsq.store.scheduled_count() == 0
    clock.advance(120)
    assert smsq.store.claim_due(10, 1000) == []  # never released


def test_a_released_message_cannot_be_cancelled_and_the_caller_is_told_why(smsq: Smsq) -> None:
    receipt = smsq.send(sms())
    with pytest.raises(CannotCancel, match="already released to a send queue") as caught:
        smsq.cancel(receipt.message_id)
    assert caught.value.status == "queued"
    assert smsq.result(receipt.message_id).status == "queued"


def test_cancel_an_unknown_message(smsq: Smsq) -> None:
    with pytest.raises(MessageNotFound):
        smsq.cancel("00000000-0000-4000-8000-00000000dead")
