"""smsq's lanes on RabbitMQ (``SMSQ_BROKER_URL=amqp://...``): publishing in batches with publisher
confirms, the queues' depths, and what the recovery check needs from a broker whose queues cannot
be read without taking from them.

Publishing: one channel in confirm mode per publisher; a batch is sent whole, then the publisher
waits once for RabbitMQ's acks of every message in it (``SMSQ_AMQP__CONFIRM_TIMEOUT``). Each message is
``mandatory``: one RabbitMQ cannot route (no such queue) comes back and fails the batch, as a nack does.
A failed batch raises ``BrokerUnavailable``; its records already have their outbox or watch entries,
so the release loop publishes them again (a message sent twice is harmless: the claim is
compare-and-set). Celery's ``send_task`` costs about a millisecond a message; this path sends what
Celery's AMQP producer would send (task protocol 2: headers, JSON body), without its routing machinery.

Recovery: on Redis the check reads the publish time of the oldest task waiting in a lane off the
list's tail. RabbitMQ has no such read (a basic.get takes the message from a consumer, and counts as
a delivery against a quorum queue's delivery limit). Instead, every publish into a lane adds its
count to ``<p>:lane:<lane>:published`` and records a mark "<total after>:<publish ms>" in
``<p>:lane:<lane>:marks``. A lane is a FIFO queue, so with depth D (ready messages, from a passive
declare) and smsq's total T, the oldest waiting task is the (T - D + 1)-th smsq published, and its
publish time is the one of the first mark at or above that count. Anything else in the queue (tasks
another application published, tasks RabbitMQ handed back from a lost consumer) only makes D larger,
so the answer only gets earlier: fewer tasks are judged to have left the queue, never more. Where the
marks cannot tell (the position is below the marks kept, or no count at all) the answer is 0: nothing
is judged lost. RabbitMQ itself hands a lost consumer's unacknowledged tasks back when its connection
closes (at once for a killed process; within ``SMSQ_AMQP__HEARTBEAT`` for a vanished host), so smsq's
check is the second line there, as Celery's visibility timeout is the third on Redis.
"""

from __future__ import annotations

import contextlib
import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import redis
from kombu import Connection, Queue
from kombu.exceptions import KombuError

from smsq.producers.core import lua
from smsq.producers.core.keys import Keys
from smsq.producers.core.store import NOTHING_WAITING
from smsq.producers.errors import BrokerUnavailable, StoreUnavailable

log = logging.getLogger(__name__)

LANE_MARKS = 10_000  # marks kept per lane: one per publish call, so far more than a backlog's publishes
MARKS_TTL_SECONDS = 7 * 86400  # the counts and marks of a lane nobody published into for a week go


@dataclass(frozen=True)
class AmqpMessage:
    queue: str
    body: bytes
    headers: Mapping[str, Any]
    properties: Mapping[str, Any]
    content_type: str = "application/json"
    content_encoding: str = "utf-8"


