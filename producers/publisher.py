"""Publishing tasks by name, so producers never import worker code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from celery import Celery


class Publisher(Protocol):
    def publish(self, task: str, kwargs: Mapping[str, Any], queue: str) -> None: ...

    def call(self, task: str, kwargs: Mapping[str, Any], queue: str, timeout: float) -> Any:
        """Run a task and wait for its result (for the few calls a caller must hear back from)."""
        ...


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, task: str, kwargs: Mapping[str, Any], queue: str) -> None:
        self.app.send_task(task, kwargs=dict(kwargs), queue=queue, routing_key=queue)

    def call(self, task: str, kwargs: Mapping[str, Any], queue: str, timeout: float) -> Any:
        result = self.app.send_task(task, kwargs=dict(kwargs), queue=queue, routing_key=queue)
        try:
            return result.get(timeout=timeout)
        finally:
            result.forget()
