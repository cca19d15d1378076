"""Events are written by records.lua in the step that changes the status: one per status change the
app hears of, numbered per message, only for messages of a key with a callback URL."""

from __future__ import annotations

import json

import pytest

from smsq.producers.callbacks.events import CALLBACK_STATUSES, CallbackEvents
from smsq.producers.core.keys import CallbackKeys
from smsq.producers.core.states import STATUSES, TRANSITIONS
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CallbackNotFound
from tests.producers.callbacks.conftest import URL, api_key
from tests.support.fakes import FakeClock

ID = "00000000-0000-4000-8000-000000000001"


def new_record(store: MessageStore, status: str = "queued", **extra: str) -> None:
    fields = {"id": ID, "status": status, "to": "+37251234567", "priority": "regular", "channels": "sms",
              "created_ms": 0, **extra}  # fmt: skip
    store.redis.hset(store.keys.record(ID), mapping=fields)


def due(store: MessageStore) -> dict[str, float]:
    return dict(store.redis.zrange(CallbackKeys(store.keys).due, 0, -1, withscores=True))  # type: ignore[arg-type]


def test_each_status_change_after_acceptance_is_one_event_numbered_in_order(
    store: MessageStore, events: CallbackEvents, clock: FakeClock
) -> None:
    new_record(store, key_id=api_key(store))
    store.transition(ID, "sending", fields={"lease_token": "t"})
    store.transition(ID, "sent", lease_token="t")
    clock.advance(2)
    store.transition(ID, "delivered")
    assert sorted(due(store)) == [f"{ID}:1", f"{ID}:2"]  # sending is not told
    first, second = events.get(f"{ID}:1"), events.get(f"{ID}:2")
    assert (first.fields["status"], first.fields["previous"], first.fields["seq"]) == ("sent", "sending", "1")
    assert (second.fields["status"], second.fields["previous"], second.fields["seq"]) == (
        "delivered",
        "sent",
        "2",
    )
    assert second.at_ms - first.at_ms == 2000
    assert store.get(ID)["callback_seq"] == "2"  # type: ignore[index]
    payload = second.payload()
    assert payload["type"] == "message.delivered"
    assert payload["data"] == {"message_id": ID, "status": "delivered", "previous_status": "sent", "sequence": 2,
                               "campaign_id": None, "error": None, "test": False}  # fmt: skip
    assert payload["timestamp"].endswith("Z")
    assert json.loads(second.body()) == payload


@pytest.mark.parametrize(
    ("source", "target"),
    [(s, t) for s in STATUSES for t in sorted(TRANSITIONS[s])],
)
def test_every_legal_transition_to_a_told_status_makes_an_event_and_no_other_does(
    store: MessageStore, source: str, target: str
) -> None:
    new_record(store, source, key_id=api_key(store))
    assert store.transition(ID, target).ok
    assert bool(due(store)) is (target in CALLBACK_STATUSES)


def test_a_refused_transition_makes_no_event(store: MessageStore) -> None:
    new_record(store, "delivered", key_id=api_key(store))
    assert not store.transition(ID, "failed").ok
    assert due(store) == {}


def test_no_event_without_a_key_or_without_a_callback_url(store: MessageStore) -> None:
    new_record(store)  # the Python producer API: no key
    store.transition(ID, "failed")
    assert due(store) == {}
    store.redis.delete(store.keys.record(ID))
    new_record(store, key_id=api_key(store, "k2", url=None))
    store.transition(ID, "failed")
    assert due(store) == {}


def test_a_failure_carries_its_error_and_a_test_key_says_so(
    store: MessageStore, events: CallbackEvents
) -> None:
    new_record(store, key_id=api_key(store), test="1")
    store.transition(ID, "failed", fields={"last_error_code": "101", "last_error_detail": "invalid number"})
    data = events.get(f"{ID}:1").payload()["data"]
    assert data["error"] == {"code": "101", "detail": "invalid number"}
    assert data["test"] is True