def server_of(url: str) -> str:
    """host:port/vhost of an AMQP URL: never its password."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    return f"{host}:{parts.port or 5672}{parts.path or '/'}"


class LaneMarks:
    """The per-lane publish counts and marks in the state store (see the module's docstring)."""

    def __init__(self, client: redis.Redis, prefix: str, keep: int = LANE_MARKS) -> None:
        self.client = client
        self.keep = keep
        self.keys = Keys(prefix)
        self._mark = client.register_script(lua.LANE_MARKS)

    def record(self, counts: Mapping[str, int], published_ms: int) -> None:
        """After the publish is confirmed. A count that cannot be written only makes the recovery check
        err towards "still waiting": the publish itself stands, so it is logged, not raised."""
        try:
            with self.client.pipeline(transaction=False) as pipe:
                for lane, count in counts.items():
                    keys = [self.keys.lane_published(lane), self.keys.lane_marks(lane)]
                    self._mark(
                        keys=keys, args=[count, published_ms, self.keep, MARKS_TTL_SECONDS], client=pipe
                    )
                pipe.execute()
        except (redis.RedisError, StoreUnavailable) as error:
            log.warning("could not count %s published tasks: %s", dict(counts), error)

    def totals(self, lane: str) -> tuple[int, int]:
        total, floor = self.client.hmget(self.keys.lane_published(lane), "total", "floor")
        return int(total or 0), int(floor or 0)

    def oldest_waiting_ms(self, lane: str, depth: Callable[[str], int]) -> int:
        """The publish time of the oldest task waiting in ``lane``, ``NOTHING_WAITING`` when it is empty,
        0 when the marks cannot tell. ``depth`` is read after the count: a publish in between only
        makes the queue deeper, so the answer errs early (nothing judged lost that is not)."""
        total, floor = self.totals(lane)
        waiting = depth(lane)
        if waiting == 0:
            return NOTHING_WAITING
        position = total - waiting + 1
        if position <= floor:
            return 0
        found = self.client.zrangebyscore(self.keys.lane_marks(lane), position, "+inf", start=0, num=1)
        if not found:
            return 0
        raw = found[0].decode() if isinstance(found[0], bytes) else str(found[0])
        return int(raw.rsplit(":", 1)[1])


class AmqpLanes:
    """One confirm-mode channel, shared by a publisher's threads under a lock (py-amqp channels are
    not thread-safe)."""

    def __init__(
        self,
        url: str,
        queues: Mapping[str, Queue],
        *,
        confirm_timeout: float,
        connect_timeout: float,
    ) -> None:
        self.url = url
        self.server = server_of(url)
        self.queues = queues  # the app's task queues: declared as the workers declare them
        self.confirm_timeout = confirm_timeout
        self.connect_timeout = connect_timeout
        self._lock = threading.Lock()
        self._connection: Connection | None = None
        self._channel: Any = None
        self._declared: set[str] = set()
        self._published = 0  # delivery tags on this channel so far
        self._unconfirmed: set[int] = set()  # quorum queues confirm out of order across queues
        self._refused: list[str] = []

    def publish(self, messages: Sequence[AmqpMessage]) -> None:
        """Publish every message and return once RabbitMQ confirmed them all; else BrokerUnavailable.
        A connection lost mid-batch is reopened once and the whole batch sent again."""
        if not messages:
            return
        with self._lock:
            for attempt in (1, 2):
                try:
                    self._publish_confirmed(messages)
                    return
                except BrokerUnavailable:
                    self._close()
                    raise
                except self._errors() as error:
                    self._close()
                    if attempt == 2:
                        reason = str(error).strip() or type(error).__name__
                        raise BrokerUnavailable(self.server, f"{type(error).__name__}: {reason}") from None

    def depth(self, queue: str) -> int:
        """Messages ready in ``queue`` (not those delivered and unacknowledged), by a passive declare."""
        with self._lock:
            for attempt in (1, 2):
                try:
                    channel = self._ready()
                    self._declare(channel, queue)
                    return int(channel.queue_declare(queue=queue, passive=True).message_count)
                except self._errors() as error:
                    self._close()
                    if attempt == 2:
                        reason = str(error).strip() or type(error).__name__
                        raise BrokerUnavailable(self.server, f"{type(error).__name__}: {reason}") from None
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            self._close()

    # -- the channel -----------------------------------------------------------------------------

    def _errors(self) -> tuple[type[BaseException], ...]:
        connection = self._connection or Connection(self.url)
        errors: tuple[type[BaseException], ...] = (OSError, socket.timeout, KombuError)
        return errors + tuple(connection.connection_errors) + tuple(connection.channel_errors)

    def _ready(self) -> Any:
        if self._channel is not None:
            return self._channel
        # heartbeat 0: a producer's connection sits idle between publishes with no thread to beat.
        connection = Connection(self.url, connect_timeout=self.connect_timeout, heartbeat=0)
        connection.ensure_connection(max_retries=1, interval_start=0, interval_step=1)
        channel: Any = connection.channel()
        channel.events["basic_ack"].add(self._on_ack)
        channel.events["basic_nack"].add(self._on_nack)
        channel.events["basic_return"].add(self._on_return)
        channel.confirm_select()
        self._connection, self._channel = connection, channel
        self._declared, self._published, self._unconfirmed, self._refused = set(), 0, set(), []
        return channel

    def _declare(self, channel: Any, queue: str) -> None:
        if queue in self._declared:
            return
        declared = self.queues.get(queue) or Queue(queue, routing_key=queue)
        declared.bind(channel).declare()
        self._declared.add(queue)

    def _publish_confirmed(self, messages: Sequence[AmqpMessage]) -> None:
        channel = self._ready()
        for message in messages:
            self._declare(channel, message.queue)
        for message in messages:
            prepared = channel.prepare_message(
                message.body,
                0,
                message.content_type,
                message.content_encoding,
                dict(message.headers),
                dict(message.properties),
            )
            self._published += 1
            self._unconfirmed.add(self._published)
            channel.basic_publish(prepared, exchange="", routing_key=message.queue, mandatory=True)
        deadline = time.monotonic() + self.confirm_timeout
        assert self._connection is not None
        while self._unconfirmed and not self._refused:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise BrokerUnavailable(self.server, f"no confirm within {self.confirm_timeout:g} s")
            try:
                self._connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue
        if self._refused:
            raise BrokerUnavailable(self.server, self._refused[0])

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._on_ack(delivery_tag, multiple)
        self._refused.append(f"RabbitMQ refused message {delivery_tag} (nack)")

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        self._refused.append(f"RabbitMQ could not route a message to {routing_key!r}: {exc}")

    def _close(self) -> None:
        connection, self._connection, self._channel = self._connection, None, None
        if connection is not None:
            with contextlib.suppress(Exception):  # closing a broken connection: nothing more to do
                connection.release()
