"""The event loop's HTTP client: one aiohttp session on its own event loop thread per worker process
and provider (httpx's own pools, sync and async, were the bottleneck at 100-200 connections, and the
httpx API over the httpx-aiohttp transport still cost a quarter of the rate: see README "Campaign
throughput"). aiohttp's errors are translated at this boundary into the httpx errors the provider
layer's rules know. Given an httpx transport (tests: httpx.MockTransport) the loop sends through
httpx.AsyncClient over it instead, so the HTTP seam stays the one every other test fakes.

Each request leaves on a connection reserved by the sending thread (``reserve``), at its rate-limit
slot, its record marked before; see ``AsyncHttp.post_many``.
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import httpx
import yarl

from smsq.config.settings import Timeouts
from smsq.workers.providers import http
from smsq.workers.providers.base import LoopSingles
from smsq.workers.sending.gatherer import Gatherer

CONTENT_TYPES: Final = {"json": "application/json", "form": "application/x-www-form-urlencoded"}
# A request this late for its rate-limit slot is not sent (and goes back to wait, no attempt spent):
# sent late it would arrive together with the ones on time. The pacing margin below the configured
# rate is what absorbs lateness up to this (settings.pacing.late_after).
DEFAULT_LATE_AFTER = 0.015
CONNECT_ATTEMPTS = 3  # as the sync client: a request that never reached the provider is repeated at once


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


class NotOurs:
    """A request not sent because its record's lease was no longer this worker's when it was about
    to leave (it expired; the message may be with another worker, which would send it too)."""

    def __repr__(self) -> str:
        return "NOT_OURS"


NOT_OURS: Final = NotOurs()
Answer = Reply | httpx.HTTPError | Late | NotOurs
Post = Callable[[str, bytes], Awaitable[Reply]]
# Notes on the records of these ids that their requests leave now: one flag per id, False where the
# record is no longer held by this worker (that request must not leave).
Mark = Callable[[list[str]], Sequence[bool]]
# New rate-limit slots (``time.monotonic()``) for these requests (their message ids, or None) that
# missed theirs: fewer when the limiter has no more tokens now.
Reslot = Callable[[list[str | None]], Sequence[float]]
# A request's record is marked this long before its slot, so the mark's Redis round trip is over by
# then and the request leaves at its slot (AsyncHttp._paced).
MARK_LEAD = 0.025
# A request late for its slot takes a new token this many times before it is put back (LATE): a retry
# costs one Redis call for many, putting back costs a record write, a schedule entry and a new claim.
LATE_RETRIES = 3
# How long a sending thread that found every connection busy gathers freed ones into one group of
# tokens: a few answers' worth at 100 ms and 50 connections (500 answers/s a process); the default
# of settings.pacing.gather_seconds.
GATHER_SECONDS = 0.02


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
        gather_seconds: float = GATHER_SECONDS,
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
        self.gather_seconds = gather_seconds
        self.loop = asyncio.new_event_loop()
        # One request per connection at a time, reserved by the sending thread *before* it takes
        # rate-limit tokens (``reserve``): a token is only taken for a request that has a connection,
        # so slots can never outrun connections (they did: at 100,000/s and 100 ms, requests waited
        # for a connection past their slot, came back LATE and were requeued, 407/s instead of 1,672).
        # A threading semaphore: taken on the sending thread, given back on the loop's.
        self._connections = threading.BoundedSemaphore(max_connections)
        self._gatherer = Gatherer(self.loop)
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
        gather_seconds: float = GATHER_SECONDS,
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
            gather_seconds=gather_seconds,
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
        body given to ``post_many`` must hold one; ``unreserve`` gives back what goes unused.

        When the first had to be waited for (every connection busy: the connections, not the rate,
        are the limit), more are gathered for up to ``gather_seconds``: one at a time, each reserve
        would cost a rate-limiter round trip per request instead of per group (scenario 2 went at
        half the bare client's rate so)."""
        if wanted <= 0:
            return 0
        if self._connections.acquire(blocking=False):
            busy = False
        elif self._connections.acquire(timeout=self.timeouts.pool if wait is None else wait):
            busy = True
        else:
            return 0
        reserved = 1
        while reserved < wanted and self._connections.acquire(blocking=False):
            reserved += 1
        if busy:
            deadline = time.monotonic() + self.gather_seconds
            while reserved < wanted and (left := deadline - time.monotonic()) > 0:
                if not self._connections.acquire(timeout=left):
                    break
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
        reslot: Reslot | None = None,
    ) -> Future[list[Answer]]:
        """POST each JSON body to ``path``; one thread hop for the lot. Each answer is the response,
        the httpx error that ended the call, or ``LATE``. The caller holds one reserved connection
        per body (``reserve``); each is given back when its request ends.

        ``slots``: when each request may leave (``time.monotonic()``), its rate-limit token's slot; a
        request that could not leave within ``late_after`` of it is not sent then: sent late it would
        arrive in a clump with the ones on time. It takes a new slot from ``reslot`` (many requests
        per call) up to ``LATE_RETRIES`` times, then answers ``LATE``. ``mark(ids)``, with one id per body, is
        called for each request on its connection ``MARK_LEAD`` before its slot (many per call): a
        request not yet marked had certainly not started."""
        try:
            encoded = [self.encode(body) for body in bodies]
        except Exception:
            self.unreserve(len(bodies))  # nothing left: the connections are free again
            raise
        return self._on_loop(self._post_all(path, encoded, slots, mark, ids, reslot))

    async def _post_all(
        self,
        path: str,
        bodies: list[bytes],
        slots: Sequence[float] | None,
        mark: Mark | None,
        ids: Sequence[str],
        reslot: Reslot | None,
    ) -> list[Answer]:
        at: Sequence[float | None] = slots if slots is not None else [None] * len(bodies)
        marks: Sequence[str | None] = ids if mark is not None else [None] * len(bodies)
        each = zip(bodies, at, marks, strict=True)
        return list(
            await asyncio.gather(*(self._paced(path, body, at, mark, mid, reslot) for body, at, mid in each))
        )

    async def _on_slot(self, slot: float, reslot: Reslot | None, message_id: str | None) -> bool:
        """Wait for ``slot``; if the loop held the request up past it, for a new one, a few times.
        False: still late (or no new token now): not to be sent."""
        for retry in range(LATE_RETRIES + 1):
            if (delay := slot - self.loop.time()) > 0:
                await asyncio.sleep(delay)
            if self.loop.time() - slot <= self.late_after:
                return True
            if reslot is None or retry == LATE_RETRIES:
                return False
            new = await self._gatherer.call(reslot, message_id)
            if new is None:
                return False
            slot = new
        return False

    async def _paced(
        self,
        path: str,
        body: bytes,
        slot: float | None,
        mark: Mark | None,
        message_id: str | None,
        reslot: Reslot | None,
    ) -> Answer:
        """One request on its reserved connection: its record marked ``MARK_LEAD`` before its slot,
        then the slot, then the wire.

        The mark comes ahead: the Redis round trip it waits for (gathered with other requests') varies
        by tens of milliseconds on a busy host, and marking at the slot would send every request whose
        slot came during one round trip out together when it returned. So the last thing before the wire
        is the slot and its lateness check. The lead is short, so a lease lost while the request waits
        (recovery gave the message to another worker) is still seen by the mark. A request marked but
        then LATE was not sent; its decision takes the mark back."""
        try:
            if slot is not None and mark is not None and (early := slot - MARK_LEAD - self.loop.time()) > 0:
                await asyncio.sleep(early)
            if mark is not None and message_id is not None:
                try:
                    if not await self._gatherer.call(mark, message_id):
                        return NOT_OURS
                except Exception as exc:  # Redis unreachable: not sent, so nothing is left uncertain
                    return httpx.ConnectError(f"could not note the call before sending: {exc}")
            if slot is not None:
                try:
                    if not await self._on_slot(slot, reslot, message_id):
                        return LATE
                except Exception:  # the limiter unreachable: not sent, put back
                    return LATE
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
            self._gatherer.close()
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


def encoder(encoding: str) -> Callable[[Any], bytes]:
    if encoding == "json":
        return lambda body: json.dumps(body).encode()
    if encoding == "form":
        return lambda body: urlencode(body).encode()
    raise ValueError(f"unknown body encoding {encoding!r}; use {' or '.join(CONTENT_TYPES)}")
