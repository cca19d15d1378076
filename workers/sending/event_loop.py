"""Campaign singles through asyncio: one event loop thread per worker process sending with aiohttp
directly (httpx's own pools, sync and async, were the bottleneck at 100-200 connections, and the httpx
API over the httpx-aiohttp transport still cost a quarter of the rate: see README "Campaign
throughput"). The worker's main thread stays synchronous: it takes rate-limit tokens for many
messages per Redis round trip and hands each granted group to the loop in one hop, then records the
answers of the previous chunk while this one is in flight (``start_singles`` returns at once).

Singles of a provider that is a ``LoopSingles`` go this way (SMSQ_CAMPAIGNS__ASYNC_SEND=true,
use_bulk=false; Messente's today). The provider gives each body and reads each answer with the same
parse and error rules as its sync client (workers/providers/http.py); aiohttp's errors are
translated at this boundary into the httpx errors those rules know. Given an httpx transport (tests:
httpx.MockTransport) the loop sends through httpx.AsyncClient over it instead, so the HTTP seam stays
the one every other test fakes.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import httpx
import yarl

from smsq.config.settings import Timeouts
from smsq.producers.core.records import ATTEMPTS
from smsq.producers.messages.models import Omnimessage
from smsq.workers.limits.ratelimit import Grant
from smsq.workers.providers import http
from smsq.workers.providers.base import LoopSingles, OutboundMessage, SendResult
from smsq.workers.providers.errors import ProviderError
from smsq.workers.sending.single import Decision, Outcome, Sender, decide, outbound_for, record_outcomes

CONTENT_TYPES: Final = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
TOKENS_PER_TRIP = 50  # rate-limit tokens asked for in one Redis round trip
# A request this late for its rate-limit slot is not sent (and goes back to wait, no attempt spent):
# sent late it would arrive together with the ones on time. The pacing margin below the configured
# rate is what absorbs lateness up to this (settings.pacing.late_after).
DEFAULT_LATE_AFTER = 0.015
CONNECT_ATTEMPTS = 3  # as the sync client: a request that never reached the provider is repeated at once
Item = tuple[str, dict[str, str], Omnimessage]


@dataclass(frozen=True, slots=True)
class Reply:
    """A provider's answer as read off the wire; made into an httpx.Response only when it is not the
    usual 201 (building one for every answer was a twentieth of a send's CPU time)."""

    status: int
    content: bytes
    headers: Sequence[tuple[str, str]]
    request: httpx.Request

    def as_httpx(self) -> httpx.Response:
        return httpx.Response(
            self.status, headers=list(self.headers), content=self.content, request=self.request
        )


class Late:
    """A request that could not leave within ``late_after`` of its slot, so was not sent."""

    def __repr__(self) -> str:
        return "LATE"


LATE: Final = Late()
Answer = Reply | httpx.HTTPError | Late
Post = Callable[[str, bytes], Awaitable[Reply]]
Mark = Callable[[list[str]], object]  # notes on the records of these ids that their requests leave now


class Marker:
    """Marks records just before their requests leave, many per Redis call: while one call is on
    its way (in a thread: the store's client is synchronous) the next ones gather."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._pending: dict[Mark, list[tuple[str, asyncio.Future[None]]]] = {}
        self._flushing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smsq-mark")

    async def mark(self, mark: Mark, message_id: str) -> None:
        done: asyncio.Future[None] = self.loop.create_future()
        self._pending.setdefault(mark, []).append((message_id, done))
        if not self._flushing:
            self._flushing = True
            self.loop.create_task(self._flush())
        await done

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                for mark, waiting in batch.items():
                    try:
                        await self.loop.run_in_executor(self._thread, mark, [mid for mid, _ in waiting])
                    except Exception as exc:
                        for _, done in waiting:
                            done.set_exception(exc)
                    else:
                        for _, done in waiting:
                            done.set_result(None)
        finally:
            self._flushing = False

    def close(self) -> None:
        self._thread.shutdown(wait=False)


class AsyncHttp:
    """An HTTP client living on its own event loop thread; ``post_many`` is callable from any thread."""

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        auth: tuple[str, str] | None = None,
        max_connections: int = http.DEFAULT_MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
        on_done: Callable[[float], None] | None = None,
        late_after: float = DEFAULT_LATE_AFTER,
        headers: Mapping[str, str] | None = None,
        encoding: str = "json",
    ) -> None:
        """``headers``: sent with every request (credentials); ``encoding``: how bodies go, "json" or
        "form" (application/x-www-form-urlencoded)."""
        # ``on_done``: called on the loop with each request's seconds (a latency histogram).
        self.encode = encoder(encoding)
        self.headers = {**(headers or {}), "Content-Type": CONTENT_TYPES[encoding]}
        self.base_url = base_url.rstrip("/") + "/"
        self.on_done = on_done
        self.timeouts = timeouts
        self.late_after = late_after
        self.loop = asyncio.new_event_loop()
        # One request per connection at a time, reserved by the sending thread *before* it takes
        # rate-limit tokens (``reserve``): a token is only taken for a request that has a connection,
        # so slots can never outrun connections (they did: at 100,000/s and 100 ms, requests waited
        # for a connection past their slot, came back LATE and were requeued, 407/s instead of 1,672).
        # A threading semaphore: taken on the sending thread, given back on the loop's.
        self._connections = threading.BoundedSemaphore(max_connections)
        self._marker = Marker(self.loop)
        self._thread = threading.Thread(target=self.loop.run_forever, name="smsq-async-http", daemon=True)
        self._thread.start()
        # Sessions must be made on their loop.
        opened = self._on_loop(self._open(auth, max_connections, transport))
        self._post, self._close = opened.result(timeout=10)

    @classmethod
    def for_provider(
        cls,
        provider: LoopSingles,
        *,
        max_connections: int,
        late_after: float = DEFAULT_LATE_AFTER,
        on_done: Callable[[float], None] | None = None,
    ) -> AsyncHttp:
        """The loop's client for a provider's singles: its own client's base URL, credentials, timeouts."""
        target = provider.loop_target()
        return cls(
            target.base_url,
            target.timeouts,
            headers=target.headers,
            encoding=provider.single_encoding,
            max_connections=max_connections,
            late_after=late_after,
            on_done=on_done,
        )

    @property
    def answer_timeout(self) -> float:
        """The client's own timeouts end every call; this only guards against a stopped loop."""
        return self.timeouts.connect * CONNECT_ATTEMPTS + self.timeouts.read + self.timeouts.write + 5

    def _on_loop(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _open(
        self, auth: tuple[str, str] | None, connections: int, transport: httpx.AsyncBaseTransport | None
    ) -> tuple[Post, Callable[[], Awaitable[None]]]:
        headers = {"User-Agent": "smsq", **self.headers}
        if transport is not None:
            client = httpx.AsyncClient(
                base_url=self.base_url, auth=auth, headers=headers, transport=transport
            )

            async def post_httpx(path: str, body: bytes) -> Reply:
                response = await client.post(path, content=body)
                return Reply(
                    response.status_code, response.content, response.headers.multi_items(), response.request
                )

            return post_httpx, client.aclose
        session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=connections),
            headers={**headers, **basic_auth(auth)},
            timeout=aiohttp.ClientTimeout(
                total=None,
                connect=self.timeouts.pool + self.timeouts.connect,  # waiting for a pooled connection too
                sock_connect=self.timeouts.connect,
                sock_read=self.timeouts.read,
            ),
        )

        # Parsed once per path: URL parsing (yarl's and httpx's) was a tenth of a send's CPU time.
        targets: dict[str, tuple[yarl.URL, httpx.Request]] = {}

        async def post_aiohttp(path: str, body: bytes) -> Reply:
            if path not in targets:
                targets[path] = (yarl.URL(self.base_url + path), httpx.Request("POST", self.base_url + path))
            url, request = targets[path]
            try:
                async with session.post(url, data=body) as response:
                    content = await response.read()
                    return Reply(response.status, content, list(response.headers.items()), request)
            except Exception as exc:  # translated at the boundary; anything else is a bug and re-raised
                raise as_httpx_error(exc, request) from exc

        return post_aiohttp, session.close

    def reserve(self, wanted: int, wait: float | None = None) -> int:
        """Reserve up to ``wanted`` connections, waiting up to ``wait`` seconds (default: the pool
        timeout) for the first; returns how many were reserved (0: none came free in time). Each
        body given to ``post_many`` must hold one; ``unreserve`` gives back what goes unused."""
        if wanted <= 0 or not self._connections.acquire(timeout=self.timeouts.pool if wait is None else wait):
            return 0
        reserved = 1
        while reserved < wanted and self._connections.acquire(blocking=False):
            reserved += 1
        return reserved

    def unreserve(self, count: int) -> None:
        for _ in range(count):
            self._connections.release()

    def post_many(
        self,
        path: str,
        bodies: Sequence[Any],
        *,
        slots: Sequence[float] | None = None,
        mark: Mark | None = None,
        ids: Sequence[str] = (),
    ) -> Future[list[Answer]]:
        """POST each JSON body to ``path``; one thread hop for the lot. Each answer is the response,
        the httpx error that ended the call, or ``LATE``. The caller holds one reserved connection
        per body (``reserve``); each is given back when its request ends.

        ``slots``: when each request may leave (``time.monotonic()``), its rate-limit token's slot; a
        request that could not leave within ``late_after`` of it is not sent (``LATE``): sent late
        it would arrive in a clump with the ones on time. ``mark(ids)``, with one id per body, is
        called for each request once it has a connection and its slot has come, just before it
        leaves (many per call): a request not yet marked had certainly not started."""
        try:
            encoded = [self.encode(body) for body in bodies]
        except Exception:
            self.unreserve(len(bodies))  # nothing left: the connections are free again
            raise
        return self._on_loop(self._post_all(path, encoded, slots, mark, ids))

    async def _post_all(
        self,
        path: str,
        bodies: list[bytes],
        slots: Sequence[float] | None,
        mark: Mark | None,
        ids: Sequence[str],
    ) -> list[Answer]:
        at: Sequence[float | None] = slots if slots is not None else [None] * len(bodies)
        marks: Sequence[str | None] = ids if mark is not None else [None] * len(bodies)
        each = zip(bodies, at, marks, strict=True)
        return list(await asyncio.gather(*(self._paced(path, body, at, mark, mid) for body, at, mid in each)))

    async def _paced(
        self, path: str, body: bytes, slot: float | None, mark: Mark | None, message_id: str | None
    ) -> Answer:
        """One request on its reserved connection: its slot, then its record marked, then the wire."""
        try:
            if slot is not None:
                if (delay := slot - self.loop.time()) > 0:
                    await asyncio.sleep(delay)
                if self.loop.time() - slot > self.late_after:  # the loop held it up
                    return LATE
            if mark is not None and message_id is not None:
                try:
                    await self._marker.mark(mark, message_id)
                except Exception as exc:  # Redis unreachable: not sent, so nothing is left uncertain
                    return httpx.ConnectError(f"could not note the call before sending: {exc}")
            return await self._post_one(path, body)
        finally:
            self._connections.release()

    async def _post_one(self, path: str, body: bytes) -> Answer:
        if self.on_done is None:
            return await self._post_tries(path, body)
        started = time.perf_counter()
        try:
            return await self._post_tries(path, body)
        finally:
            self.on_done(time.perf_counter() - started)

    async def _post_tries(self, path: str, body: bytes) -> Answer:
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return await self._post(path, body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                if attempt == CONNECT_ATTEMPTS:
                    return exc
                await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))
            except httpx.HTTPError as exc:
                return exc
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.loop.is_running():
            self._on_loop(self._close()).result(timeout=10)
            self._marker.close()
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)


