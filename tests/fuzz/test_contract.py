"""The message contract: every accepted input round-trips; every rejected one raises InvalidInput
naming a field (one line) and writes nothing."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from hypothesis import given

from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import parse_omnimessage
from tests.fuzz.strategies import omnimessage
from tests.support.fakes import RecordingPublisher


@given(message=omnimessage())
def test_an_omnimessage_round_trips_or_is_refused_naming_a_field(message: Any) -> None:
    try:
        parsed = parse_omnimessage(message)
    except InvalidInput as error:
        assert error.problems and all(
            field and "\n" not in f"{field}: {why}" for field, why in error.problems
        )
        return
    assert parse_omnimessage(parsed.wire()) == parsed
    assert parsed.to.startswith("+") and parsed.to[1:].isascii() and parsed.to[1:].isdigit()


@given(message=omnimessage())
def test_send_stores_one_record_or_nothing(store: MessageStore, message: Any) -> None:
    store.redis.flushdb()
    publisher = RecordingPublisher()
    smsq = Smsq(store, publisher, schedule_horizon=timedelta(days=90))
    try:
        receipt = smsq.send(message)
    except InvalidInput:
        assert store.redis.dbsize() == 0 and publisher.published == []
        return
    assert smsq.result(receipt.message_id).status in ("queued", "scheduled")
