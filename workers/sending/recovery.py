"""Recovery of work a lost worker held, without waiting for the broker's visibility timeout.

With the Redis transport a task a worker has taken off its queue sits in kombu's `unacked` hash until
the worker acks it; a worker that dies (SIGKILL, OOM, a lost container) leaves it there, and kombu
hands it back only after ``visibility_timeout`` (an hour by default). smsq does not wait for that:

- every message published to a lane keeps a *watch* in the schedule (``<p>:schedule``: its publish
  time + the lane's limit, ``SMSQ_RECOVERY__*``) until a worker claims it (`queued -> sending`);
- every campaign batch is a lease (``smsq.producers.campaigns.batches``) until a worker finishes it.

A watch or batch that comes due is published again if its task has left the lane's queue: lanes are
FIFO lists, so a task published before the oldest task still waiting there has been taken by a
worker, and if it is still unclaimed that worker was lost (or is about to claim it: harmless). One
still waiting in the queue behind others is looked at again a limit later, so a deep backlog never
makes copies. The copy is safe because the claim is compare-and-set: whichever copy a worker runs
first moves `queued -> sending`; every other copy finds the message no longer `queued` and does
nothing (tests/workers/sending/test_recovery.py). Celery's visibility timeout stays as the last resort.

The oldest waiting task's publish time is read off its envelope (the ``smsq_published_ms`` header
every smsq publish stamps). A task without it (published by another application's Celery) tells
nothing, so nothing is judged lost while it is the oldest. On RabbitMQ, whose queues cannot be read
without taking from them, the same time comes from the queue's depth and smsq's own count of what it
published into the lane (smsq.producers.amqp_lanes explains why that can only err towards "still
waiting"); RabbitMQ also hands a lost consumer's unacknowledged tasks back itself, as soon as its
connection closes.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import redis

from smsq.config import contract as names
from smsq.config.settings import RecoverySettings
from smsq.producers.campaigns.batches import Batch, Batches
from smsq.producers.campaigns.expansion import batch_payload
from smsq.producers.core.store import WATCHED_LANES, Watch
from smsq.producers.publisher import Publisher, oldest_waiting_in_list
from smsq.telemetry.hooks import OFF, Telemetry

log = logging.getLogger(__name__)
# A batch the lane has no room for yet is looked at again this soon (the lane drains continuously).
BACK_PRESSURE_MS = 1000


class BrokerQueues(Protocol):
    """What the recovery check reads from the broker (``CeleryPublisher`` answers both)."""

    def queue_depth(self, queue: str) -> int: ...

    def oldest_waiting_ms(self, queue: str) -> int: ...


class LaneWatch:
    """Looks at the lanes' queues in the broker: how long they are, and the publish time of the oldest
    task waiting in each. ``broker``: the Redis broker's client (its lists are read), an object that
    answers for another broker (RabbitMQ: ``smsq.producers.amqp_lanes``), or None (nothing known)."""

    def __init__(self, broker: redis.Redis | BrokerQueues | None, recovery: RecoverySettings) -> None:
        self.broker = broker
        self.recovery = recovery

    def limit_ms(self, lane: str) -> int:
        return int(self.recovery.limit_for(lane) * 1000)

    def oldest_waiting_ms(self, lane: str) -> int:
        if self.broker is None:
            return 0
        if isinstance(self.broker, redis.Redis):
            return oldest_waiting_in_list(self.broker, lane)
        return self.broker.oldest_waiting_ms(lane)

    def queued(self, lane: str) -> int:
        if self.broker is None:
            return 0
        if isinstance(self.broker, redis.Redis):
            return int(self.broker.llen(lane))
        return self.broker.queue_depth(lane)

    def snapshot(self) -> Watch:
        return Watch(
            oldest_waiting_ms={lane: self.oldest_waiting_ms(lane) for lane in WATCHED_LANES},
            limits_ms={lane: self.limit_ms(lane) for lane in WATCHED_LANES},
        )


def release_batches(
    batches: Batches,
    publisher: Publisher,
    watch: LaneWatch,
    *,
    max_queued: int,
    limit: int = 500,
    telemetry: Telemetry = OFF,
) -> int:
    """Publish due campaign batches: those never published (a producer left them, or the lane had
    no room), and those whose task left the queue without the batch being finished (a lost worker).
    Returns how many were published."""
    due = batches.due(limit)
    if not due:
        return 0
    store = batches.store
    campaigns = sorted({entry.batch.campaign_id for entry in due})
    with store.redis.pipeline(transaction=False) as pipe:
        for campaign_id in campaigns:
            pipe.hmget(store.keys.campaign_prefix + campaign_id, "status", "priority")
        info = dict(zip(campaigns, pipe.execute(), strict=True))
    now = store.now_ms()
    oldest = {lane: watch.oldest_waiting_ms(lane) for lane in WATCHED_LANES}
    room = {lane: max(0, max_queued - watch.queued(lane)) for lane in WATCHED_LANES}
    publish: dict[str, list[Batch]] = {}
    later: dict[str, list[Batch]] = {}
    gone: list[Batch] = []
    full: list[Batch] = []
    recovered = 0
    for entry in due:
        status, priority = info[entry.batch.campaign_id]
        lane = names.LANE_FOR_PRIORITY.get(str(priority), names.LOW)
        if status in (None, "cancelled", "failed"):
            gone.append(entry.batch)  # nothing left to send (the sweep cancels what waited)
        elif status != "running":
            later.setdefault(lane, []).append(entry.batch)  # paused, or not started yet
        elif room[lane] <= 0:
            full.append(entry.batch)  # back-pressure: the lane has its fill of batches
        elif entry.published_ms is None or entry.published_ms < oldest[lane]:
            recovered += entry.published_ms is not None
            room[lane] -= 1
            publish.setdefault(lane, []).append(entry.batch)
        else:
            later.setdefault(lane, []).append(entry.batch)  # still waiting in the queue
    batches.drop(gone)
    for lane, waiting in later.items():
        batches.postpone(waiting, now + watch.limit_ms(lane))
    batches.postpone(full, now + BACK_PRESSURE_MS)
    tasks = [
        (names.SEND_BATCH_TASK, batch_payload(b), lane) for lane, group in publish.items() for b in group
    ]
    if tasks:
        publisher.publish_many(tasks)
        published_ms = store.now_ms()
        for lane, group in publish.items():
            batches.mark_published(group, published_ms, published_ms + watch.limit_ms(lane))
    if recovered:
        log.warning("published %d campaign batches again: their worker was lost", recovered)
        telemetry.recovered("batch", recovered)
    return len(tasks)


def lanes_of(released: Sequence[tuple[str, str]]) -> dict[str, list[str]]:
    """(message id, priority) -> message ids per lane."""
    by_lane: dict[str, list[str]] = {}
    for message_id, priority in released:
        by_lane.setdefault(names.LANE_FOR_PRIORITY.get(priority, names.REGULAR), []).append(message_id)
    return by_lane
