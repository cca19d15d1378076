"""The global limiter (pace.lua) on an injected clock: grants per tier, slots evenly spaced at the paced
rate, and a 429's multiplicative cut shared by every worker, recovering additively."""

from __future__ import annotations

import itertools
import math

import pytest
import redis

from smsq.workers.limits.ratelimit import Adapt, Grant, Limit, RateLimiter, SlotClock
from tests.support.fakes import FakeClock

DEFAULT_ADAPT = Adapt()


def limiter_for(
    client: redis.Redis, clock: FakeClock, *, adapt: Adapt = DEFAULT_ADAPT, **limits: Limit
) -> RateLimiter:
    # acquire's wait for its slot moves the fake clock: nothing sleeps.
    return RateLimiter(client, limits, prefix="t", adapt=adapt, clock=clock, sleep=clock.advance)


@pytest.mark.parametrize(("tier", "expected"), [("high", 10), ("regular", 7), ("low", 7), ("status", 3)])
def test_each_tier_may_reserve_its_share_of_the_burst(
    redis_client: redis.Redis, clock: FakeClock, tier: str, expected: int
) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(0.5, burst=10, high_reserve=0.3))
    assert limiter.take("p", tier, 100).granted == expected


def test_bulk_cannot_take_what_high_has_reserved(redis_client: redis.Redis, clock: FakeClock) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(0.5, burst=10, high_reserve=0.3))
    assert limiter.take("p", "low", 100).granted == 7
    assert limiter.take("p", "high", 100).granted == 3  # the reserved part is still there for OTP


def test_granted_tokens_are_slots_one_interval_apart(redis_client: redis.Redis, clock: FakeClock) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(100, burst=10))
    grant = limiter.take("p", "high", 50)
    assert (grant.granted, grant.first_slot, grant.interval) == (10, 0.0, 0.01)
    assert [round(grant.slot(k), 6) for k in (0, 1, 9)] == [0.0, 0.01, 0.09]
    assert grant.wait == pytest.approx(0.01)  # the 11th slot (0.10) comes within reach at 0.01
    clock.advance(grant.wait)
    later = limiter.take("p", "high", 50)
    # Counted from the moment of this grant, the next slot is the one after the last granted: the
    # stream of slots stays one interval apart across grants.
    assert later.granted == 1 and later.first_slot == pytest.approx(0.09)


def test_acquire_returns_at_its_slot_so_requests_leave_evenly_spaced(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(50, burst=5))
    start, leaves = clock.now, []
    for _ in range(12):
        while (wait := limiter.acquire("p", "high")) > 0:
            clock.advance(wait)
        leaves.append(clock.now - start)
    gaps = [b - a for a, b in itertools.pairwise(leaves)]
    assert gaps == pytest.approx(
        [0.02] * 11, abs=2e-6
    )  # no clump of five at the start: the burst is lookahead, not a rush


def test_the_safety_margin_paces_below_the_configured_rate(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(150, burst=2, margin=0.02))
    assert limiter.take("p", "high", 2).interval == math.ceil(1_000_000 / 147) / 1_000_000
    assert limiter.rates()["p"].paced == pytest.approx(147)


def test_never_more_than_the_paced_rate_over_time(redis_client: redis.Redis, clock: FakeClock) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(200, burst=5, margin=0.02))
    start, sent = clock.now, 0
    while clock.now - start < 5:
        wait = limiter.acquire("p", "regular")
        if wait > 0:
            clock.advance(wait)
        else:
            sent += 1
    assert 196 * 5 - 2 <= sent <= 196 * 5 + 1


def test_a_denial_says_how_long_to_wait_and_takes_nothing(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(10, burst=1))
    assert limiter.acquire("p", "high") == 0
    wait = limiter.acquire("p", "high")
    assert wait == pytest.approx(0.1)
    assert limiter.acquire("p", "high") == pytest.approx(wait)  # the denial consumed nothing


def test_a_429_pauses_every_tier(redis_client: redis.Redis, clock: FakeClock) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(1000, burst=10))
    limiter.pause("p", 2.0)
    assert 1.9 < limiter.acquire("p", "high") <= 2.0
    assert limiter.acquire("p", "low") > 1.9


def test_a_429_cuts_the_rate_for_everyone_once_per_hold(redis_client: redis.Redis, clock: FakeClock) -> None:
    adapt = Adapt(decrease=0.5, recover=0.1, hold_seconds=1.0)
    limiter = limiter_for(redis_client, clock, adapt=adapt, p=Limit(100, burst=2))
    other_worker = limiter_for(redis_client, clock, adapt=adapt, p=Limit(100, burst=2))
    limiter.pause("p", 0.0)
    assert other_worker.rates()["p"].current == pytest.approx(50)
    assert other_worker.take("p", "high", 1).interval == pytest.approx(0.02)  # and it paces at it
    clock.advance(0.5)
    other_worker.pause("p", 0.0)  # within the hold: the same clump of 429s
    assert limiter.rates()["p"].current == pytest.approx(50 + 10 * 0.5)
    clock.advance(0.5)
    limiter.pause("p", 0.0)  # a 429 after the hold cuts again, from where the rate had climbed
    now = limiter.rates()["p"]
    assert now.current == pytest.approx(60 * 0.5) and now.recovering
    assert now.cut_at == pytest.approx(clock.now)


