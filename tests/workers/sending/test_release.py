from __future__ import annotations

import json
import threading

import pytest

from smsq.config.settings import RecoverySettings
from smsq.producers.core.store import MessageStore
from smsq.workers.sending.recovery import LaneWatch
from smsq.workers.sending.release import release_due, run_release_loop, settle_expired_leases
from tests.support.fakes import FakeClock, RecordingPublisher

IDS = [f"00000000-0000-4000-8000-00000000000{n}" for n in range(1, 4)]
# No broker to look at: every published task counts as still waiting in its queue, so nothing is
# published again by recovery (tests/workers/sending/test_recovery.py covers that).
WAITING = LaneWatch(None, RecoverySettings())


def schedule(store: MessageStore, message_id: str, due_in_s: float, priority: str = "regular") -> None:
    fields = {"id": message_id, "status": "scheduled", "priority": priority}
    store.create(message_id, fields, idempotency_key=None, due_ms=store.now_ms() + int(due_in_s * 1000))


def test_release_publishes_due_messages_to_their_lanes_once(store: MessageStore, clock: FakeClock) -> None:
    schedule(store, IDS[0], 0, "high")
    schedule(store, IDS[1], 0, "low")
    schedule(store, IDS[2], 10)
    publisher = RecordingPublisher()
    assert release_due(store, publisher, batch=100, claim_lease_ms=30_000, watch=WAITING) == 2
    assert sorted(publisher.published, key=lambda entry: entry[2]) == [
        ("smsq.send_many", {"message_ids": [IDS[0]]}, "high"),
        ("smsq.send_many", {"message_ids": [IDS[1]]}, "low"),
    ]
    assert release_due(store, publisher, batch=100, claim_lease_ms=30_000, watch=WAITING) == 0
    clock.advance(60)  # well past any claim lease: released entries are gone for good
    assert release_due(store, publisher, batch=100, claim_lease_ms=30_000, watch=WAITING) == 1
    assert publisher.published[-1] == ("smsq.send_many", {"message_ids": [IDS[2]]}, "regular")


def test_a_publisher_that_dies_mid_release_loses_nothing(store: MessageStore, clock: FakeClock) -> None:
    schedule(store, IDS[0], 0)
    broken = RecordingPublisher(fail=True)
    with pytest.raises(ConnectionError):
        release_due(store, broken, batch=100, claim_lease_ms=5_000, watch=WAITING)
    clock.advance(5)
    publisher = RecordingPublisher()
    assert release_due(store, publisher, batch=100, claim_lease_ms=5_000, watch=WAITING) == 1
    assert publisher.published == [("smsq.send_many", {"message_ids": [IDS[0]]}, "regular")]


def lost_in_sending(
    store: MessageStore, message_id: str, priority: str, calling: str | None = "messente"
) -> None:
    """A worker claimed the message and, with ``calling``, had started its request to that provider."""
    store.create(message_id, {"id": message_id, "status": "queued", "priority": priority},
                 idempotency_key=None, due_ms=None)  # fmt: skip
    store.transition(message_id, "sending", fields={"lease_token": "t"}, lease_until_ms=store.now_ms() + 1000)
    if calling:
        assert store.mark_calling([message_id], "t", calling) == [True]


def test_expired_leases_follow_the_lane_policy(store: MessageStore, clock: FakeClock) -> None:
    lost_in_sending(store, IDS[0], "high")
    lost_in_sending(store, IDS[1], "low")
    policy = {"high": "resend", "regular": "unknown", "low": "unknown"}
    assert settle_expired_leases(store, policy) == 0  # not expired yet
    clock.advance(2)
    assert settle_expired_leases(store, policy) == 2  # type: ignore[arg-type]
    assert store.get(IDS[0])["status"] == "queued"  # type: ignore[index]
    assert store.get(IDS[1])["status"] == "unknown"  # type: ignore[index]
    assert store.get(IDS[1])["last_error_code"] == "lease-expired"  # type: ignore[index]
    # Each request that may have left is in the attempt log as lost, maybe sent: the mark outlives
    # last_error_code, which the resend's answer (or a poll) overwrites.
    for message_id in IDS[:2]:
        (entry,) = json.loads("[" + store.get(message_id)["attempt_log"] + "]")  # type: ignore[index]
        assert (entry["outcome"], entry["provider"], entry["maybe_sent"]) == ("lost", "messente", True)
    publisher = RecordingPublisher()
    assert (
        release_due(store, publisher, batch=10, claim_lease_ms=1000, watch=WAITING) == 1
    )  # the OTP is resent
    assert publisher.published == [("smsq.send_many", {"message_ids": [IDS[0]]}, "high")]


