"""Delivering claimed callback events: POST each event's JSON, signed per Standard Webhooks with the
``standardwebhooks`` library, to its key's callback URL, all of a task's events at once on one
asyncio loop per worker process; then record every outcome in one round trip.

2xx: delivered. 410: dead, and the URL is not called again (``gone_days``). 429, 408, 5xx, timeouts and
connection errors: retried with exponential backoff and jitter until ``give_up_after`` from the status
change (or replay), then dead. Any other answer (other 4xx, 3xx since redirects are not followed,
1xx) and an address refused at connect time (DNS rebinding): ``client_error_attempts`` tries, then
dead. The answer's body is read up to ``max_response_bytes`` and never further.
"""

from __future__ import annotations

import asyncio
import logging
import os
import random
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import aiohttp
import httpx
from standardwebhooks import Webhook

from smsq.config.callback_settings import CallbackSettings
from smsq.config.settings import RetrySettings
from smsq.producers.callbacks.events import CLAIMS, TRACE, CallbackEvents, Event
from smsq.producers.callbacks.targets import Target, callback_target
from smsq.producers.errors import UnsafeCallbackUrl
from smsq.telemetry import tracing
from smsq.workers.callbacks.in_flight import Batch, InFlight, handback
from smsq.workers.callbacks.queue import CallbackQueue, Claimed, Finished
from smsq.workers.callbacks.transport import CheckedResolver, check_literal
from smsq.workers.sending.backoff import backoff_delay
from smsq.workers.sending.wire import as_httpx_error

log = logging.getLogger(__name__)

USER_AGENT = "smsq-callbacks"
Answer = tuple[int, bytes] | BaseException  # (status, the first bytes of the body) or what ended the call