def basic_auth(auth: tuple[str, str] | None) -> dict[str, str]:
    """The Authorization header httpx sends for these credentials (aiohttp's ``auth=`` is deprecated)."""
    if auth is None:
        return {}
    return {"Authorization": "Basic " + base64.b64encode(":".join(auth).encode()).decode("ascii")}


def as_httpx_error(exc: Exception, request: httpx.Request) -> Exception:
    """aiohttp's failures as the httpx errors ``http.transport_error`` reads: a connection that was
    never made is safe to repeat, a timeout or a broken exchange may have reached the provider."""
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, aiohttp.ConnectionTimeoutError):
        return httpx.ConnectTimeout(detail, request=request)
    if isinstance(exc, aiohttp.ClientConnectorError):
        return httpx.ConnectError(detail, request=request)
    if isinstance(exc, (asyncio.TimeoutError, aiohttp.ServerTimeoutError)):
        return httpx.ReadTimeout(detail, request=request)
    if isinstance(exc, aiohttp.ClientError):
        return httpx.ReadError(detail, request=request)
    return exc


def answer_of(
    provider: LoopSingles, answer: Reply | httpx.HTTPError, message: OutboundMessage
) -> SendResult | ProviderError:
    """The provider's answer to one send, read like the sync client reads it."""
    if isinstance(answer, httpx.HTTPError):
        return http.transport_error(provider.name, answer)
    try:
        return provider.read_single(answer.status, answer.content, answer.as_httpx, message)
    except ProviderError as exc:
        return exc


