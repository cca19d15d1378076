"""smsq's lanes on RabbitMQ: publishing with confirms in batches (a vhost of the test's own), the
queue's depth, and the recovery check's "publish time of the oldest task waiting" from smsq's counts."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
import redis
from amqp.exceptions import PreconditionFailed
from kombu import Connection

from smsq.cli.redis_server import RedisServer, free_port
from smsq.config.celery import make_celery
from smsq.config.contract import SendPayload
from smsq.config.settings import Settings
from smsq.producers.amqp_lanes import AmqpLanes, AmqpMessage, LaneMarks
from smsq.producers.core.store import NOTHING_WAITING
from smsq.producers.errors import BrokerUnavailable
from smsq.producers.publisher import PUBLISHED_HEADER, CeleryPublisher
from tests.support.fakes import FakeClock
from tests.support.rabbitmq import own_vhost


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    with own_vhost() as url:
        yield url


@pytest.fixture
def settings(redis_server: RedisServer, vhost: str) -> Settings:
    return Settings(_env_file=None, redis_url=redis_server.url, broker_url=vhost, key_prefix="t")  # type: ignore[call-arg]


@pytest.fixture
def publisher(settings: Settings, redis_client: redis.Redis, clock: FakeClock) -> Iterator[CeleryPublisher]:
    publisher = CeleryPublisher(make_celery(settings), clock=clock)
    yield publisher
    publisher.close()
    with Connection(settings.effective_broker_url) as connection:  # each test starts with no lanes
        channel = connection.channel()
        for lane in ("high", "regular", "low"):
            channel.queue_delete(lane)


def take_all(url: str, queue: str) -> list[tuple[dict, list]]:  # type: ignore[type-arg]
    """(headers, decoded body) of every message in ``queue``, taken off it."""
    taken = []
    with Connection(url) as connection:
        channel = connection.channel()
        while (message := channel.basic_get(queue, no_ack=True)) is not None:
            taken.append((dict(message.headers), json.loads(message.body)))
    return taken


def sends(count: int, queue: str) -> list[tuple[str, SendPayload, str]]:
    return [("smsq.send", SendPayload(message_id=str(uuid.uuid4())), queue) for _ in range(count)]


def test_a_batch_is_published_confirmed_as_celery_task_messages(
    publisher: CeleryPublisher, settings: Settings, clock: FakeClock
) -> None:
    tasks = sends(3, "low") + sends(2, "high")
    publisher.publish_many(tasks)
    assert publisher.queue_depth("low") == 3 and publisher.queue_depth("high") == 2
    low = take_all(settings.effective_broker_url, "low")
    assert [body[1]["message_id"] for _, body in low] == [str(t[1].message_id) for t in tasks[:3]]  # FIFO
    headers, body = low[0]
    assert headers["task"] == "smsq.send" and headers[PUBLISHED_HEADER] == int(clock.now * 1000)
    assert body[0] == [] and body[2] == {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


def test_the_lanes_are_quorum_queues(publisher: CeleryPublisher, settings: Settings) -> None:
    publisher.publish_many(sends(1, "regular"))
    with Connection(settings.effective_broker_url) as connection:
        channel = connection.channel()
        # RabbitMQ refuses a declaration whose arguments differ from the queue's.
        channel.queue_declare(
            "regular", durable=True, auto_delete=False, arguments={"x-queue-type": "quorum"}
        )
        with pytest.raises(PreconditionFailed, match="x-queue-type"):
            connection.channel().queue_declare(
                "regular", durable=True, auto_delete=False, arguments={"x-queue-type": "classic"}
            )


def test_an_unroutable_message_fails_the_batch_with_one_clear_error(settings: Settings) -> None:
    lanes = AmqpLanes(settings.effective_broker_url, {}, confirm_timeout=5, connect_timeout=2)
    lanes._ready()
    lanes._declared.add("nowhere")  # as if declared: the default exchange has no such queue
    with pytest.raises(BrokerUnavailable, match="could not route a message to 'nowhere'"):
        lanes.publish([AmqpMessage("nowhere", b"[]", {}, {})])
    lanes.close()


def test_rabbitmq_unreachable_raises_broker_unavailable_naming_the_server_not_the_password(
    redis_server: RedisServer,
) -> None:
    url = f"amqp://guest:hunter2@127.0.0.1:{free_port()}/x"
    settings = Settings(
        _env_file=None, redis_url=redis_server.url, broker_url=url, amqp={"connect_timeout": 0.5}
    )  # type: ignore[call-arg]
    publisher = CeleryPublisher(make_celery(settings))
    with pytest.raises(BrokerUnavailable) as raised:
        publisher.publish_many(sends(1, "high"))
    port = url.rsplit(":", 1)[1].split("/")[0]
    assert str(raised.value).startswith(f"RabbitMQ at 127.0.0.1:{port}/x did not take the publish")
    assert "hunter2" not in str(raised.value)


def test_the_oldest_waiting_task_is_told_from_the_depth_and_smsqs_counts(
    publisher: CeleryPublisher, settings: Settings, clock: FakeClock
) -> None:
    assert publisher.oldest_waiting_ms("low") == NOTHING_WAITING  # an empty lane: every task has left
    first_ms = int(clock.now * 1000)
    publisher.publish_many(sends(3, "low"))
    clock.advance(10)
    publisher.publish_many(sends(2, "low"))
    assert publisher.oldest_waiting_ms("low") == first_ms
    with Connection(settings.effective_broker_url) as connection:  # a worker takes three
        channel = connection.channel()
        for _ in range(3):
            assert channel.basic_get("low", no_ack=True) is not None
    assert publisher.oldest_waiting_ms("low") == first_ms + 10_000
    # A task another application published joins the queue: the answer gets earlier, never later.
    make_celery(settings).send_task("smsq.send", kwargs={"message_id": "x"}, queue="low", routing_key="low")
    assert publisher.oldest_waiting_ms("low") == first_ms


def test_marks_past_the_kept_ones_tell_nothing(redis_client: redis.Redis) -> None:
    keep = 20
    marks = LaneMarks(redis_client, "t", keep=keep)
    for n in range(keep + 5):
        marks.record({"low": 1}, published_ms=1000 + n)
    assert marks.totals("low") == (keep + 5, 5)
    assert marks.oldest_waiting_ms("low", lambda _: 1) == 1000 + keep + 4  # the newest
    assert marks.oldest_waiting_ms("low", lambda _: keep) == 1005  # the oldest kept
    assert marks.oldest_waiting_ms("low", lambda _: keep + 1) == 0  # trimmed: nothing judged
    assert marks.oldest_waiting_ms("low", lambda _: 10**9) == 0  # more waiting than smsq published
    assert redis_client.ttl("t:lane:low:marks") > 0 and redis_client.ttl("t:lane:low:published") > 0
