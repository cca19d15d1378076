from __future__ import annotations

import itertools

import pytest
import redis

from smsq.producers.core.states import FINAL, STATUSES, TRANSITIONS, sources_of
from smsq.producers.core.store import MessageStore
from tests.support.fakes import FakeClock

ID = "00000000-0000-4000-8000-000000000001"


def new_record(store: MessageStore, status: str = "queued", message_id: str = ID, **extra: str) -> None:
    fields = {"id": message_id, "status": status, "to": "+37251234567", "priority": "regular",
              "channels": "sms", "body": "{}", "created_ms": 0, "attempts": 0, **extra}  # fmt: skip
    store.redis.hset(store.keys.record(message_id), mapping=fields)


@pytest.mark.parametrize(("source", "target"), list(itertools.product(STATUSES, STATUSES)))
def test_every_transition_is_allowed_or_refused_by_the_table(
    store: MessageStore, source: str, target: str
) -> None:
    new_record(store, source)
    outcome = store.transition(ID, target)
    legal = target in TRANSITIONS[source]
    assert outcome.ok is legal
    assert outcome.previous == source
    assert store.get(ID)["status"] == (target if legal else source)  # type: ignore[index]


def test_a_refused_transition_writes_nothing(store: MessageStore) -> None:
    new_record(store, "delivered")
    assert not store.transition(ID, "sent", fields={"provider": "x"}).ok
    assert "provider" not in store.get(ID)  # type: ignore[operator]


def test_transition_of_a_missing_record_says_so(store: MessageStore) -> None:
    outcome = store.transition(ID, "sending")
    assert (outcome.ok, outcome.previous) == (False, None)


def test_final_states_have_no_way_out_and_expire(store: MessageStore) -> None:
    assert {s for s in STATUSES if not TRANSITIONS[s]} <= FINAL
    new_record(store, "sent")
    store.transition(ID, "delivered")
    assert 0 < store.redis.ttl(store.keys.record(ID)) <= 3600  # type: ignore[operator]
    assert "final_ms" in store.get(ID)  # type: ignore[operator]


def test_a_record_created_final_expires_like_one_that_became_final(store: MessageStore) -> None:
    """The create path gives a record created blocked the retention a final transition gives."""
    for message_id, status in ((ID, "blocked"), ("00000000-0000-4000-8000-000000000002", "queued")):
        fields = {"id": message_id, "status": status, "to": "+37251234567", "created_ms": 0}
        assert store.create(message_id, fields, idempotency_key=None, due_ms=None) == (True, message_id)
    assert store.redis.ttl(store.keys.record(ID)) == store.retention_seconds
    assert store.redis.ttl(store.keys.record("00000000-0000-4000-8000-000000000002")) == -1
    assert store.redis.hgetall(store.keys.stats_hour(0)) == {"blocked": "1", "queued": "1"}


def test_unknown_target_status_is_a_programming_error(store: MessageStore) -> None:
    with pytest.raises(ValueError, match="unknown status"):
        sources_of("lost")


def test_lease_token_guards_the_finish(store: MessageStore, clock: FakeClock) -> None:
    new_record(store)
    claim = store.transition(
        ID, "sending", fields={"lease_token": "mine"}, lease_until_ms=5, return_record=True
    )
    assert claim.ok and claim.record is not None and claim.record["lease_token"] == "mine"
    assert store.redis.zscore(store.keys.leases, ID) == 5
    assert not store.transition(ID, "sent", lease_token="someone-else").ok
    assert store.transition(ID, "sent", lease_token="mine").ok
    assert store.redis.zscore(store.keys.leases, ID) is None  # leaving `sending` drops the lease


def test_attempt_log_appends(store: MessageStore) -> None:
    new_record(store, "sending")
    store.transition(ID, "queued", attempt={"number": 1, "outcome": "transient"})
    store.transition(ID, "sending")
    store.transition(ID, "sent", attempt={"number": 2, "outcome": "sent"})
    assert store.get(ID)["attempt_log"] == '{"number":1,"outcome":"transient"},{"number":2,"outcome":"sent"}'  # type: ignore[index]


def test_campaign_counters_move_in_the_same_transaction(store: MessageStore) -> None:
    new_record(store, "queued", campaign_id="c1")
    counts = store.keys.campaign_prefix + "c1:counts"
    store.redis.hset(counts, "queued", 1)
    store.transition(ID, "sending")
    store.transition(ID, "sent")
    assert store.redis.hgetall(counts) == {"queued": "0", "sending": "0", "sent": "1"}


def test_create_with_an_idempotency_key_returns_the_first_id(store: MessageStore) -> None:
    fields = {"id": ID, "status": "queued"}
    assert store.create(ID, fields, idempotency_key="k", due_ms=None) == (True, ID)
    other = "00000000-0000-4000-8000-000000000002"
    assert store.create(other, {**fields, "id": other}, idempotency_key="k", due_ms=10) == (False, ID)
    assert store.get(other) is None
    assert store.scheduled_count() == 0