def waiting(detail: str, due_ms: int, wait: float) -> Decision:
    """Back to wait for our own limit: nothing was sent, no attempt is spent."""
    return Decision("queued", {"schedule_at_ms": due_ms}, Outcome("queued", detail, wait))


@dataclass
class InFlight:
    """A chunk's singles on their way: ``finish`` waits for the answers and decides each message."""

    items: Sequence[Item]
    provider: LoopSingles
    sender: Sender
    outbound: list[OutboundMessage]  # what went out of items, in order (the answers are to these)
    client: AsyncHttp
    groups: list[tuple[int, Future[list[Answer]]]]  # (messages, their answers to come)
    later: list[Decision]

    def finish(self) -> list[Decision]:
        answers: list[Answer] = []
        for size, group in self.groups:
            try:
                answers.extend(group.result(timeout=self.client.answer_timeout))
            except TimeoutError:  # the loop stopped: unanswered, so maybe sent
                answers.extend([httpx.ReadTimeout("no answer from the event loop in time")] * size)
        each = zip(self.items, self.outbound, answers, strict=False)
        decisions = [self._decide(item, outbound, answer) for item, outbound, answer in each]
        # One health count and at most one pause for the whole chunk, not a round trip per call.
        record_outcomes(self.sender, self.provider.name, decisions)
        return decisions + self.later

    def _decide(self, item: Item, outbound: OutboundMessage, answer: Answer) -> Decision:
        if isinstance(answer, Late):
            return waiting("late for its rate-limit slot", self.sender.store.now_ms(), 0.0)
        mid, record, message = item
        attempt = int(record.get(ATTEMPTS, 0)) + 1
        answered = answer_of(self.provider, answer, outbound)
        return decide(mid, record, message, self.provider.name, attempt, answered, self.sender)


