"""The pieces of smsq.workers.reconnect on their own (the integration test kills a real Redis under a
real worker: tests/integration/test_redis_restart.py)."""

from __future__ import annotations

from typing import Any

import kombu
import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.config.settings import Settings
from smsq.workers.poison.transport import PoisonSafeTransport
from smsq.workers.reconnect import RETRY_MAX_SECONDS, ReconnectingConsumer


def test_a_channel_whose_transport_was_detached_raises_a_connection_error(redis_server: RedisServer) -> None:
    connection = kombu.Connection(redis_server.url, transport=PoisonSafeTransport)
    channel: Any = connection.default_channel
    connection.collect()  # what Celery's consumer does first with a broken connection
    # kombu's own channel raised AttributeError here (the transport's client is None), which Celery's
    # close does not ignore: the worker exited. A connection error is ignored, and it reconnects.
    with pytest.raises(redis.ConnectionError):
        channel._connparams()
    connection.close()  # and closing it again is quiet


def test_the_consumer_asks_kombu_for_short_retry_intervals(settings: Settings) -> None:
    seen: dict[str, Any] = {}

    class Connection:
        def ensure_connection(self, *args: Any, **kwargs: Any) -> Connection:
            seen.update(kwargs)
            return self

    class Probe(ReconnectingConsumer):  # only ensure_connected: no broker, no blueprint
        def __init__(self) -> None:
            pass

    consumer: Any = Probe()
    consumer.app = make_celery(settings)
    consumer.first_connection_attempt = False
    consumer.broker_connection_retry_attempt = 0
    consumer.ensure_connected(Connection())
    assert seen["interval_max"] == RETRY_MAX_SECONDS
    assert consumer.app.conf.broker_connection_max_retries is None  # and it never gives up
