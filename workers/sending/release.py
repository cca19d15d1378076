"""The release loop: publish due messages (time_to_send and retry backoff share one Redis schedule),
publish again what a lost worker held (``smsq.workers.sending.recovery``), and settle messages whose
worker died mid-send (expired leases)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping, Sequence

from smsq.config import contract as names
from smsq.config.settings import LeaseExpiry
from smsq.producers.core.records import (
    ATTEMPTS,
    CALL_PROVIDER,
    LEASE_TOKEN,
    PRIORITY,
    RESEND_VIA,
    STATUS,
    error_fields,
)
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import Publisher
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.workers.sending.recovery import LaneWatch, lanes_of
from smsq.workers.sending.single import attempt_entry

log = logging.getLogger(__name__)


def release_due(
    store: MessageStore,
    publisher: Publisher,
    *,
    batch: int,
    claim_lease_ms: int,
    watch: LaneWatch,
    group: int = 50,
    telemetry: Telemetry = OFF,
) -> int:
    """Publish every due message (up to ``batch``) to its lane, and again every watched message a lost
    worker had taken (see ``smsq.workers.sending.recovery``); returns how many were published."""
    released = store.claim_due(batch, claim_lease_ms, watch.snapshot())
    if released:
        # Due messages go to workers in groups per lane (one task, one claim pipeline, one bulk
        # call), so a burst of scheduled messages or retries costs a fraction of a task each.
        by_lane = lanes_of([(entry.message_id, entry.priority) for entry in released])
        publisher.publish_many(
            [
                (names.SEND_MANY_TASK, names.SendManyPayload(message_ids=ids[i : i + group]), lane)
                for lane, ids in by_lane.items()
                for i in range(0, len(ids), group)
            ]
        )
        published_ms = store.now_ms()  # after the publish: never earlier than the tasks' own stamps
        store.mark_published(
            [
                (entry.message_id, entry.claim_score, published_ms + watch.limit_ms(lane_of(entry.priority)))
                for entry in released
            ],
            published_ms,
        )
        recovered = sum(entry.recovered for entry in released)
        if recovered:
            log.warning("published %d messages again: the worker that took them was lost", recovered)
            telemetry.recovered("message", recovered)
    return len(released)


def lane_of(priority: str) -> str:
    return names.LANE_FOR_PRIORITY.get(priority, names.REGULAR)


# Why a lease expired, on the record (last_error_detail), per what the record says about the request.
NOT_STARTED = "worker lost before its request left: queued again"
IDEMPOTENT_RESEND = "worker lost mid-send: sent again to {provider}, which drops a repeat of the same id"
MAYBE_SENT = "worker lost mid-send"


def settle_expired_leases(
    store: MessageStore,
    policy: Mapping[str, LeaseExpiry],
    *,
    idempotent: frozenset[str] = frozenset(),
    batch: int = 100,
    telemetry: Telemetry = OFF,
) -> int:
    """A lease that expired means the worker was lost while it held the message. What happens next
    depends on what the record says about its request (``call_provider``, written just before it left):

    - none: the request had certainly not left, so the message goes back to `queued`, as if nothing
      happened (no attempt spent);
    - to a provider in ``idempotent`` (SMSAPI: ``idx`` + ``check_idx``): it is sent again, to that
      provider alone, which refuses a repeat of the same id, so it cannot go out twice;
    - otherwise the provider may or may not have it, and the lane's policy decides: ``resend`` (OTP: a
      duplicate beats a missing code) or ``unknown``."""
    settled = 0
    now = store.now_ms()
    for message_id in store.claim_expired_leases(batch, recheck_after_ms=60_000):
        record = store.get(message_id)
        if record is None or record.get(STATUS) != "sending":
            store.redis.zrem(store.keys.leases, message_id)
            continue
        calling = record.get(CALL_PROVIDER, "")
        if not calling:
            action, detail = "requeue", NOT_STARTED
        elif calling in idempotent:
            action, detail = "resend", IDEMPOTENT_RESEND.format(provider=calling)
        else:
            action, detail = policy.get(record.get(PRIORITY, "regular"), "unknown"), MAYBE_SENT
        fields = {**error_fields("lease-expired", detail), LEASE_TOKEN: ""}
        if action == "resend" and calling in idempotent:
            fields[RESEND_VIA] = calling
        # A request that may have left is an attempt in the log, marked as such: last_error_code is
        # overwritten by whatever comes next (a poll's answer), the log is not, so a resend's
        # second copy stays told apart from an unexplained one.
        number = int(record.get(ATTEMPTS) or 0) + 1
        lost = attempt_entry(number, calling, now, "lost", maybe_sent=True) if calling else None
        if action == "unknown":
            moved = store.transition(message_id, "unknown", fields=fields, attempt=lost)
        else:
            moved = store.transition(message_id, "queued", fields=fields, schedule_at_ms=now, attempt=lost)
        settled += moved.ok
        telemetry.recovered("lease", int(moved.ok))
        log.warning(
            "message %s: lease expired while sending (%s): %s", message_id, calling or "no call", action
        )
    return settled


def run_release_loop(
    store: MessageStore,
    publisher: Publisher,
    *,
    interval: float,
    batch: int,
    claim_lease_ms: int,
    lease_policy: Mapping[str, LeaseExpiry],
    watch: LaneWatch,
    stop: threading.Event,
    idempotent: frozenset[str] = frozenset(),
    also: Sequence[Callable[[], object]] = (),
    active: Callable[[], bool] = lambda: True,
    telemetry: Telemetry = OFF,
) -> None:
    """Until ``stop`` is set. A full batch means more is due: go again at once, otherwise wait.
    ``also``: more release steps run on each pass (campaign batches, scheduled campaigns).
    ``active``: false while another beat holds the lease (smsq.workers.lease): this one stands by."""
    while not stop.is_set():
        if not active():
            stop.wait(interval)
            continue
        try:
            published = release_due(
                store, publisher, batch=batch, claim_lease_ms=claim_lease_ms, watch=watch, telemetry=telemetry
            )
            settle_expired_leases(store, lease_policy, idempotent=idempotent, telemetry=telemetry)
            for step in also:
                step()
        except Exception:  # a Redis blip must not kill the loop; the next pass picks up the work
            log.exception("release pass failed")
            published = 0
        if published < batch:
            stop.wait(interval)
