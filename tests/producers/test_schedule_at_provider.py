from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CannotCancel
from tests.support.fakes import FakeClock, RecordingPublisher


def later(clock: FakeClock, seconds: float) -> dict[str, Any]:
    when = datetime.fromtimestamp(clock() + seconds, tz=UTC).isoformat()
    return {"to": "+37251234567", "time_to_send": when, "messages": [{"channel": "sms", "text": "hi"}]}


def test_a_future_message_is_handed_over_at_once(store: MessageStore, clock: FakeClock) -> None:
    publisher = RecordingPublisher()
    receipt = Smsq(store, publisher, schedule_at_provider=True).send(later(clock, 3600))
    assert receipt.status == "queued"
    assert publisher.published == [("smsq.send", {"message_id": receipt.message_id}, "regular")]
    result = Smsq(store, publisher).result(receipt.message_id)
    assert result.scheduled_for == datetime.fromtimestamp(clock() + 3600, tz=UTC)


def held_by_provider(store: MessageStore, smsq: Smsq, clock: FakeClock) -> str:
    message_id = smsq.send(later(clock, 3600)).message_id
    store.transition(message_id, "sending")
    store.transition(message_id, "sent", fields={"provider": "messente", "provider_message_id": "omni-1",
                                                 "provider_scheduled": "1"})  # fmt: skip
    return message_id


def test_cancel_asks_the_provider_and_reports_its_answer(store: MessageStore, clock: FakeClock) -> None:
    publisher = RecordingPublisher()
    smsq = Smsq(store, publisher, schedule_at_provider=True)
    message_id = held_by_provider(store, smsq, clock)
    publisher.answer = {"cancelled": False, "status": "sent", "reason": "the provider already sent it"}
    with pytest.raises(CannotCancel, match="the provider already sent it"):
        smsq.cancel(message_id)
    assert publisher.published[-1] == ("smsq.cancel_at_provider", {"message_id": message_id}, "high")


def test_a_message_sent_normally_is_not_asked_about(store: MessageStore, clock: FakeClock) -> None:
    publisher = RecordingPublisher()
    smsq = Smsq(store, publisher)
    message_id = smsq.send(later(clock, -1)).message_id
    store.transition(message_id, "sending")
    store.transition(message_id, "sent")
    with pytest.raises(CannotCancel, match="already sent"):
        smsq.cancel(message_id)
    assert [task for task, _, _ in publisher.published] == ["smsq.send"]
