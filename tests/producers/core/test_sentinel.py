"""The state store through Redis Sentinel: a master, a replica and a sentinel of the test's own; the
master is SIGKILLed while a producer sends, the sentinel promotes the replica, and the producer goes on
on the new master. What a failover may lose is what Redis documents for asynchronous replication: a
write the master acknowledged in the moment before it died, not yet passed to the replica."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.producers.core.connection import state_client
from smsq.producers.errors import StoreUnavailable
from tests.support.sentinel import MASTER_NAME, SentinelCluster


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SentinelCluster]:
    """One for the module (about 5 s to start): the failover test comes last."""
    cluster = SentinelCluster(tmp_path_factory.mktemp("sentinel"))
    cluster.start()
    yield cluster
    cluster.stop()


@pytest.fixture
def settings(cluster: SentinelCluster, redis_server: RedisServer, redis_client: redis.Redis) -> Settings:
    # The broker stays the session's plain Redis: only the state store is behind Sentinel here.
    return Settings(_env_file=None, redis_url=cluster.url, broker_url=redis_server.url,  # type: ignore[call-arg]
                    result_backend=redis_server.url, key_prefix="t")  # fmt: skip


def sms(n: int) -> dict[str, object]:
    return {"to": f"+3725800{n:04d}", "messages": [{"channel": "sms", "text": f"n{n}"}]}


def test_the_client_finds_the_master_through_the_sentinel(
    settings: Settings, cluster: SentinelCluster
) -> None:
    client = state_client(settings)
    client.set("t:probe", "1")
    direct = redis.Redis(port=cluster.master_port(), decode_responses=True)
    assert direct.get("t:probe") == "1"
    assert str(Smsq.from_settings(settings).store.redis.connection_pool.service_name) == MASTER_NAME  # type: ignore[attr-defined]


def test_a_failover_mid_run_loses_no_message_the_replica_had_and_the_producer_goes_on(
    settings: Settings, cluster: SentinelCluster
) -> None:
    smsq = Smsq.from_settings(settings)
    accepted: dict[str, int] = {}  # message id -> the send's number
    refused = 0
    killed_at: int | None = None
    first_after: float | None = None
    n = 0
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            receipt = smsq.send(sms(n), idempotency_key=f"k{n}")
            accepted[receipt.message_id] = n
            if killed_at is not None and first_after is None:
                first_after = time.monotonic()
        except StoreUnavailable:
            refused += 1  # told at once, with the cause: the caller repeats it with its idempotency key
        n += 1
        if n == 200:
            cluster.kill_master()
            killed_at, killed_time = n, time.monotonic()
        if first_after is not None and n >= killed_at + 200:  # type: ignore[operator]
            break
    assert killed_at is not None and first_after is not None, "the producer never reached the new master"
    new_master = redis.Redis(port=cluster.master_port(), decode_responses=True)
    assert new_master.info("replication")["role"] == "master"
    stored = {mid for mid in accepted if new_master.exists(f"t:msg:{mid}")}
    lost = sorted(number for mid, number in accepted.items() if mid not in stored)
    print(f"accepted {len(accepted)}, refused {refused} during the failover, lost {lost}, "
          f"back after {first_after - killed_time:.2f} s")  # fmt: skip
    # Only writes acknowledged in the moment before the kill can be missing (asynchronous replication):
    # none from the run's first part, and none after the failover.
    assert all(killed_at - 3 <= number < killed_at for number in lost), lost
    assert len(stored) >= len(accepted) - 3
