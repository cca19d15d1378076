"""The event loop's HTTP client: one aiohttp session on its own event loop thread per worker process
and provider (httpx's own pools, sync and async, were the bottleneck at 100-200 connections, and the
httpx API over the httpx-aiohttp transport still cost a quarter of the rate: see README "Campaign
throughput"). aiohttp's errors are translated at this boundary into the httpx errors the provider
layer's rules know. Given an httpx transport (tests: httpx.MockTransport) the loop sends through
httpx.AsyncClient over it instead, so the HTTP seam stays the one every other test fakes.

Each request waits on the loop for a free connection, then for its rate-limit token and slot, its
record marked just before; see ``AsyncHttp.post_many``.
"""

from __future__ import annotations

import asyncio
import random
import threading
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import httpx
import yarl

from smsq.config.settings import Timeouts
from smsq.workers.providers import http
from smsq.workers.providers.base import LoopSingles
from smsq.workers.sending.gatherer import Gatherer
from smsq.workers.sending.wire import CONTENT_TYPES, as_httpx_error, basic_auth, encoder

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


@dataclass(frozen=True, slots=True)
class Deferred:
    """A request not sent because it got no token (or no connection) in the time it may wait: back to
    wait, no attempt spent; ask again after ``wait`` seconds."""

    reason: str
    wait: float


@dataclass(frozen=True, slots=True)
class Token:
    """A request's rate-limit token: it may leave at ``slot`` (``time.monotonic()``); ``marked``: its
    record was already marked as calling (its slot was due), so the loop does not mark it again."""

    slot: float
    marked: bool = False


@dataclass(frozen=True, slots=True)
class NoToken:
    """No token for this request now: ask again after ``wait`` seconds."""

    wait: float


Answer = Reply | httpx.HTTPError | Late | NotOurs | Deferred
Post = Callable[[str, bytes], Awaitable[Reply]]
# Notes on the records of these ids that their requests leave now: one flag per id, False where the
# record is no longer held by this worker (that request must not leave).
Mark = Callable[[list[str]], Sequence[bool]]
# Rate-limit tokens for these requests (their message ids, or None), one entry each, many requests in
# one call: a Token, a NoToken, or the request's answer without sending it (its mark found it not ours).
Take = Callable[[list[str | None]], Sequence["Token | NoToken | Answer"]]
# A request's record is marked this long before its slot, so the mark's Redis round trip is over by
# then and the request leaves at its slot (AsyncHttp._paced).
MARK_LEAD = 0.025
# A request late for its slot takes a new token this many times before it is put back (LATE): a retry
# costs one Redis call for many, putting back costs a record write, a schedule entry and a new claim.
LATE_RETRIES = 3


