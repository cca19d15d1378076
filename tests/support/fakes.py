"""Fakes the suite shares, each defined once: a clock moved by hand, a publisher that records, a rate
limiter at its seam, and an HTTP wire (an httpx.MockTransport handler) that answers from a queue."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from smsq.config.contract import Payload

START = 1_800_000_000.0  # 2027-01-15T08:00:00Z: where every FakeClock starts


class FakeClock:
    """A clock tests move by hand (the store's, the sandbox's, a limiter's), so nothing sleeps."""

    def __init__(self, start: float = START) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def iso(self, later: float = 0.0) -> str:
        """The time ``later`` seconds from now, as an ISO 8601 string with its UTC offset."""
        return datetime.fromtimestamp(self.now + later, tz=UTC).isoformat()


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


@dataclass
class FakeLimiter:
    """The rate limiter at its seam: ``acquire`` answers the queued waits in turn (then 0.0, granted),
    and every call is logged in order, so a test can check what was asked and when it paused."""

    waits: list[float] = field(default_factory=list)
    calls: list[tuple[str, str, str | float]] = field(default_factory=list)

    def acquire(self, provider: str, tier: str = "regular", cost: int = 1) -> float:
        self.calls.append(("acquire", provider, tier))
        return self.waits.pop(0) if self.waits else 0.0

    def pause(self, provider: str, seconds: float) -> None:
        self.calls.append(("pause", provider, seconds))

    @property
    def asked(self) -> list[tuple[str, str | float]]:
        """(provider, tier) of each acquire, in order."""
        return [(provider, tier) for kind, provider, tier in self.calls if kind == "acquire"]

    @property
    def paused(self) -> list[tuple[str, str | float]]:
        """(provider, seconds) of each pause, in order."""
        return [(provider, seconds) for kind, provider, seconds in self.calls if kind == "pause"]


Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


class Wire:
    """A provider at the HTTP seam (pass it to httpx.MockTransport): records every request, read,
    and answers with the queued replies in turn. A reply is a response, an exception to raise (a
    timeout, a refused connection) or a function of the request. A request beyond the queue fails the
    test, unless ``repeat_last`` is set (a client that retries gets the last reply again)."""

    repeat_last = False

    def __init__(self, *replies: Reply) -> None:
        self.replies = list(replies)
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}: no reply left")
        reply = self.replies[0] if self.repeat_last and len(self.replies) == 1 else self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        return reply(request) if callable(reply) else reply

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    def last_json(self) -> Any:
        return json.loads(self.last.content)
