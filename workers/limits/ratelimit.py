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

from smsq.producers.core.keys import Keys

TIERS: Final = ("high", "regular", "low", "status")

# KEYS: the theoretical-arrival-time key   ARGV: emission interval µs, tolerance µs for this tier, cost
# Returns 0 when allowed, else the µs to wait before asking again.
_GCRA = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_us)
if tat < now_us then tat = now_us end
local new_tat = tat + interval * tonumber(ARGV[3])
local allow_at = new_tat - tolerance
if allow_at > now_us then return allow_at - now_us end
redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now_us) / 1000) + 1000)
return 0
"""

# As many single tokens as are allowed now, up to ARGV[3], in one call: the same grants as that many
# calls of _GCRA one after another, for a Redis fraction of the cost.
# Returns {tokens granted, µs to wait before asking for the next one (0 when all were granted)}.
_GCRA_MANY = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local interval = tonumber(ARGV[1])
local tolerance = tonumber(ARGV[2])
local wanted = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or now_us)
if tat < now_us then tat = now_us end
local granted = math.floor((now_us + tolerance - tat) / interval)
if granted > wanted then granted = wanted end
if granted < 0 then granted = 0 end
if granted > 0 then
  local new_tat = tat + interval * granted
  redis.call('SET', KEYS[1], string.format('%d', new_tat), 'PX', math.ceil((new_tat - now_us) / 1000) + 1000)
end
if granted == wanted then return {granted, 0} end
return {granted, tat + interval * (granted + 1) - tolerance - now_us}
"""

# Push the arrival time out so nobody is allowed for `pause` µs (a provider's 429 / Retry-After).
# KEYS: the TAT key   ARGV: pause µs, full tolerance µs
_PAUSE = """
local now = redis.call('TIME')
local now_us = tonumber(now[1]) * 1000000 + tonumber(now[2])
local target = now_us + tonumber(ARGV[1]) + tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or 0)
if target > tat then
  redis.call('SET', KEYS[1], string.format('%d', target), 'PX', math.ceil((target - now_us) / 1000) + 1000)
end
return 1
"""


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