def test_the_rate_climbs_back_additively_to_the_paced_rate(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    limiter = limiter_for(
        redis_client, clock, adapt=Adapt(decrease=0.8, recover=0.02), p=Limit(100, margin=0.1)
    )
    limiter.pause("p", 0.0)
    assert limiter.rates()["p"].current == pytest.approx(72)
    clock.advance(5)
    assert limiter.rates()["p"].current == pytest.approx(72 + 5 * 1.8)
    clock.advance(5)
    back = limiter.rates()["p"]
    assert back.current == pytest.approx(90) and not back.recovering and back.cut_at is None
    # The cut's key lives until the rate is back (plus a second), never longer.
    assert 0 < redis_client.pttl("t:rate-cut:p") <= 11_000


def test_the_rate_never_falls_below_its_floor(redis_client: redis.Redis, clock: FakeClock) -> None:
    limiter = limiter_for(
        redis_client, clock, adapt=Adapt(decrease=0.1, floor=0.25, hold_seconds=0), p=Limit(40)
    )
    for _ in range(5):
        limiter.pause("p", 0.0)
    assert limiter.rates()["p"].current == pytest.approx(10)


def test_unlimited_providers_unknown_tiers_and_costs(redis_client: redis.Redis, clock: FakeClock) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(1))
    assert limiter.acquire("other", "low") == 0
    assert limiter.take("other", "low", 3).granted == 3
    with pytest.raises(ValueError, match="unknown rate-limit tier 'bulk'"):
        limiter.acquire("p", "bulk")
    with pytest.raises(ValueError, match="one request at a time"):
        limiter.acquire("p", "low", cost=2)


@pytest.mark.parametrize("asked", [1, 3, 7, 12])
def test_many_tokens_at_once_grant_what_one_by_one_would(
    redis_client: redis.Redis, clock: FakeClock, asked: int
) -> None:
    same = Limit(20, burst=8, high_reserve=0.25)
    limiter = RateLimiter(
        redis_client, {"many": same, "single": same}, prefix="t", clock=clock, sleep=lambda _: None
    )
    many = limiter.acquire_many("many", "low", asked)
    single = [limiter.acquire("single", "low") for _ in range(asked)]
    assert many == single


@pytest.mark.parametrize("rate", [145.0, 150.0, 7.0, 333.0])
@pytest.mark.parametrize("tier", ["high", "regular", "low", "status"])
def test_a_lone_request_is_granted_whatever_the_rate_rounds_to(
    redis_client: redis.Redis, clock: FakeClock, rate: float, tier: str
) -> None:
    limiter = limiter_for(redis_client, clock, p=Limit(rate, burst=2, margin=0.02))
    assert limiter.acquire("p", tier) == 0.0


def test_on_redis_server_time_without_a_clock(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(10, burst=1)}, prefix="t", sleep=lambda _: None)
    assert limiter.acquire("p", "high") == 0.0
    assert 0.05 < limiter.acquire("p", "high") <= 0.1


class Ticks:
    """A monotonic clock a test sets."""

    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def grant_at(server_now: float) -> Grant:
    return Grant(granted=3, wait=0.0, first_slot=0.01, interval=0.007, server_now=server_now)


def test_slots_count_from_when_the_limiter_granted_them_not_when_the_reply_was_read() -> None:
    ticks = Ticks(5.0)
    slots = SlotClock(ticks)
    assert slots.base(grant_at(100.0)) == pytest.approx(5.0)  # read at once: the clocks' offset
    ticks.now = 6.030  # this grant (server time 101.0) was read 30 ms late: the GIL, a busy host
    # its slots are not 30 ms late (at most the drift allowance, 1 ms a second, later)
    assert slots.base(grant_at(101.0)) == pytest.approx(6.0, abs=1.1e-3)
    ticks.now = 7.0005
    assert slots.base(grant_at(102.0)) == pytest.approx(7.0, abs=2e-3)


def test_the_offset_follows_a_clock_that_drifts_or_steps() -> None:
    ticks = Ticks(5.0)
    slots = SlotClock(ticks, drift=0.001)
    slots.base(grant_at(100.0))
    # The server clock stepped 10 ms back: every reply now reads 10 ms "late". The offset rises by
    # at most 1 ms a second, so after 10 s it is followed.
    for second in range(1, 12):
        ticks.now = 5.0 + second
        base = slots.base(grant_at(100.0 + second - 0.010))
    assert base == pytest.approx(ticks.now, abs=1e-6)


def test_a_grant_without_a_limiter_clock_counts_from_now() -> None:
    ticks = Ticks(42.0)
    assert SlotClock(ticks).base(Grant(1, 0.0, 0.0, 0.0)) == 42.0