def start_singles(
    items: Sequence[Item],
    provider: LoopSingles,
    sender: Sender,
    priority: str,
    client: AsyncHttp,
    mark: Mark | None = None,
) -> InFlight:
    """Hand each message to the loop as soon as its token is granted, to leave at its token's slot,
    and return without waiting for the answers; what gets no token within the inline wait goes back
    to wait (no attempt spent). ``mark``: see ``AsyncHttp.post_many``."""
    groups: list[tuple[int, Future[list[Answer]]]] = []
    later: list[Decision] = []
    outbound: list[OutboundMessage] = []
    waited = 0.0
    sent = 0
    while sent < len(items):
        # Tokens only for requests that have a connection to leave on at their slot.
        wanted = client.reserve(min(TOKENS_PER_TRIP, len(items) - sent))
        if not wanted:  # every connection busy for the whole pool timeout: the rest waits, unspent
            later = [waiting("no free connection", sender.store.now_ms(), 0.0)] * (len(items) - sent)
            break
        grant = take_tokens(sender, provider.name, priority, wanted)
        granted = grant.granted
        client.unreserve(wanted - granted)
        if granted:
            # The slots are counted from when the grant was read, on this process's monotonic clock
            # (the loop's): only the offsets come from Redis, so no two clocks need to agree.
            base = time.monotonic()
            chosen = items[sent : sent + granted]
            going = [outbound_for(sender, provider.name, mid, message) for mid, _, message in chosen]
            outbound.extend(going)
            bodies = [provider.single_body(message) for message in going]
            slots = [base + grant.slot(k) for k in range(granted)] if grant.interval else None
            answers = client.post_many(
                provider.single_path, bodies, slots=slots, mark=mark, ids=[mid for mid, _, _ in chosen]
            )
            groups.append((granted, answers))
            sent += granted
        if granted == wanted:
            continue
        if waited + grant.wait > sender.max_inline_wait:
            # Our own global limit: what has no token goes back to wait; no attempt is spent.
            due = sender.store.now_ms() + int(grant.wait * 1000)
            later = [waiting("rate limit", due, grant.wait)] * (len(items) - sent)
            sender.telemetry.limiter_deferred(provider.name, len(items) - sent)
            break
        sender.sleep(grant.wait)
        sender.telemetry.limiter_wait(provider.name, grant.wait)
        waited += grant.wait
    return InFlight(items, provider, sender, outbound, client, groups, later)


class LoopClients:
    """One ``AsyncHttp`` per provider a worker process sends singles to, made by ``make`` when first
    asked for (None: that provider's singles go the sync way)."""

    def __init__(self, make: Callable[[LoopSingles], AsyncHttp | None]) -> None:
        self.make = make
        self.clients: dict[str, AsyncHttp | None] = {}
        self._lock = threading.Lock()

    def get(self, provider: LoopSingles) -> AsyncHttp | None:
        with self._lock:
            if provider.name not in self.clients:
                self.clients[provider.name] = self.make(provider)
            return self.clients[provider.name]


def client_for(clients: AsyncHttp | LoopClients | None, provider: object) -> AsyncHttp | None:
    """The loop client for ``provider``'s singles, if they go through one (a lone ``AsyncHttp``, as
    tests give, serves every provider)."""
    if clients is None or not isinstance(provider, LoopSingles):
        return None
    return clients if isinstance(clients, AsyncHttp) else clients.get(provider)


def encoder(encoding: str) -> Callable[[Any], bytes]:
    if encoding == "json":
        return lambda body: json.dumps(body).encode()
    if encoding == "form":
        return lambda body: urlencode(body).encode()
    raise ValueError(f"unknown body encoding {encoding!r}; use {' or '.join(CONTENT_TYPES)}")


def take_tokens(sender: Sender, provider: str, priority: str, count: int) -> Grant:
    if sender.limiter is None:
        return Grant(count, 0.0, 0.0, 0.0)
    return sender.limiter.take(provider, priority, count)
