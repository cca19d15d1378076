"""A chunk's outcomes survive a Redis restart (smsq.workers.sending.recording): on a real
redis-server that is killed before they are written and started again (AOF) while they wait."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.producers.core.store import MessageStore
from smsq.workers.sending.recording import write_outcomes

ID = "00000000-0000-4000-8000-0000000000aa"


@pytest.fixture
def restartable(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path, appendonly=True)
    server.start()
    yield server
    server.kill()


def sending(server: RedisServer) -> MessageStore:
    """A store with one message claimed (`sending`, lease token t), as a chunk leaves it."""
    store = MessageStore(
        redis.Redis.from_url(server.url, decode_responses=True), prefix="rec", retention_seconds=3600
    )
    fields = {"id": ID, "status": "queued", "to": "+37251234567", "priority": "low", "channels": "sms",
              "created_ms": 0}  # fmt: skip
    store.redis.hset(store.keys.record(ID), mapping=fields)
    assert store.transition(ID, "sending", fields={"lease_token": "t"}).ok
    return store


def test_outcomes_are_written_once_redis_is_back(restartable: RedisServer) -> None:
    store = sending(restartable)
    restartable.kill()  # the answers came in while Redis was gone
    waits: list[float] = []

    def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 2:
            restartable.start()  # same port, from its append-only file

    (done,) = write_outcomes(store, [(ID, "sent", {"lease_token": "t"})], within=30, sleep=sleep)
    assert done.ok and store.get(ID)["status"] == "sent"  # type: ignore[index]
    assert len(waits) == 2 and waits[1] > waits[0]  # backed off
    # Written again after it was applied: refused (compare-and-set), nothing counted twice.
    (again,) = write_outcomes(store, [(ID, "sent", {"lease_token": "t"})], within=30, sleep=sleep)
    assert not again.ok


def test_it_gives_up_when_the_lease_is_over(restartable: RedisServer) -> None:
    store = sending(restartable)
    restartable.kill()
    clock = iter(range(100)).__next__  # each look at the clock: one second later
    with pytest.raises(redis.ConnectionError):
        write_outcomes(store, [(ID, "sent", {"lease_token": "t"})], within=3, sleep=lambda _: None,
                        clock=lambda: float(clock()))  # fmt: skip
