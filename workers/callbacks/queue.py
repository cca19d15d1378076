"""The callback events' delivery bookkeeping in Redis: claiming due events (claim.lua), recording
each attempt's outcome (finish.lua), the URLs that answered 410, and trimming the lists."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import redis

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.targets import url_id
from smsq.producers.core.keys import CallbackKeys, Keys
from smsq.producers.core.lua import read
from smsq.producers.core.store import to_ms

CLAIM = read(__package__, "claim.lua")
FINISH = read(__package__, "finish.lua")
DAY = 86400


@dataclass(frozen=True)
class Claimed:
    event_id: str
    claim: int
    url_id: str  # '' : the key had no callback URL when it was claimed


@dataclass(frozen=True)
class Finished:
    """One attempt's outcome: 'delivered', 'retry' (at ``next_due_ms``) or 'dead'."""

    event_id: str
    claim: int
    url_id: str
    outcome: str
    result: str
    next_due_ms: int = 0


class CallbackQueue:
    def __init__(self, client: redis.Redis, keys: Keys, settings: CallbackSettings) -> None:
        self.redis = client
        self.keys = CallbackKeys(keys)
        self.settings = settings
        self._claim = client.register_script(CLAIM)
        self._finish = client.register_script(FINISH)

    def claim(self, now_ms: int, limit: int) -> list[Claimed]:
        s = self.settings
        k = self.keys
        flat = self._claim(
            keys=[k.due],
            args=[k.event_prefix, k.api_key_prefix, k.busy_prefix, now_ms, limit, limit * 4,
                  to_ms(s.claim_lease_seconds), s.per_url_concurrency, to_ms(s.busy_delay)],
        )  # fmt: skip
        return [Claimed(str(flat[i]), int(flat[i + 1]), str(flat[i + 2])) for i in range(0, len(flat), 3)]

    def finish(self, outcomes: Sequence[Finished], now_ms: int) -> int:
        """Record outcomes in one round trip; returns how many held the latest claim."""
        keep = int(self.settings.keep_days * DAY)
        k = self.keys
        with self.redis.pipeline(transaction=False) as pipe:
            for done in outcomes:
                self._finish(
                    keys=[k.due, k.dead, k.busy(done.url_id or "none")],
                    args=[k.event_prefix, done.event_id, done.claim, done.outcome, now_ms,
                          done.next_due_ms, keep, done.result[:200]],
                    client=pipe,
                )  # fmt: skip
            return sum(int(n) for n in pipe.execute())

    def mark_gone(self, url: str) -> None:
        """The URL answered 410: not called for ``gone_days`` (setting the URL again clears it)."""
        self.redis.set(self.keys.gone(url_id(url)), url, ex=int(self.settings.gone_days * DAY))

    def is_gone(self, url: str) -> bool:
        return bool(self.redis.exists(self.keys.gone(url_id(url))))

    def trim(self, now_ms: int) -> None:
        """Drop list entries older than ``keep_days`` (their events have expired)."""
        horizon = now_ms - to_ms(self.settings.keep_days * DAY)
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.zremrangebyscore(self.keys.log, "-inf", horizon)
            pipe.zremrangebyscore(self.keys.dead, "-inf", horizon)
            pipe.execute()

    def due_count(self, now_ms: int) -> int:
        return int(self.redis.zcount(self.keys.due, "-inf", now_ms))

    def pending_count(self) -> int:
        return int(self.redis.zcard(self.keys.due))
