"""A global rate limiter per provider account, shared by every worker process: GCRA in one Lua
script on Redis server time, so all workers (and hosts) agree on one clock.

Tiers share the account's rate but not its burst headroom: a `high` send may use the whole burst,
`regular` and `low` only the part not reserved for `high`, and `status` polls half of that, so
bulk never takes the last tokens an OTP needs and polls always yield to sends.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Final, Protocol

import redis

from smsq.producers.core import lua
from smsq.producers.core.keys import Keys
from smsq.producers.core.lua import read

TIERS: Final = ("high", "regular", "low", "status")

# Each script's KEYS and ARGV are named at its top; all run on Redis server time.
_GCRA = lua.GCRA  # cost tokens now, or the µs to wait (shared with the API keys' limits)
_GCRA_MANY = read(__package__, "gcra_many.lua")  # up to N single tokens in one run
_PAUSE = read(__package__, "pause.lua")  # nobody through for a while (a provider's 429)


@dataclass(frozen=True)
class Limit:
    rate_per_second: float
    burst: int = 10  # requests that may go at once after a quiet spell
    high_reserve: float = 0.3  # fraction of the burst only `high` may use


class RateLimiter:
    def __init__(self, client: redis.Redis, limits: Mapping[str, Limit], *, prefix: str = "smsq") -> None:
        self.redis = client
        self.limits = dict(limits)
        self.keys = Keys(prefix)
        self._gcra = client.register_script(_GCRA)
        self._gcra_many = client.register_script(_GCRA_MANY)
        self._pause = client.register_script(_PAUSE)

    def _key(self, provider: str) -> str:
        return self.keys.rate(provider)

    def acquire(self, provider: str, tier: str = "regular", cost: int = 1) -> float:
        """Take ``cost`` tokens for ``provider``. Returns 0.0 if granted, else seconds to wait (nothing
        was taken). A provider without a configured limit is never limited."""
        limit = self.limits.get(provider)
        if limit is None:
            return 0.0
        wait_us = self._gcra(
            keys=[self._key(provider)],
            args=[_interval_us(limit), math.floor(self._tolerance_us(limit, tier)), cost],
        )
        return int(wait_us) / 1_000_000

    def acquire_many(self, provider: str, tier: str, count: int) -> list[float]:
        """``count`` single-token acquisitions in one round trip and one script run, for a sender that
        has many messages ready: 0.0 for each granted token (the first ones), else the seconds to wait
        before asking again. Each granted token is one request the caller may send now; the limit is
        never exceeded."""
        limit = self.limits.get(provider)
        if limit is None or count <= 0:
            return [0.0] * max(0, count)
        granted, wait_us = self._gcra_many(
            keys=[self._key(provider)],
            args=[_interval_us(limit), math.floor(self._tolerance_us(limit, tier)), count],
        )
        return [0.0] * int(granted) + [int(wait_us) / 1_000_000] * (count - int(granted))

    def acquire_within(
        self, provider: str, tier: str, max_wait: float, sleep: Callable[[float], None] = time.sleep
    ) -> float:
        """Take a token, sleeping for it up to ``max_wait`` seconds in all (see ``wait_for_token``)."""
        return wait_for_token(self, provider, tier, max_wait, sleep)

    def pause(self, provider: str, seconds: float) -> None:
        """Let nobody through for ``seconds`` (the provider said 429)."""
        limit = self.limits.get(provider)
        if limit is None or seconds <= 0:
            return
        self._pause(
            keys=[self._key(provider)],
            args=[int(seconds * 1_000_000), int(self._tolerance_us(limit, "high"))],
        )

    @staticmethod
    def _tolerance_us(limit: Limit, tier: str) -> float:
        if tier not in TIERS:
            raise ValueError(f"unknown rate-limit tier {tier!r}; use one of {', '.join(TIERS)}")
        share = {"high": 1.0, "regular": 1 - limit.high_reserve, "low": 1 - limit.high_reserve}.get(
            tier, (1 - limit.high_reserve) / 2
        )
        # One interval is always allowed, so a lone request at an idle limiter goes at once. The
        # interval is the whole microseconds the script is given (rounded up), or a tolerance of
        # exactly one interval, rounded down, could never let a single request through.
        return _interval_us(limit) * max(1.0, limit.burst * share)


def _interval_us(limit: Limit) -> int:
    return math.ceil(1_000_000 / limit.rate_per_second)


class TokenSource(Protocol):
    def acquire(self, provider: str, tier: str = ..., cost: int = ...) -> float: ...


def wait_for_token(
    limiter: TokenSource,
    provider: str,
    tier: str,
    max_wait: float,
    sleep: Callable[[float], None] = time.sleep,
) -> float:
    """Take a token, sleeping for it up to ``max_wait`` seconds in all. Returns 0.0 when granted,
    else the seconds still to wait (the caller requeues instead of holding a worker longer)."""
    waited = 0.0
    wait = limiter.acquire(provider, tier)
    while wait > 0 and waited + wait <= max_wait:
        sleep(wait)
        waited += wait
        wait = limiter.acquire(provider, tier)
    return wait
