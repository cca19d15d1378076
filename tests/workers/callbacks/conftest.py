"""A real receiver on loopback (workers/callbacks/receiver.py, verifying with standardwebhooks) and a
deliverer on the test's Redis; the clock starts at the real time, since a receiver refuses a
signature timestamp more than 5 minutes off."""

from __future__ import annotations

import random
import time
from collections.abc import Iterator

import pytest

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.events import CallbackEvents
from smsq.producers.callbacks.targets import new_secret
from smsq.producers.core.store import MessageStore
from smsq.workers.callbacks.delivery import CallbackClient, Deliverer, deliver
from smsq.workers.callbacks.queue import CallbackQueue, Finished
from smsq.workers.callbacks.receiver import Receiver, running_receiver
from tests.support.fakes import FakeClock

SECRET = new_secret()
ID = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(time.time())


@pytest.fixture
def callback_settings() -> CallbackSettings:
    # Loopback receivers: http and private targets allowed (the SSRF tests turn them off).
    return CallbackSettings(allow_http=True, allow_private=True, base_delay=1, timeout=2)


@pytest.fixture(scope="module")
def receiver() -> Iterator[tuple[Receiver, str]]:
    made = Receiver(SECRET)
    with running_receiver(made) as url:
        yield made, url


@pytest.fixture
def hook(receiver: tuple[Receiver, str]) -> tuple[Receiver, str]:
    made, url = receiver
    made.reset()
    return made, url


def make_deliverer(store: MessageStore, settings: CallbackSettings, clock: FakeClock) -> Deliverer:
    return Deliverer(
        events=CallbackEvents(store.redis, store.keys, keep_seconds=settings.keep_days * 86400),
        queue=CallbackQueue(store.redis, store.keys, settings),
        client=CallbackClient(settings),
        settings=settings,
        clock=clock,
        rng=random.Random(7),
    )


@pytest.fixture
def deliverer(
    store: MessageStore, callback_settings: CallbackSettings, clock: FakeClock
) -> Iterator[Deliverer]:
    made = make_deliverer(store, callback_settings, clock)
    yield made
    made.client.close()


def pump(deliverer: Deliverer, limit: int = 100) -> list[Finished]:
    """One claim pass and the delivery of what it claimed, as beat and a worker would."""
    claimed = deliverer.queue.claim(int(deliverer.clock() * 1000), limit)
    return deliver(deliverer, claimed) if claimed else []


def api_key(store: MessageStore, url: str, key_id: str = "k1", secret: str = SECRET) -> str:
    store.redis.hset(
        f"{store.keys.prefix}:apikey:{key_id}", mapping={"callback_url": url, "callback_secret": secret}
    )
    return key_id


def message(store: MessageStore, key_id: str, message_id: str = ID, status: str = "sent") -> str:
    fields = {"id": message_id, "status": status, "to": "+37251234567", "priority": "regular",
              "channels": "sms", "created_ms": 0, "key_id": key_id}  # fmt: skip
    store.redis.hset(store.keys.record(message_id), mapping=fields)
    return message_id
