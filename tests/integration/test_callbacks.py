"""Callbacks through a real stack: a general worker sends through the sandbox, beat claims the
events, a `callbacks` worker POSTs them to a receiver on loopback that verifies each with the
standardwebhooks library; a callbacks worker killed mid-request loses nothing."""

from __future__ import annotations

import signal
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from smsq.cli.processes import smsq_command, wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.callbacks.events import CallbackEvents
from smsq.producers.callbacks.targets import new_secret
from smsq.producers.client import Smsq
from smsq.workers.callbacks.receiver import Receiver, running_receiver
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration
SECRET = new_secret()


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    made = Receiver(SECRET)
    with running_receiver(made) as url:
        yield made, url


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(
        db_url(redis_server.url, 3), sandbox_url, "it-cb",
        callbacks__allow_http="true", callbacks__allow_private="true", callbacks__claim_lease_seconds="3",
        callbacks__timeout="10",
    )  # fmt: skip
    workers = [
        ("worker", ("--concurrency", "1")),
        ("callbacks", ("--lanes", "callbacks", "--concurrency", "1")),
    ]
    with started_stack(settings, tmp_path_factory.mktemp("callbacks"), workers=workers) as running:
        yield running


def keyed_message(smsq: Smsq, url: str, key_id: str, to: str) -> str:
    """A message as the HTTP API accepts one: its record names the key (whose hash has the URL). It is
    scheduled a moment ahead so the key is on the record before it is sent."""
    smsq.store.redis.hset(f"it-cb:apikey:{key_id}", mapping={"callback_url": url, "callback_secret": SECRET})
    soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
    receipt = smsq.send({"to": to, "time_to_send": soon, "messages": [{"channel": "sms", "text": "hi"}]})
    smsq.store.redis.hset(smsq.store.keys.record(receipt.message_id), "key_id", key_id)
    return receipt.message_id


def test_a_sent_message_is_told_to_the_app_signed(stack: Running, receiver: tuple[Receiver, str]) -> None:
    hook, url = receiver
    smsq = stack.smsq()
    message_id = keyed_message(smsq, f"{url}/app", "k-app", "+37251000101")
    wait_until(lambda: hook.received.for_message(message_id), timeout=30, what="the sent callback")
    (event, *later) = hook.received.for_message(message_id)
    assert (event["type"], event["data"]["sequence"], event["data"]["previous_status"]) == (
        "message.sent",
        1,
        "sending",
    )
    assert all(e["data"]["sequence"] > 1 for e in later)
    assert hook.received.refused == 0


def test_an_event_held_by_a_killed_callbacks_worker_is_delivered_again(
    stack: Running, receiver: tuple[Receiver, str]
) -> None:
    hook, url = receiver
    hook.latency = 6.0  # the request is in flight when its worker dies
    smsq = stack.smsq()
    message_id = keyed_message(smsq, f"{url}/killed", "k-killed", "+37251000102")
    wait_until(
        lambda: hook.received.max_in_flight["/killed"] >= 1, timeout=30, what="the callback to be in flight"
    )
    worker = next(child for child in stack.stack.children if child.name == "callbacks")
    worker.stop(signal.SIGKILL)
    hook.latency = 0.0
    stack.stack.start("callbacks-2", smsq_command("worker", "--lanes", "callbacks", "--concurrency", "1",
                                                  "--name", "callbacks-2@%h"), stack.env)  # fmt: skip
    events = CallbackEvents(smsq.store.redis, smsq.store.keys)
    first = f"{message_id}:1"
    wait_until(
        lambda: events.get(first).state == "delivered", timeout=40, what="the event to be delivered again"
    )
    assert int(events.get(first).fields["claims"]) >= 2  # claimed again after the lease
    assert first in hook.received.events  # the receiver has it once, whichever request it kept


@pytest.fixture
def own_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("cb-redis"))
    server.start()
    yield server
    server.stop()


def test_sigterm_to_a_callbacks_worker_hands_back_what_it_has_out(
    own_redis: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """A deploy stops a callbacks worker while its receiver is slow: the worker exits within its
    shutdown wait, and the events it had out are pending again at once (not claimed until the claim
    lease, two minutes here, runs out); the next worker delivers every one, none lost."""
    slow = Receiver(SECRET, latency=60.0)
    settings = stack_settings(
        own_redis.url, sandbox_url, "it-cb",  # the prefix keyed_message writes the key under
        callbacks__allow_http="true", callbacks__allow_private="true", callbacks__timeout="30",
        callbacks__claim_lease_seconds="120", callbacks__shutdown_wait="1",
    )  # fmt: skip
    workers = [
        ("worker", ("--concurrency", "1")),
        ("callbacks", ("--lanes", "callbacks", "--concurrency", "1")),
    ]
    with (
        running_receiver(slow) as url,
        started_stack(settings, tmp_path_factory.mktemp("cb-stop"), workers=workers) as stack,
    ):
        smsq = stack.smsq()
        ids = [keyed_message(smsq, f"{url}/deploy", "k-deploy", f"+3725100020{n}") for n in range(3)]
        firsts = [f"{message_id}:1" for message_id in ids]
        wait_until(lambda: slow.received.max_in_flight["/deploy"] >= 3, timeout=30,
                   what="the three callbacks at the slow receiver")  # fmt: skip
        events = CallbackEvents(smsq.store.redis, smsq.store.keys)
        assert {events.get(first).state for first in firsts} == {"delivering"}

        worker = next(child for child in stack.stack.children if child.name == "callbacks")
        worker.process.send_signal(signal.SIGTERM)  # its main process, as `docker stop` does
        worker.process.wait(timeout=30)  # bounded: the shutdown wait, not the receiver's minute
        handed = {first: events.get(first) for first in firsts}
        # Not left claimed: pending again, or already claimed again by beat for the next worker.
        assert all(e.state == "pending" or int(e.fields["claims"]) >= 2 for e in handed.values()), handed
        assert {int(event.fields.get("attempts") or 0) for event in handed.values()} == {0}

        slow.latency = 0.0
        stack.stack.start("callbacks-2", smsq_command("worker", "--lanes", "callbacks", "--concurrency", "1",
                                                      "--name", "callbacks-2@%h"), stack.env)  # fmt: skip
        # Well within the two-minute claim lease: handed back, not waited out.
        wait_until(lambda: all(events.get(first).state == "delivered" for first in firsts), timeout=30,
                   what="every handed-back event delivered by the next worker")  # fmt: skip
        assert all(first in slow.received.events for first in firsts)
