"""A global rate limiter per provider account, shared by every worker process: GCRA in one Lua script
(``pace.lua``) on Redis server time, so all workers (and hosts) agree on one clock.

Pacing at the wire: a granted token is a slot, the moment its request may leave, one interval after
the slot before it. Callers hold each request until its slot (``acquire`` sleeps for it; the event
loop schedules each request at its own slot), so requests leave evenly spaced instead of in a clump
when a group of tokens is granted at once. The interval is that of the configured rate less a safety
margin (``Limit.margin``), the room the far end's limiter needs for the loop's and the network's
jitter.

Adapting (AIMD): a 429 from the provider cuts its rate for every worker (``Adapt.decrease``, at most
once per ``Adapt.hold_seconds``) and the rate climbs back by ``Adapt.recover`` of the paced rate per
second; ``rates()`` reads where it stands.

Tiers share the account's rate but not how far ahead they may reserve slots: a `high` send the whole
burst, `regular` and `low` only the part not reserved for `high`, and `status` polls half of that, so
bulk never takes the slots an OTP needs and polls always yield to sends.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

import redis

from smsq.producers.core.keys import Keys
from smsq.producers.core.lua import read

TIERS: Final = ("high", "regular", "low", "status")

# KEYS and ARGV are named at the script's top; operations take / throttle / rate.
_PACE = read(__package__, "pace.lua")
US: Final = 1_000_000


@dataclass(frozen=True)
class Limit:
    rate_per_second: float
    burst: int = 10  # how many intervals ahead the high tier may reserve slots
    high_reserve: float = 0.3  # fraction of the burst only `high` may use
    margin: float = 0.0  # fraction below rate_per_second that requests are paced at

    @property
    def paced(self) -> float:
        return self.rate_per_second * (1 - self.margin)


@dataclass(frozen=True)
class Adapt:
    """How a provider's 429 moves its rate (AIMD), for every worker at once."""

    decrease: float = 0.8  # the rate is multiplied by this on a 429
    recover: float = 0.02  # fraction of the paced rate regained per second after a cut
    floor: float = 0.1  # never below this fraction of the paced rate
    hold_seconds: float = 1.0  # one cut per this long: a clump of 429s is one signal


@dataclass(frozen=True, slots=True)
class Grant:
    """``granted`` tokens: request k (0-based) may leave ``first_slot + k * interval`` seconds after
    ``server_now`` (the limiter's clock when it granted them; 0.0: no limiter, so no clock);
    ``wait``: seconds before asking for more (0 when all were granted)."""

    granted: int
    wait: float
    first_slot: float
    interval: float
    server_now: float = 0.0

    def slot(self, k: int) -> float:
        return self.first_slot + k * self.interval


class SlotClock:
    """Where a grant's slots fall on this process's monotonic clock.

    Slots count from the limiter's clock (Redis server time) at the moment it granted them. Counting
    them from when this process read the reply instead adds the round trip and however long the reading
    thread then waits for the GIL (tens of milliseconds on a busy host) to that grant's slots alone, so
    one process's requests can leave that much after their turn, together with another's on time. (Not
    what drew bench/far_end's 429s: that was the release loop's thread pool; this alone did not change
    their count.) The offset between the two clocks is the smallest (reply read - server now) seen,
    since delays only add to it; it may rise by ``drift`` seconds a second, so a clock that drifts or
    steps is followed (no two clocks need to agree)."""

    def __init__(self, monotonic: Callable[[], float] = time.monotonic, drift: float = 0.001) -> None:
        self.monotonic = monotonic
        self.drift = drift
        self._offset: float | None = None
        self._at = 0.0

    def base(self, grant: Grant) -> float:
        """The local monotonic time the grant's slots count from."""
        local = self.monotonic()
        if not grant.server_now:
            return local
        observed = local - grant.server_now
        if self._offset is not None:
            observed = min(observed, self._offset + self.drift * (local - self._at))
        self._offset, self._at = observed, local
        return grant.server_now + observed


@dataclass(frozen=True)
class RateNow:
    """A provider's rate as every worker sees it now (``smsq limits``; the metrics)."""

    provider: str
    configured: float  # rate_per_second as set
    paced: float  # less the safety margin: the most it is ever paced at
    current: float  # the learned rate: paced, or lower while recovering from a 429
    cut_at: float | None  # Unix time of the last cut still being recovered from

    @property
    def recovering(self) -> bool:
        return self.current < self.paced


