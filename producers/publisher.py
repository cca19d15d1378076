"""Publishing tasks by name, each with its payload model from ``smsq.config.contract``: producers
never import worker code.

``send_task`` builds each message through Celery's whole routing machinery: about a millisecond
of CPU per message here, and several under load, which caps the release loop and campaign queueing
at a few hundred messages a second. With a Redis broker smsq instead writes the very message
kombu's Redis transport would write (Celery task protocol 2, kombu's JSON envelope, the default
exchange routing to the queue by name) and LPUSHes many in one pipeline. With RabbitMQ it sends the
same task message over one confirm-mode channel and waits once per batch for the confirms
(smsq.producers.amqp_lanes).
With tracing on (smsq.telemetry.tracing) each message's headers also carry the W3C traceparent of
its publish span, as Celery's instrumentation would have written it, so the worker's task span
continues the trace. tests/producers/test_publisher.py checks the envelope against one Celery itself
produced, and every integration test consumes these messages with a real Celery worker.
"""

from __future__ import annotations

import base64
import json
import os
import socket
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

import redis
from celery import Celery

from smsq.config.contract import SECRET_FIELDS, Payload
from smsq.config.scale_settings import is_amqp_url, is_redis_url
from smsq.config.settings import Settings
from smsq.producers.amqp_lanes import AmqpLanes, AmqpMessage, LaneMarks
from smsq.producers.core.connection import state_client
from smsq.producers.core.store import NOTHING_WAITING
from smsq.telemetry import tracing

Task = tuple[str, Payload, str]  # (task name, its payload model from smsq.config.contract, queue)
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}
# Messages sent before waiting once for RabbitMQ's confirms: a release pass or a campaign's batches.
CONFIRM_BATCH = 1000


class Publisher(Protocol):
    def publish(self, task: str, payload: Payload, queue: str) -> str:
        """Queue one task; returns its task id."""
        ...

    def publish_many(self, tasks: Sequence[Task]) -> None: ...

    def call(self, task: str, payload: Payload, queue: str, timeout: float) -> Any:
        """Run a task and wait for its result (for the few calls a caller must hear back from)."""
        ...


def wire_kwargs(payload: Payload) -> dict[str, Any]:
    """The task's keyword arguments as JSON types: what a worker decodes with the same model."""
    return payload.model_dump(mode="json")


def kwargs_repr(kwargs: Mapping[str, Any]) -> str:
    return repr({name: "***" if name in SECRET_FIELDS else value for name, value in kwargs.items()})


# A header on every task smsq publishes: when it was published (ms). The recovery check reads it off
# the oldest task waiting in a lane to tell which published tasks have left the queue
# (smsq.workers.sending.recovery); Celery passes unknown headers through untouched.
PUBLISHED_HEADER = "smsq_published_ms"


def published_header(clock: Callable[[], float] = time.time) -> dict[str, int]:
    return {PUBLISHED_HEADER: int(clock() * 1000)}


