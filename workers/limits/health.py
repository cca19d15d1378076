"""Provider health: errors over a sliding window and a circuit breaker, shared by every worker.

Outcomes are counted in Redis buckets of ``bucket_seconds``; when the error rate over the window
reaches ``threshold`` (with at least ``min_requests`` calls), the circuit opens for ``cooldown``
seconds and sends go to the next provider for the channel. When the cool-down ends the provider is
probed again with live traffic, on a fresh window; failing again reopens it at once.

Only failures that say something about the provider count: transient errors (5xx, timeouts,
connection errors). A permanent error is about the message; a 429 is about our rate.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import redis

from smsq.producers.core.keys import Keys
from smsq.producers.core.lua import read

log = logging.getLogger(__name__)
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)
# Counts outcomes in the current bucket; opens the circuit when the window's error rate says so.
_RECORD = read(__package__, "health.lua")


@dataclass(frozen=True)
class HealthPolicy:
    window_seconds: int = 60
    bucket_seconds: int = 10
    threshold: float = 0.5
    min_requests: int = 5
    cooldown_seconds: float = 30.0


class ProviderHealth:
    def __init__(
        self,
        client: redis.Redis,
        policy: HealthPolicy = HealthPolicy(),
        *,
        prefix: str = "smsq",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.redis = client
        self.policy = policy
        self.keys = Keys(prefix)
        self.clock = clock
        self._record = client.register_script(_RECORD)

    def _circuit_key(self, provider: str) -> str:
        return self.keys.circuit(provider)

    def record(self, provider: str, ok: bool) -> bool:
        """Count one call's outcome; returns True if it opened the circuit."""
        return self.record_many(provider, ok=int(ok), errors=int(not ok))

    def record_many(self, provider: str, *, ok: int, errors: int) -> bool:
        """Count many calls' outcomes in one round trip (a chunk of campaign sends); returns True if
        they opened the circuit."""
        if ok <= 0 and errors <= 0:
            return False
        policy = self.policy
        buckets = max(1, policy.window_seconds // policy.bucket_seconds)
        try:
            opened = self._record(
                keys=[self._circuit_key(provider)],
                args=[
                    self.keys.health_bucket_prefix(provider),
                    int(self.clock() // policy.bucket_seconds),
                    buckets,
                    ok,
                    policy.min_requests,
                    policy.threshold,
                    int(policy.cooldown_seconds * 1000),
                    policy.window_seconds * 2,
                    errors,
                ],
            )
        except UNREACHABLE as error:
            # A count lost in a Redis outage costs the window a few samples; raising here would lose
            # the send outcomes recorded after it (smsq.workers.sending.recording).
            log.warning(
                "provider health of %s not counted: Redis unreachable (%s)", provider, type(error).__name__
            )
            return False
        return bool(opened)

    def is_open(self, provider: str) -> bool:
        return bool(self.redis.exists(self._circuit_key(provider)))

    def closes_in(self, providers: Sequence[str]) -> float:
        """Seconds until the first of these providers' circuits closes (0.0 when one is closed)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for name in providers:
                pipe.pttl(self._circuit_key(name))
            left = [int(ms) for ms in pipe.execute()]
        return max(0, min(left, default=0)) / 1000

    def open_circuits(self, providers: list[str]) -> set[str]:
        with self.redis.pipeline(transaction=False) as pipe:
            for name in providers:
                pipe.exists(self._circuit_key(name))
            return {name for name, is_open in zip(providers, pipe.execute(), strict=True) if is_open}