def test_a_campaign_message_is_told_to_its_campaigns_key(store: MessageStore, events: CallbackEvents) -> None:
    campaign = "0123456789abcdef0123456789abcdef"
    store.redis.hset(store.keys.campaign(campaign), mapping={"status": "running", "key_id": api_key(store)})
    new_record(store, campaign_id=campaign)
    store.transition(ID, "blocked")
    event = events.get(f"{ID}:1")
    assert (event.key_id, event.payload()["data"]["campaign_id"]) == ("k1", campaign)


def test_a_campaigns_end_is_one_event_with_its_counts(store: MessageStore, events: CallbackEvents) -> None:
    campaign = "0123456789abcdef0123456789abcdef"
    record = {"status": "running", "key_id": api_key(store)}
    event_id = events.emit_campaign_end(campaign, record, {"delivered": "3", "failed": "1", "sent": "0"}, 5)
    payload = events.get(str(event_id)).payload()
    assert payload["type"] == "campaign.finished"
    assert payload["data"] == {"campaign_id": campaign, "status": "running", "counts": {"delivered": 3, "failed": 1},
                               "sequence": 1}  # fmt: skip
    assert events.emit_campaign_end(campaign, {"status": "running"}, {}, 5) is None  # no key: no event


def test_replay_starts_an_event_over_and_an_unknown_id_is_named(
    store: MessageStore, events: CallbackEvents, clock: FakeClock
) -> None:
    new_record(store, key_id=api_key(store))
    store.transition(ID, "failed")
    event_id = f"{ID}:1"
    keys = CallbackKeys(store.keys)
    store.redis.zrem(keys.due, event_id)
    store.redis.hset(keys.event(event_id), mapping={"state": "dead", "attempts": 3})
    store.redis.zadd(keys.dead, {event_id: 1})
    replayed = events.replay_one(event_id, 99)
    assert (replayed.state, replayed.attempts, replayed.fields["window_ms"]) == ("pending", 0, "99")
    assert due(store) == {event_id: 99}
    assert store.redis.zcard(keys.dead) == 0
    with pytest.raises(CallbackNotFound, match="no callback event with id nope:1"):
        events.replay_one("nope:1", 99)


def test_recent_lists_newest_first_and_since_finds_by_time(
    store: MessageStore, events: CallbackEvents, clock: FakeClock
) -> None:
    new_record(store, "sent", key_id=api_key(store))
    store.transition(ID, "unknown")
    clock.advance(1)
    store.transition(ID, "delivered")
    assert [e.id for e in events.recent()] == [f"{ID}:2", f"{ID}:1"]
    assert events.since(store.now_ms()) == [f"{ID}:2"]
    assert URL  # the key's URL is not copied into events: a URL changed later is used


def test_the_janitor_tells_a_campaigns_key_when_every_message_is_final(
    store: MessageStore, events: CallbackEvents
) -> None:
    from smsq.producers.blacklist.store import Blacklist
    from smsq.producers.campaigns.api import Campaigns
    from smsq.producers.campaigns.janitor import tidy_campaigns
    from smsq.producers.campaigns.model import message_id
    from tests.support.fakes import RecordingPublisher

    campaigns = Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))
    template = {"messages": [{"channel": "sms", "text": "sale"}]}
    progress = campaigns.create(name="c", template=template, recipients=["+37251000001", "+37251000002"])
    store.redis.hset(store.keys.campaign(progress.id), "key_id", api_key(store))
    for position in (1, 2):
        store.transition(message_id(progress.id, position), "failed")
    assert tidy_campaigns(store, campaigns.expander, expansion_seconds=300).expired == 1
    end = events.get(f"campaign-{progress.id}:1").payload()
    assert (end["type"], end["data"]["counts"]) == ("campaign.finished", {"failed": 2})
    # Each message's own failure was told too, to the campaign's key.
    assert {e.fields["status"] for e in events.recent() if e.fields["kind"] == "message"} == {"failed"}