def test_create_refuses_a_non_initial_status(store: MessageStore) -> None:
    with pytest.raises(ValueError, match="must start"):
        store.create(ID, {"id": ID, "status": "sent"}, idempotency_key=None, due_ms=None)


def test_claim_due_releases_only_due_entries_and_marks_them_queued(
    store: MessageStore, clock: FakeClock
) -> None:
    now = store.now_ms()
    later = "00000000-0000-4000-8000-000000000002"
    store.create(ID, {"id": ID, "status": "scheduled", "priority": "high"}, idempotency_key=None, due_ms=now)
    store.create(later, {"id": later, "status": "scheduled"}, idempotency_key=None, due_ms=now + 5000)
    released = store.claim_due(100, claim_lease_ms=30_000)
    assert [(r.message_id, r.priority) for r in released] == [(ID, "high")]
    assert store.get(ID)["status"] == "queued"  # type: ignore[index]
    assert store.get(later)["status"] == "scheduled"  # type: ignore[index]
    # Claimed but not confirmed: it comes due again after the claim lease, not before.
    assert store.claim_due(100, 30_000) == []
    clock.advance(30)
    assert sorted(r.message_id for r in store.claim_due(100, 30_000)) == [ID, later]


def test_complete_release_keeps_an_entry_a_retry_rescheduled(store: MessageStore) -> None:
    store.create(ID, {"id": ID, "status": "scheduled"}, idempotency_key=None, due_ms=store.now_ms())
    (released,) = store.claim_due(10, 30_000)
    store.redis.zadd(store.keys.schedule, {ID: released.claim_score + 1})  # a retry moved it meanwhile
    assert not store.complete_release(ID, released.claim_score)
    assert store.scheduled_count() == 1
    store.redis.zadd(store.keys.schedule, {ID: released.claim_score})
    assert store.complete_release(ID, released.claim_score)
    assert store.scheduled_count() == 0


def test_claim_due_drops_entries_that_are_no_longer_waiting(store: MessageStore) -> None:
    store.create(ID, {"id": ID, "status": "scheduled"}, idempotency_key=None, due_ms=store.now_ms())
    store.transition(ID, "cancelled")
    assert store.claim_due(10, 30_000) == []
    assert store.scheduled_count() == 0


def test_dead_letters_keep_the_payload_and_the_error(store: MessageStore) -> None:
    store.dead_letter("smsq.send", {"kwargs": {"message_id": "nope"}}, "message_id: invalid")
    (entry,) = store.dead_letters()
    assert (
        entry["task"] == "smsq.send"
        and "nope" in entry["payload"]
        and entry["error"] == "message_id: invalid"
    )


def test_keys_share_one_prefix(redis_client: redis.Redis, clock: FakeClock) -> None:
    store = MessageStore(redis_client, prefix="acme", clock=clock, retention_seconds=60)
    new_record(store)
    assert redis_client.keys("*") == [f"acme:msg:{ID}"]


def test_many_transitions_in_one_call_behave_like_single_ones(store: MessageStore) -> None:
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 5)]
    for message_id, status in zip(ids, ["queued", "sent", "queued", "queued"], strict=True):
        new_record(store, status, message_id, campaign_id="c9")
    store.redis.hset(store.keys.campaign_prefix + "c9:counts", mapping={"queued": 3, "sent": 1})
    claim = {
        "allowed_from": {"queued"},
        "fields": {"lease_token": "t"},
        "lease_until_ms": 99,
        "return_record": True,
    }
    results = store.transition_many([(i, "sending", claim) for i in ids[:3]] + [(ids[3], "delivered", {})])
    assert [(r.ok, r.previous) for r in results] == [
        (True, "queued"),
        (False, "sent"),
        (True, "queued"),
        (False, "queued"),
    ]
    assert results[0].record is not None and results[0].record["lease_token"] == "t"
    assert store.redis.zrange(store.keys.leases, 0, -1) == sorted([ids[0], ids[2]])
    assert store.redis.hgetall(store.keys.campaign_prefix + "c9:counts") == {
        "queued": "1",
        "sent": "1",
        "sending": "2",
    }


def test_more_transitions_than_one_call_takes_are_split(
    store: MessageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsq.producers.core import store as store_module

    monkeypatch.setattr(store_module, "MANY_AT_ONCE", 2)
    ids = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(5)]
    for message_id in ids:
        new_record(store, "queued", message_id)
    assert [r.ok for r in store.transition_many([(i, "cancelled", {}) for i in ids])] == [True] * 5
    assert {store.get(i)["status"] for i in ids} == {"cancelled"}  # type: ignore[index]