class RateLimiter:
    def __init__(
        self,
        client: redis.Redis,
        limits: Mapping[str, Limit],
        *,
        prefix: str = "smsq",
        adapt: Adapt = Adapt(),
        clock: Callable[[], float] | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        """``clock``: Unix seconds for the script instead of Redis server time (tests); ``sleep``:
        how ``acquire`` waits for its slot."""
        self.redis = client
        self.limits = dict(limits)
        self.adapt = adapt
        self.keys = Keys(prefix)
        self.clock = clock
        self.sleep = sleep
        # One per process (a limiter is made per worker process); on the injected clock in tests.
        self.slot_clock = SlotClock(clock) if clock is not None else SlotClock()
        self._pace = client.register_script(_PACE)

    def _run(self, provider: str, limit: Limit, op: str, *args: str | int, client: Any = None) -> Any:
        now_us = int(self.clock() * US) if self.clock is not None else 0
        recover = limit.paced * self.adapt.recover
        return self._pace(
            keys=[self.keys.rate(provider), self.keys.rate_cut(provider)],
            args=[op, repr(limit.paced), repr(recover), now_us, *args],
            client=client,
        )

    def limited(self, provider: str) -> bool:
        """Whether ``provider`` has a configured limit (its requests are paced)."""
        return provider in self.limits

    def take(self, provider: str, tier: str, count: int) -> Grant:
        """Up to ``count`` tokens in one round trip: the first ``granted`` messages may be sent, each
        at its slot. A provider without a configured limit grants everything at once."""
        limit = self.limits.get(provider)
        if limit is None or count <= 0:
            return Grant(max(0, count), 0.0, 0.0, 0.0)
        return grant_of(self._run(provider, limit, "take", repr(_share(limit, tier)), count))

    def take_in(self, pipe: redis.client.Pipeline, provider: str, tier: str, count: int) -> None:
        """``take`` queued on ``pipe`` (a pipeline of this limiter's client), to go in one round trip
        with other commands; ``grant_of`` reads its reply. ``provider`` must be ``limited``."""
        limit = self.limits[provider]
        self._run(provider, limit, "take", repr(_share(limit, tier)), max(1, count), client=pipe)

    def acquire(self, provider: str, tier: str = "regular", cost: int = 1) -> float:
        """One token for ``provider``: returns 0.0 at its slot (having slept until then, a few
        intervals at most), else the seconds to wait before asking again (nothing was taken)."""
        if cost != 1:
            raise ValueError("tokens are taken one request at a time (cost=1)")
        grant = self.take(provider, tier, 1)
        if not grant.granted:
            return grant.wait
        if (wait := self.slot_clock.base(grant) + grant.first_slot - self.slot_clock.monotonic()) > 0:
            self.sleep(wait)
        return 0.0

    def acquire_many(self, provider: str, tier: str, count: int) -> list[float]:
        """``take`` as one entry per message: 0.0 for each granted token (the first ones), else the
        seconds to wait before asking again. Slots are not waited for: see ``take``."""
        grant = self.take(provider, tier, count)
        return [0.0] * grant.granted + [grant.wait] * (count - grant.granted)

    def acquire_within(
        self, provider: str, tier: str, max_wait: float, sleep: Callable[[float], None] = time.sleep
    ) -> float:
        """Take a token, sleeping for it up to ``max_wait`` seconds in all (see ``wait_for_token``)."""
        return wait_for_token(self, provider, tier, max_wait, sleep)

    def pause(self, provider: str, seconds: float) -> None:
        """The provider said 429: no slot for ``seconds``, and its rate is cut for every worker."""
        limit = self.limits.get(provider)
        if limit is None:
            return
        adapt = self.adapt
        self._run(provider, limit, "throttle", int(max(0.0, seconds) * US), repr(adapt.decrease),
                  repr(limit.paced * adapt.floor), int(adapt.hold_seconds * US))  # fmt: skip

    def rates(self) -> dict[str, RateNow]:
        """Every limited provider's rate now, as the scripts compute it."""
        found: dict[str, RateNow] = {}
        for provider, limit in self.limits.items():
            current, cut_us = self._run(provider, limit, "rate")
            cut = int(cut_us) / US if int(cut_us) else None
            found[provider] = RateNow(provider, limit.rate_per_second, limit.paced, float(current), cut)
        return found


def grant_of(reply: Sequence[Any]) -> Grant:
    """The Grant in pace.lua's reply to ``take``."""
    granted, wait_us, first_us, interval_us, now_us = reply
    first, interval = max(0, int(first_us)) / US, int(interval_us) / US
    return Grant(int(granted), int(wait_us) / US, first, interval, int(now_us) / US)


def _share(limit: Limit, tier: str) -> float:
    """How many intervals ahead ``tier`` may reserve. At least one, so a lone request at an idle
    limiter goes at once."""
    if tier not in TIERS:
        raise ValueError(f"unknown rate-limit tier {tier!r}; use one of {', '.join(TIERS)}")
    share = {"high": 1.0, "regular": 1 - limit.high_reserve, "low": 1 - limit.high_reserve}.get(
        tier, (1 - limit.high_reserve) / 2
    )
    return max(1.0, limit.burst * share)


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
