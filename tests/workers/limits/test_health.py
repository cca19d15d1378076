from __future__ import annotations

import redis

from smsq.cli.redis_server import free_port
from smsq.workers.limits.health import HealthPolicy, ProviderHealth
from tests.support.fakes import FakeClock

POLICY = HealthPolicy(
    window_seconds=60, bucket_seconds=10, threshold=0.5, min_requests=4, cooldown_seconds=30
)


def health(redis_client: redis.Redis, clock: FakeClock) -> ProviderHealth:
    return ProviderHealth(redis_client, POLICY, prefix="t", clock=clock)


def test_the_circuit_opens_when_errors_reach_the_threshold(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    h = health(redis_client, clock)
    assert [h.record("m", ok) for ok in (True, True, False)] == [False, False, False]
    assert not h.is_open("m")
    assert h.record("m", False)  # 2 of 4 failed
    assert h.is_open("m") and h.open_circuits(["m", "dm"]) == {"m"}


def test_too_few_calls_never_open_it(redis_client: redis.Redis, clock: FakeClock) -> None:
    h = health(redis_client, clock)
    assert not any(h.record("m", False) for _ in range(3))
    assert not h.is_open("m")


def test_old_errors_leave_the_window(redis_client: redis.Redis, clock: FakeClock) -> None:
    h = health(redis_client, clock)
    for _ in range(3):
        h.record("m", False)
    clock.advance(70)
    assert not h.record("m", False)  # the three old ones no longer count
    assert not h.is_open("m")


def test_after_the_cooldown_the_provider_is_probed_on_a_fresh_window(
    redis_client: redis.Redis, clock: FakeClock
) -> None:
    h = health(redis_client, clock)
    for _ in range(4):
        h.record("m", False)
    assert h.is_open("m")
    assert 29_000 < redis_client.pttl("t:circuit:m") <= 30_000  # the cool-down is the key's expiry
    redis_client.delete("t:circuit:m")  # ...which is what Redis does when it runs out
    assert not h.is_open("m")
    assert not h.record("m", True)  # a good probe does not reopen it
    assert not h.is_open("m")


def test_a_chunks_outcomes_count_as_many_calls(redis_client: redis.Redis, clock: FakeClock) -> None:
    h = health(redis_client, clock)
    assert not h.record_many("m", ok=3, errors=2)  # 2 of 5 failed: under the threshold
    assert not h.record_many("m", ok=0, errors=0) and not h.is_open("m")
    assert h.record_many("m", ok=0, errors=1)  # 3 of 6 failed
    assert h.is_open("m")


def test_a_count_that_cannot_reach_redis_is_dropped_not_raised() -> None:
    # Raising would lose the send outcomes recorded after it (smsq.workers.sending.recording).
    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.2)
    assert ProviderHealth(unreachable).record_many("messente", ok=1, errors=3) is False
