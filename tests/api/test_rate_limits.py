"""A key's own rate limit over real HTTP: over it, 429 with Retry-After and nothing accepted."""

from __future__ import annotations

import math
import time

import httpx
import redis

from smsq.producers.keys.limits import KeyLimiter
from smsq.producers.keys.store import KeyStore
from tests.api.conftest import MakeKey, bearer
from tests.api.test_batch import sms
from tests.api.test_messages import SMS, message_keys


def test_over_the_keys_rate_is_429_with_retry_after_and_nothing_accepted(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key(rate="3/m")  # a burst of 1, then one every 20 s: no test waits for a refill
    other = make_key()
    assert http.post("/v1/messages", json=SMS, headers=bearer(secret)).status_code == 202
    refused = http.post("/v1/messages", json=SMS, headers=bearer(secret))
    assert refused.status_code == 429 and 1 <= int(refused.headers["retry-after"]) <= 20
    assert "3/m" in refused.json()["detail"] and "nothing was accepted" in refused.json()["detail"]
    batch = http.post("/v1/messages/batch", json={"messages": [SMS, SMS]}, headers=bearer(secret))
    assert batch.status_code == 429
    assert http.post("/v1/messages", json=SMS, headers=bearer(other)).status_code == 202  # its own limit
    assert len(message_keys(redis_client)) == 2


def test_a_batch_bigger_than_the_burst_goes_only_when_the_key_is_idle(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key(rate="5/s")
    big = {"messages": [sms(f"+3725100{i:04d}") for i in range(50)]}
    assert http.post("/v1/messages/batch", json=big, headers=bearer(secret)).status_code == 202
    after = http.post("/v1/messages", json=SMS, headers=bearer(secret))
    assert after.status_code == 429 and int(after.headers["retry-after"]) >= 9  # 50 at 5/s paid off first


def test_the_limiter_allows_a_burst_of_one_seconds_worth(redis_client: redis.Redis) -> None:
    key = KeyStore(redis_client, prefix="t").create("app", "send", rate="10/s").key
    limiter = KeyLimiter(redis_client, prefix="t")
    started = time.monotonic()
    waits = [limiter.acquire(key) for _ in range(20)]
    refilled = math.ceil((time.monotonic() - started) * 10)  # tokens back while the loop ran (a slow machine)
    assert waits[:10] == [0.0] * 10 and 10 <= waits.count(0.0) <= 10 + refilled
    unlimited = KeyStore(redis_client, prefix="t").create("free", "send").key
    assert all(limiter.acquire(unlimited) == 0.0 for _ in range(100))
