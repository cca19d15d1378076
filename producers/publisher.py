"""Publishing tasks by name, so producers never import worker code."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from celery import Celery


class Publisher(Protocol):
    def publish(self, task: str, kwargs: Mapping[str, Any], queue: str) -> None: ...


class CeleryPublisher:
    def __init__(self, app: Celery) -> None:
        self.app = app

    def publish(self, task: str, kwargs: Mapping[str, Any], queue: str) -> None:
        self.app.send_task(task, kwargs=dict(kwargs), queue=queue, routing_key=queue)
