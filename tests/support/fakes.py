from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from smsq.config.contract import Payload


class RecordingPublisher:
    """Stands in for Celery where a test is about what gets published, not about Celery. Records
    each payload as the JSON kwargs a worker would receive."""

    def __init__(self, fail: bool = False) -> None:
        self.published: list[tuple[str, dict[str, Any], str]] = []
        self.fail = fail

    def publish(self, task: str, payload: Payload, queue: str) -> str:
        if self.fail:
            raise ConnectionError("broker unreachable")
        self.published.append((task, payload.model_dump(mode="json"), queue))
        return str(uuid.uuid4())

    def publish_many(self, tasks: Sequence[tuple[str, Payload, str]]) -> None:
        for task, payload, queue in tasks:
            self.publish(task, payload, queue)

    def call(self, task: str, payload: Payload, queue: str, timeout: float) -> Any:
        self.publish(task, payload, queue)
        return self.answer

    answer: Any = None