class CallbackClient:
    """An aiohttp session (workers/callbacks/transport.py says why not httpx) on its own event loop
    thread, so the worker's synchronous task hands a whole batch over in one hop and connections are
    kept between tasks. Given an httpx transport (tests: httpx.MockTransport) it POSTs through
    httpx.AsyncClient over it instead, so the HTTP seam stays the one every other test fakes."""

    def __init__(
        self, settings: CallbackSettings, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.settings = settings
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="smsq-callbacks", daemon=True)
        self._thread.start()
        self._transport = transport
        self.max_in_flight = settings.worker_in_flight
        self._in_flight = 0
        self._room = threading.Condition()
        self._session: aiohttp.ClientSession | None = None
        self._httpx: httpx.AsyncClient | None = None
        self._on_loop(self._open()).result(timeout=30)

    async def _open(self) -> None:
        s = self.settings
        headers = {"User-Agent": USER_AGENT, "Content-Type": "application/json"}
        if self._transport is not None:
            self._httpx = httpx.AsyncClient(
                transport=self._transport, timeout=httpx.Timeout(s.timeout), follow_redirects=False,
                headers=headers,
            )  # fmt: skip
            return
        limits = aiohttp.ClientTimeout(
            total=None, connect=s.timeout, sock_connect=s.timeout, sock_read=s.timeout
        )
        connections = max(s.per_url_concurrency, s.batch_size)
        connector = aiohttp.TCPConnector(limit=connections, resolver=CheckedResolver(s))
        self._session = aiohttp.ClientSession(connector=connector, headers=headers, timeout=limits)

    def _on_loop(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    def post_many(self, requests: Sequence[tuple[str, dict[str, str], bytes]]) -> list[Answer]:
        """POST each (url, headers, body) at once and wait; each answer is (status, body start) or
        the error that ended the call."""
        answers: Future[list[Answer]] = Future()
        self.submit(requests, answers.set_result)
        return answers.result(timeout=self.settings.timeout * 4 + 10)

    def submit(
        self, requests: Sequence[tuple[str, dict[str, str], bytes]], then: Callable[[list[Answer]], object]
    ) -> None:
        """POST each at once without waiting; ``then(answers)`` runs on the loop when all are in.
        Waits first while this process has ``worker_in_flight`` requests out (back-pressure)."""
        size = len(requests)
        with self._room:
            self._room.wait_for(lambda: self._in_flight == 0 or self._in_flight + size <= self.max_in_flight)
            self._in_flight += size

        def done(future: Future[list[Answer]]) -> None:
            try:
                error = future.exception()
                then([error] * size if error is not None else future.result())
            finally:
                with self._room:
                    self._in_flight -= size
                    self._room.notify_all()

        self._on_loop(self._post_all(requests)).add_done_callback(done)

    async def _post_all(self, requests: Sequence[tuple[str, dict[str, str], bytes]]) -> list[Answer]:
        return list(await asyncio.gather(*(self._post(*r) for r in requests), return_exceptions=True))

    async def _post(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        if tracing.installed() is None:
            return await self._post_now(url, headers, body)
        # A span in the trace of the message the event is about (its traceparent, when it has one).
        event_id = headers.get("webhook-id", "")
        attributes = {tracing.EVENT: event_id, tracing.MESSAGE_ID: event_id.rsplit(":", 1)[0]}
        with tracing.span("smsq callback", attributes, kind="client", parent=headers.get(TRACE, "")):
            return await self._post_now(url, headers, body)

    async def _post_now(self, url: str, headers: dict[str, str], body: bytes) -> Answer:
        limit = self.settings.max_response_bytes
        if self._httpx is not None:
            async with self._httpx.stream("POST", url, content=body, headers=headers) as response:
                kept = b""
                async for chunk in response.aiter_raw():
                    kept += chunk
                    if len(kept) >= limit:
                        break  # the rest is never read: the connection is dropped, not drained
                return response.status_code, kept[:limit]
        assert self._session is not None
        check_literal(url, self.settings)
        try:
            async with self._session.post(url, data=body, headers=headers, allow_redirects=False) as answer:
                kept = b""
                while len(kept) < limit:
                    chunk = await answer.content.read(limit - len(kept))
                    if not chunk:
                        break
                    kept += chunk  # the rest is never read: the connection is dropped, not drained
                return answer.status, kept
        except (TimeoutError, aiohttp.ClientError) as error:
            # The httpx errors ``decide`` reads: a timeout, or a connection that failed.
            raise as_httpx_error(error, httpx.Request("POST", url)) from error

    def close(self) -> None:
        if self.loop.is_running():
            closing = self._httpx.aclose() if self._httpx is not None else self._close_session()
            self._on_loop(closing).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)

    async def _close_session(self) -> None:
        if self._session is not None:
            await self._session.close()


@dataclass
class Deliverer:
    """What a callback task needs: the events, the bookkeeping, the HTTP client, a clock and an rng."""

    events: CallbackEvents
    queue: CallbackQueue
    client: CallbackClient
    settings: CallbackSettings
    clock: Callable[[], float]
    rng: random.Random
    in_flight: InFlight = field(default_factory=InFlight)

    def lookup(self, key_id: str) -> Target | None:
        return callback_target(self.queue.redis, self.events.keys.keys, key_id)


def deliver(deliverer: Deliverer, claimed: Sequence[Claimed]) -> list[Finished]:
    """Deliver these claimed events once each, record the outcomes and return them."""
    outcome: Future[list[Finished]] = Future()
    start_delivery(deliverer, claimed, outcome.set_result)
    return outcome.result(timeout=deliverer.settings.timeout * 4 + 30)


def start_delivery(
    deliverer: Deliverer,
    claimed: Sequence[Claimed],
    then: Callable[[list[Finished]], object] = lambda _: None,
) -> None:
    """Send these claimed events and return without waiting for the answers: the outcomes are
    recorded (and handed to ``then``) on the client's loop as they come. The task can end at once,
    so a slow receiver holds only its requests (at most its URL's cap), never a worker process; a
    worker that dies with requests in flight loses nothing, their claims run out and they come due
    again. Blocks only while the process already has ``worker_in_flight`` requests out."""
    events = deliverer.events.get_many([c.event_id for c in claimed])
    targets: dict[str, Target | None] = {}
    gone: dict[str, bool] = {}
    finished: list[Finished] = []
    sending: list[tuple[Claimed, Event, Target]] = []
    for claim, event in zip(claimed, events, strict=True):
        if event is None or event.fields.get(CLAIMS) != str(claim.claim):
            continue  # expired, or claimed again since (this task came back late): not ours
        if event.key_id not in targets:
            targets[event.key_id] = deliverer.lookup(event.key_id)
        target = targets[event.key_id]
        if target is None:
            finished.append(_done(claim, "dead", "the key is revoked or has no callback URL"))
            continue
        if target.url not in gone:
            gone[target.url] = deliverer.queue.is_gone(target.url)
        if gone[target.url]:
            finished.append(_done(claim, "dead", "410: the URL answered 410 Gone earlier; not called"))
            continue
        sending.append((claim, event, target))
    ticket = deliverer.in_flight.add(Batch(list(finished), [claim for claim, _, _ in sending]))

    def record(answers: Sequence[Answer]) -> None:
        if not deliverer.in_flight.settle(ticket):
            return  # handed back by its stopping process (stop_delivering): not ours to record
        now_ms = int(deliverer.clock() * 1000)
        outcomes = list(finished)
        try:
            for (claim, event, target), answer in zip(sending, answers, strict=True):
                outcome = decide(claim, event, answer, deliverer.settings, now_ms, deliverer.rng)
                if outcome.result.startswith("410"):
                    deliverer.queue.mark_gone(target.url)
                outcomes.append(outcome)
            deliverer.queue.finish(outcomes, now_ms)
        except Exception:  # Redis gone: the claims run out and the events come due again
            log.exception("recording %d callback outcomes failed", len(outcomes))
        then(outcomes)

    if not sending:
        record([])
        return
    now = datetime.fromtimestamp(deliverer.clock(), UTC)
    deliverer.client.submit([request(event, target, now) for _, event, target in sending], record)


def stop_delivering(deliverer: Deliverer, wait: float) -> int:
    """The process is stopping: wait up to ``wait`` seconds for the answers of the requests it has
    out (recorded as usual), hand the rest back (due again at once, no attempt counted), close the
    client. Returns how many were handed back (workers/callbacks/in_flight.py)."""
    deliverer.in_flight.wait(wait)
    left = deliverer.in_flight.take_all()
    now_ms = int(deliverer.clock() * 1000)
    outcomes = [done for batch in left for done in batch.decided]
    handed = [handback(claim, now_ms) for batch in left for claim in batch.out]
    try:
        deliverer.queue.finish(outcomes + handed, now_ms)
    except Exception:  # Redis gone: the claims run out and the events come due again
        log.exception("handing back %d callback events failed", len(handed))
    if handed:
        log.warning("stopping: handed back %d callback events still waiting for an answer", len(handed))
    deliverer.client.close()
    with _lock:  # a closed client is never handed out again
        for key in [key for key, client in _clients.items() if client is deliverer.client]:
            del _clients[key]
    return len(handed)


def request(event: Event, target: Target, now: datetime) -> tuple[str, dict[str, str], bytes]:
    """The POST of one event: its body and the Standard Webhooks headers signed over it."""
    body = event.body()
    signature = Webhook(target.secret).sign(event.id, now, body)
    headers = {
        "webhook-id": event.id,
        "webhook-timestamp": str(int(now.timestamp())),
        "webhook-signature": signature,
    }
    if trace := event.fields.get(TRACE):
        # W3C trace context: the app's handling can join the message's trace (the HTTP client's
        # instrumentation, when on, writes its own span's in its place).
        headers[TRACE] = trace
    return target.url, headers, body.encode()


def decide(
    claim: Claimed, event: Event, answer: Answer, settings: CallbackSettings, now_ms: int, rng: random.Random
) -> Finished:
    attempt = event.attempts + 1
    if isinstance(answer, tuple):
        status, content = answer
        result = f"{status}" + (f": {_text(content)}" if content else "")
        if 200 <= status < 300:
            return _done(claim, "delivered", result)
        if status == 410:
            return _done(claim, "dead", result)
        transient = status in (408, 429) or status >= 500
    elif isinstance(answer, UnsafeCallbackUrl):
        result, transient = f"refused: {answer.reason}", False
    elif isinstance(answer, httpx.TimeoutException):
        result, transient = f"timeout ({type(answer).__name__})", True
    elif isinstance(answer, httpx.HTTPError | OSError):
        result, transient = f"connection error: {type(answer).__name__}: {answer}", True
    else:
        log.error("callback %s: unexpected error %r", event.id, answer)
        result, transient = f"error: {type(answer).__name__}", True
    if not transient and attempt >= settings.client_error_attempts:
        return _done(claim, "dead", f"{result} (after {attempt} attempts)")
    retry = RetrySettings(
        base_delay=settings.base_delay, max_delay=settings.max_delay, jitter=settings.jitter
    )
    next_due_ms = now_ms + int(backoff_delay(attempt, retry, rng) * 1000)
    window_ms = int(event.fields.get("window_ms") or event.at_ms)
    if next_due_ms > window_ms + int(settings.give_up_after * 1000):
        return _done(claim, "dead", f"{result} (gave up after {_duration(settings.give_up_after)})")
    return Finished(claim.event_id, claim.claim, claim.url_id, "retry", result, next_due_ms)


def _done(claim: Claimed, outcome: str, result: str) -> Finished:
    return Finished(claim.event_id, claim.claim, claim.url_id, outcome, result)


def _duration(seconds: float) -> str:
    return f"{seconds / 3600:g} h" if seconds >= 3600 else f"{seconds:g} s"


def _text(content: bytes) -> str:
    return content.decode("utf-8", "replace").replace("\n", " ")[:120]


_clients: dict[tuple[int, int], CallbackClient] = {}
_lock = threading.Lock()


def client_for(settings: CallbackSettings) -> CallbackClient:
    """This process's client (made after the pool forks: a loop thread does not survive a fork)."""
    key = (os.getpid(), id(settings))
    with _lock:
        if key not in _clients:
            _clients[key] = CallbackClient(settings)
        return _clients[key]