def task_parts(
    task: str,
    kwargs: Mapping[str, Any],
    queue: str,
    origin: str,
    task_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> tuple[bytes, dict[str, Any], dict[str, Any]]:
    """A Celery (protocol 2) task message: its JSON body, headers and AMQP properties."""
    task_id = task_id or str(uuid.uuid4())
    body = json.dumps([[], dict(kwargs), _EMBED]).encode()
    headers: dict[str, Any] = {
        "lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
        "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
        "root_id": task_id, "parent_id": None, "argsrepr": "()", "kwargsrepr": kwargs_repr(kwargs),
        "origin": origin, "ignore_result": None, "replaced_task_nesting": 0,
        "stamped_headers": None, "stamps": {}, **published_header(clock),
    }  # fmt: skip
    tracing.inject(headers)  # nothing unless tracing is on
    properties = {"correlation_id": task_id, "reply_to": None, "delivery_mode": 2, "priority": 0}
    return body, headers, properties


def task_message(
    task: str,
    kwargs: Mapping[str, Any],
    queue: str,
    origin: str,
    task_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """The JSON kombu's Redis transport stores for one Celery (protocol 2) task message."""
    body, headers, properties = task_parts(task, kwargs, queue, origin, task_id, clock)
    return json.dumps({
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": headers,
        "properties": {
            **properties, "delivery_info": {"exchange": "", "routing_key": queue},
            "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
        },
    })  # fmt: skip


def amqp_message(
    task: str, kwargs: Mapping[str, Any], queue: str, origin: str, task_id: str | None, published_ms: int
) -> AmqpMessage:
    """The message Celery's AMQP producer sends for one task, stamped with ``published_ms``."""
    body, headers, properties = task_parts(task, kwargs, queue, origin, task_id, lambda: published_ms / 1000)
    # prepare_message takes the priority on its own; None (reply_to) is no AMQP property.
    kept = {k: v for k, v in properties.items() if v is not None and k != "priority"}
    return AmqpMessage(queue, body, headers, kept)


def oldest_waiting_in_list(broker: redis.Redis, queue: str) -> int:
    """Redis broker: the publish time stamped on the oldest task in the queue's list (LPUSH + BRPOP:
    the tail), ``NOTHING_WAITING`` when it is empty, 0 when the task carries no stamp (another
    application's Celery published it: it tells nothing)."""
    raw = broker.lindex(queue, -1)
    if raw is None:
        return NOTHING_WAITING
    try:
        return int(json.loads(raw)["headers"][PUBLISHED_HEADER])
    except (ValueError, KeyError, TypeError):
        return 0


class CeleryPublisher:
    def __init__(
        self, app: Celery, *, broker: redis.Redis | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """``broker``: the client for the broker's lists (producers pass one with bounded timeouts);
        ``clock``: the publish time stamped on each task (the store's clock, so the two agree)."""
        self.app = app
        self.clock = clock
        url = str(app.conf.broker_url or "")
        settings: Settings | None = getattr(app, "smsq_settings", None)
        # Straight to the broker's lists when it is Redis; RabbitMQ through one confirm-mode channel
        # (smsq.producers.amqp_lanes); any other broker through Celery.
        self._broker = (broker or redis.Redis.from_url(url)) if is_redis_url(url) else None
        self._amqp: AmqpLanes | None = None
        self._marks: LaneMarks | None = None
        if is_amqp_url(url) and settings is not None:
            self._amqp = AmqpLanes(
                url,
                dict(app.amqp.queues),
                confirm_timeout=settings.amqp.confirm_timeout,
                connect_timeout=settings.amqp.connect_timeout,
            )
            marks_client = state_client(settings, decode_responses=False, bounded=True)
            self._marks = LaneMarks(marks_client, settings.key_prefix)
        self._origin = f"{os.getpid()}@{socket.gethostname()}"

    def publish(self, task: str, payload: Payload, queue: str) -> str:
        task_id = str(uuid.uuid4())
        self._publish([(task, wire_kwargs(payload), queue, task_id)])
        return task_id

    def publish_many(self, tasks: Sequence[Task]) -> None:
        self._publish([(task, wire_kwargs(payload), queue, None) for task, payload, queue in tasks])

    def queue_depth(self, queue: str) -> int:
        """Tasks waiting in ``queue`` (taken but unacknowledged ones not counted); 0 if unknown."""
        if self._broker is not None:
            return int(self._broker.llen(queue))
        if self._amqp is not None:
            return self._amqp.depth(queue)
        return 0

    def oldest_waiting_ms(self, queue: str) -> int:
        """The publish time of the oldest task waiting in ``queue`` (recovery's check), or
        ``NOTHING_WAITING`` when none waits, or 0 when it cannot be told (nothing is judged lost)."""
        if self._broker is not None:
            return oldest_waiting_in_list(self._broker, queue)
        if self._amqp is not None and self._marks is not None:
            return self._marks.oldest_waiting_ms(queue, self._amqp.depth)
        return 0

    def close(self) -> None:
        """Close the RabbitMQ channel, if any (a Redis client closes with its pool)."""
        if self._amqp is not None:
            self._amqp.close()

    def _publish(self, tasks: Sequence[tuple[str, dict[str, Any], str, str | None]]) -> None:
        if not tasks:
            return
        if tracing.installed() is None:
            self._publish_now(tasks)
            return
        with tracing.span(f"publish {tasks[0][0]}", publish_attributes(tasks), kind="producer"):
            self._publish_now(tasks)

    def _publish_now(self, tasks: Sequence[tuple[str, dict[str, Any], str, str | None]]) -> None:
        if self._amqp is not None and self._marks is not None:
            self._publish_amqp(self._amqp, self._marks, tasks)
            return
        if self._broker is None:
            for task, kwargs, queue, task_id in tasks:
                self.app.send_task(
                    task,
                    kwargs=kwargs,
                    queue=queue,
                    routing_key=queue,
                    task_id=task_id,
                    kwargsrepr=kwargs_repr(kwargs),
                    headers=traced(published_header(self.clock)),
                )
            return
        if len(tasks) == 1:  # one message (an API send): a plain LPUSH, without a pipeline's set-up
            task, kwargs, queue, task_id = tasks[0]
            self._broker.lpush(queue, task_message(task, kwargs, queue, self._origin, task_id, self.clock))
            return
        with self._broker.pipeline(transaction=False) as pipe:
            for task, kwargs, queue, task_id in tasks:
                pipe.lpush(queue, task_message(task, kwargs, queue, self._origin, task_id, self.clock))
            pipe.execute()

    def _publish_amqp(
        self, lanes: AmqpLanes, marks: LaneMarks, tasks: Sequence[tuple[str, dict[str, Any], str, str | None]]
    ) -> None:
        # The mark's time is taken before the publish, so no task it counts is stamped later than a
        # recovery watch taken after the publish (the check's comparison errs towards "still waiting").
        published_ms = int(self.clock() * 1000)
        messages = [
            amqp_message(task, kwargs, queue, self._origin, task_id, published_ms)
            for task, kwargs, queue, task_id in tasks
        ]
        for start in range(0, len(messages), CONFIRM_BATCH):
            lanes.publish(messages[start : start + CONFIRM_BATCH])
        counts: dict[str, int] = {}
        for message in messages:
            counts[message.queue] = counts.get(message.queue, 0) + 1
        marks.record(counts, published_ms)

    def call(self, task: str, payload: Payload, queue: str, timeout: float) -> Any:
        kwargs = wire_kwargs(payload)
        result = self.app.send_task(
            task,
            kwargs=kwargs,
            queue=queue,
            routing_key=queue,
            kwargsrepr=kwargs_repr(kwargs),
            headers=published_header(self.clock),
        )
        try:
            return result.get(timeout=timeout)
        finally:
            result.forget()


def traced(headers: dict[str, Any]) -> dict[str, Any]:
    tracing.inject(headers)
    return headers


def publish_attributes(tasks: Sequence[tuple[str, dict[str, Any], str, str | None]]) -> dict[str, str | int]:
    """A publish span's attributes: the task, the lane when there is one, the message of a single."""
    lanes = {queue for _, _, queue, _ in tasks}
    message_id = tasks[0][1].get("message_id") if len(tasks) == 1 else None
    return {
        tracing.TASK: tasks[0][0],
        tracing.MESSAGES: len(tasks),
        **({tracing.LANE: next(iter(lanes))} if len(lanes) == 1 else {}),
        **({tracing.MESSAGE_ID: str(message_id)} if message_id else {}),
    }


def queue_depth(publisher: Publisher, queue: str) -> int:
    """Tasks waiting in ``queue`` as ``publisher``'s broker tells (0 for a publisher that cannot)."""
    depth = getattr(publisher, "queue_depth", None)
    return int(depth(queue)) if callable(depth) else 0
