"""Campaign batches as leases, so no batch is lost with the process that held it.

A batch (positions first..last of one campaign, ``smsq.send_batch``) is registered before its task is
published and removed only when a worker has finished it. Until then it has a deadline:

    <p>:batches            zset  "<campaign>:<first>:<last>" -> ms: when to publish it (not published yet),
                                 when it counts as lost (published), or the running worker's heartbeat
    <p>:batches:published  hash  the same member -> when its task was last published (ms)

The release loop in `smsq beat` publishes what is due and not yet published (back-pressure: while the
lane holds fewer than ``max_queued_batches`` tasks), and publishes again a published batch whose
deadline passed once its task has left the lane's queue (``smsq.workers.sending.recovery``). A worker
pushes the deadline out with every chunk it sends and hands the rest of a batch back when it stops
early (SIGTERM). Publishing a batch twice is harmless: every message is claimed by compare-and-set.
So a producer that dies while queueing a campaign, and a worker killed while holding a batch, cost
at most the lane's recovery limit, never the broker's visibility timeout.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from smsq.producers.core.store import MessageStore

REGISTER_SLICE = 1000  # members per ZADD


@dataclass(frozen=True)
class Batch:
    campaign_id: str
    first: int
    last: int

    @property
    def member(self) -> str:
        return f"{self.campaign_id}:{self.first}:{self.last}"

    @classmethod
    def parse(cls, member: str) -> Batch:
        campaign_id, first, last = member.split(":")
        return cls(campaign_id, int(first), int(last))


@dataclass(frozen=True)
class DueBatch:
    batch: Batch
    published_ms: int | None  # None: never published


class Batches:
    def __init__(self, store: MessageStore) -> None:
        self.store = store
        self.redis = store.redis
        self.key = store.keys.batches
        self.published_key = store.keys.batches_published

    def register(self, batches: Sequence[Batch], due_ms: int) -> None:
        """Batches to publish by ``due_ms`` (NX: one already registered keeps its state)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for start in range(0, len(batches), REGISTER_SLICE):
                mapping = {batch.member: due_ms for batch in batches[start : start + REGISTER_SLICE]}
                pipe.zadd(self.key, mapping, nx=True)
            pipe.execute()

    def mark_published(self, batches: Iterable[Batch], published_ms: int, deadline_ms: int) -> None:
        members = [batch.member for batch in batches]
        if not members:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zadd(self.key, dict.fromkeys(members, deadline_ms), xx=True)
            pipe.hset(self.published_key, mapping=dict.fromkeys(members, published_ms))
            pipe.execute()

    def due(self, limit: int) -> list[DueBatch]:
        now = self.store.now_ms()
        members: list[str] = self.redis.zrangebyscore(self.key, "-inf", now, start=0, num=limit)  # type: ignore[assignment]
        if not members:
            return []
        published = self.redis.hmget(self.published_key, members)
        return [
            DueBatch(Batch.parse(member), int(when) if when else None)
            for member, when in zip(members, published, strict=True)
        ]

    def postpone(self, batches: Iterable[Batch], until_ms: int) -> None:
        mapping = {batch.member: until_ms for batch in batches}
        if mapping:
            self.redis.zadd(self.key, mapping, xx=True)

    def heartbeat(self, batch: Batch, until_ms: int) -> None:
        """A running batch is alive until ``until_ms`` (XX: a finished one is not brought back)."""
        self.redis.zadd(self.key, {batch.member: until_ms}, xx=True)

    def finish(self, batch: Batch) -> None:
        self.drop([batch])

    def drop(self, batches: Iterable[Batch]) -> None:
        members = [batch.member for batch in batches]
        if not members:
            return
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.key, *members)
            pipe.hdel(self.published_key, *members)
            pipe.execute()

    def hand_back(self, batch: Batch, from_position: int) -> Batch:
        """The worker stops early: positions from ``from_position`` on become a batch of their own,
        due at once (the release loop publishes it on its next pass)."""
        rest = Batch(batch.campaign_id, from_position, batch.last)
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrem(self.key, batch.member)
            pipe.hdel(self.published_key, batch.member)
            pipe.zadd(self.key, {rest.member: self.store.now_ms()})
            pipe.execute()
        return rest

    def count(self) -> int:
        return int(self.redis.zcard(self.key))


def ranges(campaign_id: str, first: int, last: int, size: int) -> list[Batch]:
    return [Batch(campaign_id, start, min(last, start + size - 1)) for start in range(first, last + 1, size)]
