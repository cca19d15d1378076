"""Outcomes survive a Redis restart (smsq.workers.sending.recording), a chunk's and a single
send's: on a real redis-server that is killed before they are written and started again (AOF)
while they wait."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.config.settings import Timeouts
from smsq.producers.core.store import MessageStore
from smsq.workers.providers import http
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.recording import write_outcomes
from smsq.workers.sending.single import send_message
from tests.support.fakes import Wire
from tests.support.sending import TO, accept, make_sender

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


def test_a_single_sends_answer_that_came_while_redis_was_down_is_recorded(restartable: RedisServer) -> None:
    """A single send (``send_message``): Redis dies while the request is out; its answer is written
    once Redis is back instead of being lost (the lease would have made it `unknown`)."""
    store = MessageStore(
        redis.Redis.from_url(restartable.url, decode_responses=True), prefix="rec", retention_seconds=3600
    )
    message_id = accept(store)
    restarts: list[threading.Thread] = []

    def answer_while_redis_is_down(request: httpx.Request) -> httpx.Response:
        restartable.kill()
        restarts.append(threading.Thread(target=restartable.start))  # back from its AOF meanwhile
        restarts[0].start()
        return httpx.Response(201, json={"messages": [{"message_id": "m-1", "channel": "sms"}],
                                         "to": TO, "omnimessage_id": "omni-1"})  # fmt: skip

    wire = Wire(answer_while_redis_is_down)
    client = http.make_client("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(wire))
    outcome = send_message(message_id, make_sender(store, MessenteClient(client)))
    restarts[0].join()
    record = store.get(message_id)
    assert outcome.status == "sent" and record is not None
    assert (record["status"], record["provider_message_id"]) == ("sent", "omni-1")
    assert len(wire.requests) == 1
