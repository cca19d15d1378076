"""Lane depth and the oldest task's age on RabbitMQ (a vhost of the test's own): read through the
publisher's passive declare and smsq's own publish marks, not left at zero."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import pytest
import redis
from kombu import Connection

from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.config.contract import SendPayload
from smsq.config.settings import Settings
from smsq.producers.publisher import CeleryPublisher
from smsq.telemetry.live import LiveReader
from tests.support.fakes import FakeClock
from tests.support.rabbitmq import own_vhost


@pytest.fixture(scope="module")
def vhost() -> Iterator[str]:
    with own_vhost() as url:
        yield url


def test_lanes_on_rabbitmq_show_their_depth_and_oldest_age(
    redis_server: RedisServer, vhost: str, redis_client: redis.Redis, clock: FakeClock
) -> None:
    settings = Settings(_env_file=None, redis_url=redis_server.url, broker_url=vhost, key_prefix="t")  # type: ignore[call-arg]
    publisher = CeleryPublisher(make_celery(settings), clock=clock)
    try:
        published_at = clock()
        publisher.publish_many(
            [("smsq.send", SendPayload(message_id=str(uuid.uuid4())), "low") for _ in range(3)]
        )
        clock.advance(7)
        reader = LiveReader(redis_client, None, "t", clock=clock, lanes_from=publisher)
        lanes = {lane.name: lane for lane in reader.lanes()}
        assert lanes["low"].depth == 3
        assert lanes["low"].oldest_age_seconds == pytest.approx(clock() - published_at, abs=0.01)
        assert (lanes["high"].depth, lanes["high"].oldest_age_seconds) == (0, 0.0)
    finally:
        publisher.close()
        with Connection(vhost) as connection:
            connection.channel().queue_delete("low")
