from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


class RecordingPublisher:
    """Stands in for Celery where a test is about what gets published, not about Celery."""

    def __init__(self, fail: bool = False) -> None:
        self.published: list[tuple[str, dict[str, Any], str]] = []
        self.fail = fail

    def publish(self, task: str, kwargs: Mapping[str, Any], queue: str) -> None:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.published.append((task, dict(kwargs), queue))

    def publish_many(self, tasks: Sequence[tuple[str, Mapping[str, Any], str]]) -> None:
        for task, kwargs, queue in tasks:
            self.publish(task, kwargs, queue)

    def call(self, task: str, kwargs: Mapping[str, Any], queue: str, timeout: float) -> Any:
        self.publish(task, kwargs, queue)
        return self.answer

    answer: Any = None
