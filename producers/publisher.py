"""Publishing tasks by name, each with its payload model from ``smsq.config.contract``: producers
never import worker code.

``send_task`` builds each message through Celery's whole routing machinery: about a millisecond
of CPU per message here, and several under load, which caps the release loop and campaign queueing
at a few hundred messages a second. With a Redis broker smsq instead writes the very message
kombu's Redis transport would write (Celery task protocol 2, kombu's JSON envelope, the default
exchange routing to the queue by name) and LPUSHes many in one pipeline.
tests/producers/test_publisher.py checks the envelope against one Celery itself produced, and every
integration test consumes these messages with a real Celery worker.
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

Task = tuple[str, Payload, str]  # (task name, its payload model from smsq.config.contract, queue)
_EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


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


def task_message(
    task: str,
    kwargs: Mapping[str, Any],
    queue: str,
    origin: str,
    task_id: str | None = None,
    clock: Callable[[], float] = time.time,
) -> str:
    """The JSON kombu's Redis transport stores for one Celery (protocol 2) task message."""
    task_id = task_id or str(uuid.uuid4())
    body = json.dumps([[], dict(kwargs), _EMBED]).encode()
    return json.dumps({
        "body": base64.b64encode(body).decode(),
        "content-encoding": "utf-8",
        "content-type": "application/json",
        "headers": {
            "lang": "py", "task": task, "id": task_id, "shadow": None, "eta": None, "expires": None,
            "group": None, "group_index": None, "retries": 0, "timelimit": [None, None],
            "root_id": task_id, "parent_id": None, "argsrepr": "()", "kwargsrepr": kwargs_repr(kwargs),
            "origin": origin, "ignore_result": None, "replaced_task_nesting": 0,
            "stamped_headers": None, "stamps": {}, **published_header(clock),
        },
        "properties": {
            "correlation_id": task_id, "reply_to": None, "delivery_mode": 2,
            "delivery_info": {"exchange": "", "routing_key": queue}, "priority": 0,
            "body_encoding": "base64", "delivery_tag": str(uuid.uuid4()),
        },
    })  # fmt: skip


class CeleryPublisher:
    def __init__(
        self, app: Celery, *, broker: redis.Redis | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        """``broker``: the client for the broker's lists (producers pass one with bounded timeouts);
        ``clock``: the publish time stamped on each task (the store's clock, so the two agree)."""
        self.app = app
        self.clock = clock
        url = str(app.conf.broker_url or "")
        # Straight to the broker's lists when it is Redis; through Celery otherwise.
        is_redis = url.startswith(("redis://", "rediss://", "unix://"))
        self._broker = (broker or redis.Redis.from_url(url)) if is_redis else None
        self._origin = f"{os.getpid()}@{socket.gethostname()}"

    def publish(self, task: str, payload: Payload, queue: str) -> str:
        task_id = str(uuid.uuid4())
        self._publish([(task, wire_kwargs(payload), queue, task_id)])
        return task_id

    def publish_many(self, tasks: Sequence[Task]) -> None:
        self._publish([(task, wire_kwargs(payload), queue, None) for task, payload, queue in tasks])

    def _publish(self, tasks: Sequence[tuple[str, dict[str, Any], str, str | None]]) -> None:
        if self._broker is None:
            for task, kwargs, queue, task_id in tasks:
                self.app.send_task(
                    task,
                    kwargs=kwargs,
                    queue=queue,
                    routing_key=queue,
                    task_id=task_id,
                    kwargsrepr=kwargs_repr(kwargs),
                    headers=published_header(self.clock),
                )
            return
        with self._broker.pipeline(transaction=False) as pipe:
            for task, kwargs, queue, task_id in tasks:
                pipe.lpush(queue, task_message(task, kwargs, queue, self._origin, task_id, self.clock))
            pipe.execute()

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
