"""A callback receiver as an app would write one: it verifies each request with the
``standardwebhooks`` library (signature, timestamp within 5 minutes), drops a repeat by its
``webhook-id`` and keeps the events in order of their sequence number. `smsq demo`, the tests and
bench/callbacks.py run it on loopback; the README's "Callbacks" shows the same few lines.

``answers`` scripts what a path answers (status codes, in turn; then 204), and ``latency`` holds
each answer back, to play a slow or failing app.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import threading
import time
from collections import defaultdict, deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route


@dataclass
class Received:
    """What a receiver got: verified events by webhook-id (the first of each), and counts."""

    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    paths: dict[str, str] = field(default_factory=dict)  # webhook-id -> the path it came to
    traceparents: dict[str, str] = field(default_factory=dict)  # webhook-id -> its W3C traceparent, if any
    requests: int = 0
    repeats: int = 0  # deliveries of a webhook-id already seen (dropped, answered 2xx)
    refused: int = 0  # requests whose signature did not verify (401)
    in_flight: int = 0
    max_in_flight: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def for_message(self, message_id: str) -> list[dict[str, Any]]:
        """A message's events in the order the app should apply them: by sequence number."""
        with self.lock:
            found = [e for e in self.events.values() if e["data"].get("message_id") == message_id]
        return sorted(found, key=lambda event: event["data"]["sequence"])

    def count(self) -> int:
        with self.lock:
            return len(self.events)


class Receiver:
    def __init__(self, secret: str, *, latency: float = 0.0) -> None:
        self.webhook = Webhook(secret)
        self.latency = latency
        self.received = Received()
        self.answers: dict[str, deque[int | tuple[int, bytes]]] = defaultdict(deque)
        self._busy: dict[str, int] = defaultdict(int)

    def reset(self) -> None:
        self.received = Received()
        self.answers.clear()
        self.latency = 0.0

    def script(self, path: str, statuses: Iterable[int | tuple[int, bytes]]) -> None:
        """``path`` answers these statuses (or (status, body)) to its next requests, in turn (then
        204 again)."""
        self.answers[path].extend(statuses)

    async def handle(self, request: Request) -> Response:
        path = request.url.path
        body = await request.body()
        got = self.received
        with got.lock:
            got.requests += 1
            self._busy[path] += 1
            got.max_in_flight[path] = max(got.max_in_flight[path], self._busy[path])
        try:
            if self.latency:
                await asyncio.sleep(self.latency)
            with got.lock:
                scripted = self.answers[path].popleft() if self.answers[path] else None
            if scripted is not None:
                status, content = scripted if isinstance(scripted, tuple) else (scripted, b"scripted answer")
                return Response(status_code=status, content=content)
            try:
                payload = self.webhook.verify(body, dict(request.headers))
            except WebhookVerificationError:
                with got.lock:
                    got.refused += 1
                return Response(status_code=401)
            event_id = request.headers["webhook-id"]
            with got.lock:
                if event_id in got.events:
                    got.repeats += 1
                else:
                    got.events[event_id] = payload
                    got.paths[event_id] = path
                    if "traceparent" in request.headers:
                        got.traceparents[event_id] = request.headers["traceparent"]
            return Response(status_code=204)
        finally:
            with got.lock:
                self._busy[path] -= 1

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/{path:path}", self.handle, methods=["POST"])])


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_receiver(receiver: Receiver, host: str = "127.0.0.1", *, nice: int = 0) -> Iterator[str]:
    """Serve ``receiver`` on loopback in a thread; yields its base URL once it listens. ``nice``: the
    serving thread's lower CPU priority (Linux keeps one per thread), so a benchmark can let the
    receiver (an app on another host, in production) have only the CPU nothing else wants."""
    port = free_port(host)
    config = uvicorn.Config(receiver.app(), host=host, port=port, log_level="warning", access_log=False,
                            timeout_graceful_shutdown=1, backlog=2048)  # fmt: skip
    server = uvicorn.Server(config)

    def serve() -> None:
        if nice:
            os.nice(nice)  # this thread only
        server.run()

    thread = threading.Thread(target=serve, name=f"callback-receiver-{port}", daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            raise RuntimeError(f"the callback receiver on {host}:{port} did not start")
        time.sleep(0.01)
    try:
        yield f"http://{host}:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def describe(event: dict[str, Any]) -> str:
    """One line per event, as `smsq demo` prints them."""
    data = event["data"]
    subject = data.get("message_id") or data.get("campaign_id")
    extra = f" {json.dumps(data['counts'])}" if "counts" in data else ""
    return f"{event['type']:<22} #{data['sequence']} {subject}{extra}"
