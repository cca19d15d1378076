"""The figures that are state, not events, read from Redis when asked (a scrape, a `smsq top` frame):
lane depth and the age of each lane's oldest task, circuits, the limiters, the schedule and poll
backlogs, campaigns in progress, dead letters. Two pipelined round trips to the broker and the store
whatever their size (campaigns: at most ``max_campaigns``), so a scrape costs the same at any load.

The oldest task's age comes from the ``smsq_published_ms`` header smsq stamps on every task it
publishes (``smsq.producers.publisher``), read off the tail of the lane's list (LPUSH + BRPOP: the
tail is the oldest). A task without it (another application's Celery) shows age 0. On RabbitMQ,
whose queues cannot be read without taking from them, depth is a passive declare and the age comes
from smsq's own publish counts and marks (``smsq.producers.amqp_lanes``), as recovery reads them.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

import redis

from smsq.config import contract
from smsq.config.celery import make_celery
from smsq.config.settings import PROVIDER_NAMES, Settings
from smsq.producers.campaigns.model import PENDING
from smsq.producers.core.keys import CAMPAIGN_COUNTS_SUFFIX, CallbackKeys, Keys
from smsq.producers.core.store import NOTHING_WAITING
from smsq.producers.errors import SmsqError
from smsq.producers.publisher import PUBLISHED_HEADER, CeleryPublisher
from smsq.telemetry import names
from smsq.telemetry.recorder import LABEL_SEPARATOR

log = logging.getLogger(__name__)


class LaneSource(Protocol):
    """What a publisher can tell of a lane on any broker (``CeleryPublisher``)."""

    def queue_depth(self, queue: str) -> int: ...

    def oldest_waiting_ms(self, queue: str) -> int: ...


# Campaign states whose messages still move (their counts are campaign progress).
IN_PROGRESS = ("running", "paused", "scheduled", "creating")


@dataclass(frozen=True)
class Lane:
    name: str
    depth: int
    oldest_age_seconds: float  # 0 when empty


@dataclass(frozen=True)
class CampaignLine:
    id: str
    name: str
    status: str
    messages: int
    counts: Mapping[str, int]

    @property
    def pending(self) -> int:
        return sum(self.counts.get(status, 0) for status in PENDING)


@dataclass(frozen=True)
class Totals:
    """Running totals per provider that `smsq top` turns into rates between two frames:
    (provider, ``sent`` | ``failed`` | ``errors`` | ``rate_limited``) -> count so far."""

    at: float
    counts: Mapping[tuple[str, str], float]


@dataclass(frozen=True)
class Snapshot:
    at: float
    lanes: list[Lane]
    circuits_open: dict[str, bool]
    limiter_backlog_seconds: dict[str, float]
    sending: int
    scheduled: int
    polls_due: int
    polls_pending: int
    dead_letters: int
    callback_backlog: int
    callbacks_dead: int
    campaigns: list[CampaignLine] = field(default_factory=list)
    campaign_states: dict[str, int] = field(default_factory=dict)


class LiveReader:
    def __init__(
        self,
        store: redis.Redis,
        broker: redis.Redis | None,
        prefix: str,
        *,
        max_campaigns: int = 200,
        clock: Callable[[], float] = time.time,
        lanes_from: LaneSource | None = None,
    ) -> None:
        """``store``: the state store's client (decode_responses=True); ``broker``: the broker's
        when it is Redis; else ``lanes_from`` tells each lane's depth and oldest task (RabbitMQ);
        with neither, lanes read as empty."""
        self.store = store
        self.broker = broker
        self.lanes_from = lanes_from
        self.keys = Keys(prefix)
        self.max_campaigns = max_campaigns
        self.clock = clock

    def lanes(self) -> list[Lane]:
        now_ms = self.clock() * 1000
        if self.broker is None:
            return self._lanes_from_source(now_ms)
        with self.broker.pipeline(transaction=False) as pipe:
            for lane in contract.ALL_QUEUES:
                pipe.llen(lane)
                pipe.lindex(lane, -1)
            replies = pipe.execute()
        lanes = []
        for index, lane in enumerate(contract.ALL_QUEUES):
            depth, tail = int(replies[2 * index]), replies[2 * index + 1]
            published = _published_ms(tail)
            age = max(0.0, (now_ms - published) / 1000) if published else 0.0
            lanes.append(Lane(lane, depth, age))
        return lanes

    def _lanes_from_source(self, now_ms: float) -> list[Lane]:
        if self.lanes_from is None:
            return [Lane(lane, 0, 0.0) for lane in contract.ALL_QUEUES]
        lanes = []
        for lane in contract.ALL_QUEUES:
            try:
                depth = self.lanes_from.queue_depth(lane)
                oldest = self.lanes_from.oldest_waiting_ms(lane) if depth else NOTHING_WAITING
            except (SmsqError, OSError) as error:  # the broker unreachable: this scrape cannot tell
                log.warning("could not read lane %s from the broker: %s", lane, error)
                depth, oldest = 0, NOTHING_WAITING
            # 0: the marks cannot tell (nothing published by smsq is known to wait): age 0.
            age = max(0.0, (now_ms - oldest) / 1000) if oldest not in (0, NOTHING_WAITING) else 0.0
            lanes.append(Lane(lane, depth, age))
        return lanes

    def snapshot(self) -> Snapshot:
        lanes = self.lanes()
        keys = self.keys
        callbacks = CallbackKeys(keys)
        now = self.clock()
        with self.store.pipeline(transaction=False) as pipe:
            for provider in PROVIDER_NAMES:
                pipe.exists(keys.circuit(provider))
                pipe.get(keys.rate(provider))
            pipe.time()
            pipe.zcard(keys.leases)
            pipe.zcard(keys.schedule)
            pipe.zcount(keys.polls, "-inf", int(now * 1000))
            pipe.zcard(keys.polls)
            pipe.llen(keys.dead_letters)
            pipe.zcount(callbacks.due, "-inf", int(now * 1000))
            pipe.zcard(callbacks.dead)
            pipe.zrevrange(keys.campaigns, 0, self.max_campaigns - 1)
            replies = pipe.execute()
        per_provider = 2 * len(PROVIDER_NAMES)
        circuits: dict[str, bool] = {p: bool(replies[2 * i]) for i, p in enumerate(PROVIDER_NAMES)}
        seconds, micros = replies[per_provider]
        server_us = int(seconds) * 1_000_000 + int(micros)  # the limiter runs on Redis server time
        backlog: dict[str, float] = {
            p: max(0.0, (int(replies[2 * i + 1]) - server_us) / 1_000_000) if replies[2 * i + 1] else 0.0
            for i, p in enumerate(PROVIDER_NAMES)
        }
        rest = replies[per_provider + 1 :]
        sending, scheduled, polls_due, polls_pending, dead, callback_backlog, callbacks_dead = (
            int(value) for value in rest[:7]
        )
        campaign_ids = [str(value) for value in rest[-1]]
        campaigns = self._campaigns(campaign_ids)
        states: dict[str, int] = {}
        for line in campaigns:
            states[line.status] = states.get(line.status, 0) + 1
        return Snapshot(
            at=now,
            lanes=lanes,
            circuits_open=circuits,
            limiter_backlog_seconds=backlog,
            sending=sending,
            scheduled=scheduled,
            polls_due=polls_due,
            polls_pending=polls_pending,
            dead_letters=dead,
            callback_backlog=callback_backlog,
            callbacks_dead=callbacks_dead,
            campaigns=[line for line in campaigns if line.status in IN_PROGRESS],
            campaign_states=states,
        )

    def totals(self) -> Totals:
        """What the processes recorded so far (``smsq.telemetry.recorder``'s hashes), per provider."""
        with self.store.pipeline(transaction=False) as pipe:
            for metric in (names.MESSAGES, names.PROVIDER_ERRORS, names.RATE_LIMITED):
                pipe.hgetall(self.keys.metrics(metric.name))
            messages, errors, limited = pipe.execute()
        counts: dict[tuple[str, str], float] = {}

        def add(provider: str, what: str, value: str) -> None:
            counts[(provider, what)] = counts.get((provider, what), 0.0) + float(value)

        for series, value in messages.items():
            status, _, rest = series.partition(LABEL_SEPARATOR)
            if status in ("sent", "failed"):
                add(rest.partition(LABEL_SEPARATOR)[0], status, value)
        for series, value in errors.items():
            add(series.partition(LABEL_SEPARATOR)[0], "errors", value)
        for series, value in limited.items():
            add(series, "rate_limited", value)
        return Totals(self.clock(), counts)

    def _campaigns(self, campaign_ids: list[str]) -> list[CampaignLine]:
        if not campaign_ids:
            return []
        with self.store.pipeline(transaction=False) as pipe:
            for campaign_id in campaign_ids:
                pipe.hmget(self.keys.campaign(campaign_id), "name", "status", "messages")
                pipe.hgetall(self.keys.campaign(campaign_id) + CAMPAIGN_COUNTS_SUFFIX)
            replies = pipe.execute()
        lines = []
        for index, campaign_id in enumerate(campaign_ids):
            (name, status, messages), counts = replies[2 * index], replies[2 * index + 1]
            if status is None:
                continue
            shown = "finished" if status == "running" and not _pending(counts) else status
            lines.append(
                CampaignLine(
                    campaign_id,
                    name or "",
                    shown,
                    int(messages or 0),
                    {str(k): int(v) for k, v in counts.items() if int(v)},
                )
            )
        return lines


def _pending(counts: Mapping[str, str]) -> int:
    return sum(int(counts.get(status, 0)) for status in PENDING)


def _published_ms(raw: bytes | str | None) -> int:
    if raw is None:
        return 0
    try:
        return int(json.loads(raw)["headers"][PUBLISHED_HEADER])
    except (ValueError, KeyError, TypeError):
        return 0


def reader_for(settings: Settings) -> LiveReader:
    """A reader of the Redis (and Redis broker) the settings name, with bounded timeouts."""
    client = redis.Redis.from_url(
        settings.redis_url, decode_responses=True, socket_timeout=5, socket_connect_timeout=2
    )
    broker = broker_client(settings.effective_broker_url)
    lanes_from = None
    if broker is None:  # RabbitMQ: through a publisher's passive declares and smsq's publish marks
        lanes_from = CeleryPublisher(make_celery(settings))
    return LiveReader(
        client,
        broker,
        settings.key_prefix,
        max_campaigns=settings.metrics.max_campaigns,
        lanes_from=lanes_from,
    )


def broker_client(url: str) -> redis.Redis | None:
    """A client for the broker's lists, or None when the broker is not Redis."""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return None
    return redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
