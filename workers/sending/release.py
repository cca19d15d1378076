"""The release loop: publish due messages (time_to_send and retry backoff share one Redis schedule)
and settle messages whose worker died mid-send (expired leases)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from smsq.config import contract as names
from smsq.config.settings import LeaseExpiry
from smsq.producers.core.records import LEASE_TOKEN, PRIORITY, STATUS, error_fields
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import Publisher

log = logging.getLogger(__name__)


def release_due(
    store: MessageStore, publisher: Publisher, *, batch: int, claim_lease_ms: int, group: int = 50
) -> int:
    """Publish every due message (up to ``batch``) to its lane; returns how many were published."""
    released = store.claim_due(batch, claim_lease_ms)
    if released:
        # Due messages go to workers in groups per lane (one task, one claim pipeline, one bulk
        # call), so a burst of scheduled messages or retries costs a fraction of a task each.
        by_lane: dict[str, list[str]] = {}
        for entry in released:
            lane = names.LANE_FOR_PRIORITY.get(entry.priority, names.REGULAR)
            by_lane.setdefault(lane, []).append(entry.message_id)
        publisher.publish_many(
            [
                (names.SEND_MANY_TASK, names.SendManyPayload(message_ids=ids[i : i + group]), lane)
                for lane, ids in by_lane.items()
                for i in range(0, len(ids), group)
            ]
        )
        store.complete_releases([(entry.message_id, entry.claim_score) for entry in released])
    return len(released)


def settle_expired_leases(store: MessageStore, policy: Mapping[str, LeaseExpiry], *, batch: int = 100) -> int:
    """A lease that expired means the worker was lost mid-call: the provider may or may not have the
    message. The lane's policy decides: ``resend`` (OTP: a duplicate beats a missing code) or
    ``unknown``."""
    settled = 0
    for message_id in store.claim_expired_leases(batch, recheck_after_ms=60_000):
        record = store.get(message_id)
        if record is None or record.get(STATUS) != "sending":
            store.redis.zrem(store.keys.leases, message_id)
            continue
        detail = error_fields("lease-expired", "worker lost mid-send")
        action = policy.get(record.get(PRIORITY, "regular"), "unknown")
        if action == "resend":
            moved = store.transition(
                message_id, "queued", fields={**detail, LEASE_TOKEN: ""}, schedule_at_ms=store.now_ms()
            )
        else:
            moved = store.transition(message_id, "unknown", fields={**detail, LEASE_TOKEN: ""})
        settled += moved.ok
        log.warning("message %s: lease expired while sending; policy %s", message_id, action)
    return settled


def run_release_loop(
    store: MessageStore,
    publisher: Publisher,
    *,
    interval: float,
    batch: int,
    claim_lease_ms: int,
    lease_policy: Mapping[str, LeaseExpiry],
    stop: threading.Event,
    also: Sequence[Callable[[], object]] = (),
) -> None:
    """Until ``stop`` is set. A full batch means more is due: go again at once, otherwise wait.
    ``also``: more release steps run on each pass (scheduled campaigns)."""
    while not stop.is_set():
        try:
            published = release_due(store, publisher, batch=batch, claim_lease_ms=claim_lease_ms)
            settle_expired_leases(store, lease_policy)
            for step in also:
                step()
        except Exception:  # a Redis blip must not kill the loop; the next pass picks up the work
            log.exception("release pass failed")
            published = 0
        if published < batch:
            stop.wait(interval)