def test_the_loop_releases_until_stopped(store: MessageStore) -> None:
    schedule(store, IDS[0], 0)
    stop = threading.Event()

    class StopAfterPublish(RecordingPublisher):
        def publish(self, task, kwargs, queue):  # type: ignore[no-untyped-def]
            super().publish(task, kwargs, queue)
            stop.set()

    publisher = StopAfterPublish()
    run_release_loop(
        store,
        publisher,
        interval=0.01,
        batch=10,
        claim_lease_ms=1000,
        lease_policy={},
        watch=WAITING,
        stop=stop,
    )
    assert publisher.published == [("smsq.send_many", {"message_ids": [IDS[0]]}, "regular")]


def test_due_messages_go_out_in_groups_per_lane(store: MessageStore) -> None:
    ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(7)]
    for n, message_id in enumerate(ids):
        schedule(store, message_id, 0, "high" if n < 2 else "low")
    publisher = RecordingPublisher()
    assert release_due(store, publisher, batch=100, claim_lease_ms=30_000, watch=WAITING, group=3) == 7
    groups = sorted((queue, len(kwargs["message_ids"])) for _, kwargs, queue in publisher.published)
    assert groups == [("high", 2), ("low", 2), ("low", 3)]
    assert sorted(i for _, kwargs, _ in publisher.published for i in kwargs["message_ids"]) == ids


def test_a_lease_lost_before_the_request_left_goes_back_to_queued_not_unknown(
    store: MessageStore, clock: FakeClock
) -> None:
    lost_in_sending(store, IDS[0], "low", calling=None)  # claimed; the request had not started
    lost_in_sending(store, IDS[1], "low")  # mid-call
    clock.advance(2)
    assert settle_expired_leases(store, {"low": "unknown"}) == 2
    requeued, unknown = store.get(IDS[0]), store.get(IDS[1])
    assert requeued["status"] == "queued" and "before its request left" in requeued["last_error_detail"]  # type: ignore[index]
    assert unknown["status"] == "unknown"  # type: ignore[index]
    assert "attempts" not in requeued  # type: ignore[operator]  # no attempt was spent
    assert "attempt_log" not in requeued  # type: ignore[operator]  # nor one logged
    publisher = RecordingPublisher()
    assert release_due(store, publisher, batch=10, claim_lease_ms=1000, watch=WAITING) == 1
    assert publisher.published == [("smsq.send_many", {"message_ids": [IDS[0]]}, "low")]


def test_a_lease_lost_mid_call_to_an_idempotent_provider_is_resent_to_that_provider(
    store: MessageStore, clock: FakeClock
) -> None:
    lost_in_sending(store, IDS[0], "low", calling="smsapi")
    lost_in_sending(store, IDS[1], "low", calling="messente")
    clock.advance(2)
    settle_expired_leases(store, {"low": "unknown"}, idempotent=frozenset({"smsapi"}))
    resent = store.get(IDS[0])
    assert (resent["status"], resent["resend_via"]) == ("queued", "smsapi")  # type: ignore[index]
    assert store.get(IDS[1])["status"] == "unknown"  # type: ignore[index]  # Messente may have it


def test_a_record_whose_lease_was_lost_is_not_marked_so_its_request_never_leaves(
    store: MessageStore,
) -> None:
    """A slow worker's lease expired and the message went to another worker (a new token): the
    first worker's mark is refused for that record, which tells it not to send (scenario 1 of
    bench/faults.py counted 14 such double sends before the refusal was heeded)."""
    lost_in_sending(store, IDS[0], "low", calling=None)
    lost_in_sending(store, IDS[1], "low", calling=None)
    store.transition(IDS[1], "queued", fields={"lease_token": ""})
    store.transition(
        IDS[1], "sending", fields={"lease_token": "another"}, lease_until_ms=store.now_ms() + 1000
    )
    assert store.mark_calling([IDS[0], IDS[1]], "t", "messente") == [True, False]
    assert store.get(IDS[1]).get("call_provider") is None  # type: ignore[union-attr]