@dataclass(frozen=True, slots=True)
class Steps:
    """What each request of one ``post_many`` goes through before the wire (see there)."""

    take: Take | None
    retake: Take | None
    mark: Mark | None
    give_up_at: float | None


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
        self.max_connections = max_connections
        self.loop = asyncio.new_event_loop()
        self._gatherer = Gatherer(self.loop)
        self._thread = threading.Thread(target=self.loop.run_forever, name="smsq-async-http", daemon=True)
        self._thread.start()
        # Sessions must be made on their loop.
        opened = self._on_loop(self._open(auth, max_connections, transport))
        self._post, self._close, self._free = opened.result(timeout=10)

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
    ) -> tuple[Post, Callable[[], Awaitable[None]], asyncio.Semaphore]:
        # One request per connection at a time, taken by the request on the loop *before* it asks for
        # its rate-limit token: a token is only taken for a request that has a connection, so slots
        # never outrun connections (they did: at 100,000/s and 100 ms, requests waited for a
        # connection past their slot, came back LATE and were requeued, 407/s instead of 1,672).
        free = asyncio.Semaphore(connections)
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

            return post_httpx, client.aclose, free
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

        return post_aiohttp, session.close, free

    def post_many(
        self,
        path: str,
        bodies: Sequence[Any],
        *,
        ids: Sequence[str | None] = (),
        take: Take | None = None,
        retake: Take | None = None,
        mark: Mark | None = None,
        give_up_at: float | None = None,
    ) -> Future[list[Answer]]:
        """POST each body to ``path``; one thread hop for the lot, returning at once. Each answer is
        the response, the httpx error that ended the call, or why it was not sent (``LATE``,
        ``NOT_OURS``, ``Deferred``).

        Each request waits on the loop for a free connection (``Deferred`` after the pool timeout),
        then, with ``take``, for its token (many requests per call; ``Deferred`` when it would wait
        past ``give_up_at``, ``time.monotonic()``), then for its slot: a request that cannot leave
        within ``late_after`` of it is not sent then (sent late it would arrive in a clump with the
        ones on time) but takes a new one from ``retake`` (default ``take``), up to ``LATE_RETRIES``
        times, then answers ``LATE``. ``mark(ids)``, with one id per body, is called for each
        request ``MARK_LEAD`` before its slot unless its token came marked: a request not yet
        marked had certainly not started.

        A freed connection takes the next waiting request at once: with the sending thread choosing
        the requests for freed connections, all of a process's connections went out and came back
        in one wave, idle between waves while the thread took tokens and marked (88 % busy)."""
        encoded = [self.encode(body) for body in bodies]
        names: Sequence[str | None] = ids if ids else [None] * len(bodies)
        steps = Steps(take, retake or take, mark, give_up_at)
        return self._on_loop(self._post_all(path, encoded, names, steps))

    async def _post_all(
        self, path: str, bodies: list[bytes], ids: Sequence[str | None], steps: Steps
    ) -> list[Answer]:
        each = zip(bodies, ids, strict=True)
        return list(await asyncio.gather(*(self._request(path, body, mid, steps) for body, mid in each)))

    async def _request(self, path: str, body: bytes, message_id: str | None, steps: Steps) -> Answer:
        if self._free.locked():
            try:
                await asyncio.wait_for(self._free.acquire(), timeout=self.timeouts.pool)
            except TimeoutError:
                return Deferred("no free connection", 0.0)
        else:
            await self._free.acquire()
        try:
            token = Token(0.0) if steps.take is None else await self._token(steps, message_id)
            if not isinstance(token, Token):
                return token
            return await self._paced(path, body, token, message_id, steps)
        finally:
            self._free.release()

    async def _token(self, steps: Steps, message_id: str | None) -> Token | Answer:
        """This request's token, asked for together with every other request asking now."""
        assert steps.take is not None
        while True:
            try:
                got = await self._gatherer.call(steps.take, message_id)
            except Exception:  # the limiter unreachable: not sent, put back
                return Deferred("rate limiter unreachable", 0.0)
            if not isinstance(got, NoToken):
                return got if got is not None else Deferred("no token", 0.0)
            if steps.give_up_at is not None and self.loop.time() + got.wait > steps.give_up_at:
                return Deferred("rate limit", got.wait)
            await asyncio.sleep(got.wait)

    async def _on_slot(self, slot: float, retake: Take | None, message_id: str | None) -> bool:
        """Wait for ``slot``; if the loop held the request up past it, for a new one, a few times.
        False: still late (or no new token now): not to be sent."""
        for retry in range(LATE_RETRIES + 1):
            if (delay := slot - self.loop.time()) > 0:
                await asyncio.sleep(delay)
            if self.loop.time() - slot <= self.late_after:
                return True
            if retake is None or retry == LATE_RETRIES:
                return False
            new = await self._gatherer.call(retake, message_id)
            if not isinstance(new, Token):
                return False
            slot = new.slot
        return False

    async def _paced(
        self, path: str, body: bytes, token: Token, message_id: str | None, steps: Steps
    ) -> Answer:
        """One request on its connection: its record marked ``MARK_LEAD`` before its slot (unless its
        token came marked), then the slot, then the wire.

        The mark comes ahead: the Redis round trip it waits for (gathered with other requests') varies
        by tens of milliseconds on a busy host, and marking at the slot would send every request whose
        slot came during one round trip out together when it returned. So the last thing before the wire
        is the slot and its lateness check. The lead is short, so a lease lost while the request waits
        (recovery gave the message to another worker) is still seen by the mark. A request marked but
        then LATE was not sent; its decision takes the mark back."""
        paced = steps.take is not None
        mark = steps.mark if not token.marked and message_id is not None else None
        if mark is not None:
            if paced and (early := token.slot - MARK_LEAD - self.loop.time()) > 0:
                await asyncio.sleep(early)
            try:
                if not await self._gatherer.call(mark, message_id):
                    return NOT_OURS
            except Exception as exc:  # Redis unreachable: not sent, so nothing is left uncertain
                return httpx.ConnectError(f"could not note the call before sending: {exc}")
        if paced:
            try:
                if not await self._on_slot(token.slot, steps.retake, message_id):
                    return LATE
            except Exception:  # the limiter unreachable: not sent, put back
                return LATE
        return await self._post_one(path, body)

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
