"""A marketing message outside its recipient's send window is deferred through smsq's own schedule
to the next opening (never dropped); a transactional one is not; the setting turns it off."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from smsq.config.cost_settings import CostSettings, WindowSettings
from smsq.producers.client import Smsq
from smsq.producers.core.records import MESSAGE_CLASS, SCHEDULED_FOR_MS, WINDOW_DEFERRED
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from tests.support.fakes import FakeClock, RecordingPublisher

PARIS = "+33612345678"
SATURDAY_NIGHT = datetime(2026, 12, 5, 21, 0, tzinfo=UTC).timestamp()  # 22:00 in Paris
MONDAY_OPENING = datetime(2026, 12, 7, 7, 0, tzinfo=UTC)  # 08:00 in Paris


def promo(**extra: Any) -> dict[str, Any]:
    return {"to": PARIS, "messages": [{"channel": "sms", "text": "Sale!"}], **extra}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def smsq_at(store: MessageStore, publisher: RecordingPublisher, clock: FakeClock, **windows: Any) -> Smsq:
    clock.now = SATURDAY_NIGHT
    cost = CostSettings(windows=WindowSettings(**windows))
    return Smsq(store, publisher, schedule_horizon=timedelta(days=30), cost=cost)


def test_marketing_outside_the_window_waits_in_the_schedule(
    store: MessageStore, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    smsq = smsq_at(store, publisher, clock)
    receipt = smsq.send(promo(), message_class="marketing")
    assert (receipt.status, receipt.deferred_to) == ("scheduled", MONDAY_OPENING)
    assert publisher.published == []  # nothing queued now
    opening_ms = int(MONDAY_OPENING.timestamp() * 1000)
    assert store.redis.zscore(store.keys.schedule, receipt.message_id) == opening_ms
    record = store.get(receipt.message_id) or {}
    assert (record[MESSAGE_CLASS], record[WINDOW_DEFERRED], record[SCHEDULED_FOR_MS]) == (
        "marketing", "1", str(opening_ms)
    )  # fmt: skip
    assert smsq.result(receipt.message_id).scheduled_for == MONDAY_OPENING
    smsq.cancel(receipt.message_id)  # cancel works as for any scheduled message


def test_a_time_to_send_inside_a_closed_window_moves_to_its_opening(
    store: MessageStore, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    smsq = smsq_at(store, publisher, clock)
    sunday_noon = "2026-12-06T11:00:00Z"
    assert smsq.send(promo(time_to_send=sunday_noon), message_class="marketing").deferred_to == MONDAY_OPENING
    tuesday = "2026-12-08T09:00:00Z"
    receipt = smsq.send(promo(time_to_send=tuesday), message_class="marketing")  # inside: as asked
    assert receipt.deferred_to is None and receipt.status == "scheduled"


def test_transactional_and_disabled_are_not_deferred(
    store: MessageStore, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    smsq = smsq_at(store, publisher, clock)
    assert smsq.send(promo()).status == "queued"  # transactional by default
    assert smsq.send(promo(priority="high"), message_class="transactional").status == "queued"
    off = smsq_at(store, publisher, clock, enabled=False)
    assert off.send(promo(), message_class="marketing").status == "queued"


def test_a_bad_class_is_refused(store: MessageStore, publisher: RecordingPublisher, clock: FakeClock) -> None:
    smsq = smsq_at(store, publisher, clock)
    with pytest.raises(InvalidInput, match="message_class: must be transactional or marketing, not 'promo'"):
        smsq.send(promo(), message_class="promo")
    assert store.redis.dbsize() == 0
