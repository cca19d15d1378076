"""A worker rides out a broker (Redis) outage: it keeps its process and its pool, reconnects when the
broker is back and goes on consuming. Celery already retries (``broker_connection_retry``, with no
retry limit here: ``broker_connection_max_retries=None`` in config/celery.py); two things in kombu 5.7
and Celery 5.7 stopped it:

- **The worker exited** ("Unrecoverable error: AttributeError: 'NoneType' object has no attribute
  'hostname'") when the connection broke while a task was running and a BRPOP was outstanding. Celery's
  consumer first ``collect()``s the broken connection: closing its channel fails on the dead BRPOP
  socket (a connection error, ignored), and the transport is detached from the connection
  (``transport.client = None``). Then it ``close()``s the same connection: the channel, still open,
  tries to hand its unacknowledged task back, builds a new Redis pool from ``transport.client``, and
  the AttributeError is not one of the connection errors Celery ignores there. ``ReconnectingChannel``
  says what that state is: a detached transport cannot reach Redis, a connection error. The unacked
  task stays in kombu's ``unacked`` hash; smsq's recovery (watches and leases) has it back long before
  the visibility timeout.
- **Reconnecting took up to 30 s after Redis was back**: kombu's retry interval grows 2, 4, 6 ... to
  30 s. ``ReconnectingConsumer`` retries every ``RETRY_STEP_SECONDS`` more, up to
  ``RETRY_MAX_SECONDS``.
"""

from __future__ import annotations

import functools
from typing import Any

import redis
from celery.worker.consumer import Consumer
from kombu.transport import redis as kombu_redis

RETRY_START_SECONDS = 0.5
RETRY_STEP_SECONDS = 0.5
RETRY_MAX_SECONDS = 3.0

# kombu's and Celery's stubs do not know the internals these classes use.
_RedisChannel: Any = kombu_redis.Channel
_Consumer: Any = Consumer


class ReconnectingChannel(_RedisChannel):
    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection is None or self.connection.client is None:
            raise redis.ConnectionError("the broker connection was closed (its transport is detached)")
        return super()._connparams(asynchronous=asynchronous)


class ReconnectingConsumer(_Consumer):
    def ensure_connected(self, conn: Any) -> Any:
        # Celery passes no intervals to kombu's ensure_connection: give it shorter ones.
        conn.ensure_connection = functools.partial(
            conn.ensure_connection,
            interval_start=RETRY_START_SECONDS,
            interval_step=RETRY_STEP_SECONDS,
            interval_max=RETRY_MAX_SECONDS,
        )
        return super().ensure_connected(conn)
