from __future__ import annotations

import time

import pytest
import redis

from smsq.workers.limits.ratelimit import Limit, RateLimiter


def burst_granted(limiter: RateLimiter, tier: str, tries: int = 100) -> int:
    """How many requests in a tight loop are granted before the first denial."""
    for n in range(tries):
        if limiter.acquire("p", tier) > 0:
            return n
    return tries


@pytest.mark.parametrize(("tier", "expected"), [("high", 10), ("regular", 7), ("low", 7), ("status", 3)])
def test_each_tier_gets_its_share_of_the_burst(redis_client: redis.Redis, tier: str, expected: int) -> None:
    # A slow rate, so the burst is all that is granted within the loop.
    limiter = RateLimiter(redis_client, {"p": Limit(0.5, burst=10, high_reserve=0.3)})
    assert burst_granted(limiter, tier) == expected


def test_bulk_cannot_take_what_high_has_reserved(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(0.5, burst=10, high_reserve=0.3)})
    assert burst_granted(limiter, "low") == 7
    assert burst_granted(limiter, "high") == 3  # the reserved part is still there for OTP


def test_a_denial_says_how_long_to_wait_and_takes_nothing(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(10, burst=1)})
    assert limiter.acquire("p", "high") == 0
    wait = limiter.acquire("p", "high")
    assert 0.05 < wait <= 0.1
    assert limiter.acquire("p", "high") == pytest.approx(wait, abs=0.01)  # the denial consumed nothing


def test_never_more_than_the_rate_plus_the_burst(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(200, burst=5)})
    granted, started = 0, time.monotonic()
    while (elapsed := time.monotonic() - started) < 0.5:
        granted += limiter.acquire("p", "high") == 0
    assert granted <= 5 + 200 * elapsed + 1


def test_waiting_as_long_as_told_is_enough(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(50, burst=3)})
    for _ in range(20):
        wait = limiter.acquire("p", "regular")
        if wait > 0:
            time.sleep(wait)
            assert limiter.acquire("p", "regular") == 0
            return
    pytest.fail("the limiter never asked to wait")


def test_pause_stops_every_tier_for_the_given_time(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(1000, burst=10)})
    limiter.pause("p", 2.0)
    assert 1.9 < limiter.acquire("p", "high") <= 2.01
    assert limiter.acquire("p", "low") > 1.9


def test_unlimited_providers_and_unknown_tiers(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(1)})
    assert limiter.acquire("other", "low") == 0
    with pytest.raises(ValueError, match="unknown rate-limit tier 'bulk'"):
        limiter.acquire("p", "bulk")


def test_many_tokens_in_one_round_trip_grant_what_the_burst_allows(redis_client: redis.Redis) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(0.5, burst=10, high_reserve=0.3)})
    waits = limiter.acquire_many("p", "low", 10)
    assert sum(w == 0 for w in waits) == 7 and all(w > 0 for w in waits[7:])
    assert limiter.acquire("p", "high") == 0  # what was denied took nothing; high's reserve is there
    assert limiter.acquire_many("other", "low", 3) == [0.0, 0.0, 0.0]  # no limit configured


@pytest.mark.parametrize("asked", [1, 3, 7, 12])
def test_many_tokens_at_once_grant_what_one_by_one_would(redis_client: redis.Redis, asked: int) -> None:
    """The one-script grant gives the same tokens and wait as the same number of single calls."""
    limits = {"many": Limit(20, burst=8, high_reserve=0.25), "single": Limit(20, burst=8, high_reserve=0.25)}
    limiter = RateLimiter(redis_client, limits, prefix=f"same{asked}")
    assert limiter.acquire_many("many", "low", 2) == [limiter.acquire("single", "low") for _ in range(2)]
    many = limiter.acquire_many("many", "low", asked)
    single = [limiter.acquire("single", "low") for _ in range(asked)]
    assert [w == 0 for w in many] == [w == 0 for w in single]
    denied = [w for w in single if w > 0]
    if denied:  # the same wait, within the few ms between the two scripts' clocks
        assert many[-1] == pytest.approx(denied[0], abs=0.01)


@pytest.mark.parametrize("rate", [145.0, 150.0, 7.0, 333.0])
@pytest.mark.parametrize("tier", ["high", "regular", "low", "status"])
def test_a_lone_request_is_granted_whatever_the_rate_rounds_to(
    redis_client: redis.Redis, rate: float, tier: str
) -> None:
    limiter = RateLimiter(redis_client, {"p": Limit(rate, burst=2)})
    assert limiter.acquire("p", tier) == 0.0
