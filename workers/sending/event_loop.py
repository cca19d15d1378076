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
from collections.abc import Awaitable, Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

import aiohttp
import httpx
import yarl

from smsq.config.settings import MessenteSettings, Timeouts
from smsq.producers.core.records import ATTEMPTS
from smsq.producers.messages.models import Omnimessage
from smsq.workers.providers import http
from smsq.workers.providers.base import LoopSingles, SendResult
from smsq.workers.providers.errors import ProviderError
from smsq.workers.sending.single import Decision, Outcome, Sender, decide, outbound_for, record_outcomes

TOKENS_PER_TRIP = 50  # rate-limit tokens asked for in one Redis round trip
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


Answer = Reply | httpx.HTTPError
Post = Callable[[str, bytes], Awaitable[Reply]]


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
    ) -> None:
        self.base_url = base_url.rstrip("/") + "/"
        self.timeouts = timeouts
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="smsq-async-http", daemon=True)
        self._thread.start()
        # Sessions must be made on their loop.
        opened = self._on_loop(self._open(auth, max_connections, transport))
        self._post, self._close = opened.result(timeout=10)

    @classmethod
    def for_messente(cls, settings: MessenteSettings, *, max_connections: int) -> AsyncHttp:
        auth = (settings.username.get_secret_value(), settings.password.get_secret_value())
        return cls(settings.base_url, settings.timeouts, auth=auth, max_connections=max_connections)

    @property
    def answer_timeout(self) -> float:
        """The client's own timeouts end every call; this only guards against a stopped loop."""
        return self.timeouts.connect * CONNECT_ATTEMPTS + self.timeouts.read + self.timeouts.write + 5

    def _on_loop(self, coroutine: Any) -> Future[Any]:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop)

    async def _open(
        self, auth: tuple[str, str] | None, connections: int, transport: httpx.AsyncBaseTransport | None
    ) -> tuple[Post, Callable[[], Awaitable[None]]]:
        headers = {"User-Agent": "smsq", "Content-Type": "application/json"}
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

    def post_many(self, path: str, bodies: Sequence[Any]) -> Future[list[Answer]]:
        """POST each JSON body to ``path`` at once (the connection limit queues the rest); one
        thread hop for the lot. Each answer is the response or the httpx error that ended the call."""
        return self._on_loop(self._post_all(path, [json.dumps(body).encode() for body in bodies]))

    async def _post_all(self, path: str, bodies: list[bytes]) -> list[Answer]:
        return list(await asyncio.gather(*(self._post_one(path, body) for body in bodies)))

    async def _post_one(self, path: str, body: bytes) -> Answer:
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


def answer_of(provider: LoopSingles, answer: Answer) -> SendResult | ProviderError:
    """The provider's answer to one send, read like the sync client reads it."""
    if isinstance(answer, httpx.HTTPError):
        return http.transport_error(provider.name, answer)
    try:
        return provider.read_single(answer.status, answer.content, answer.as_httpx)
    except ProviderError as exc:
        return exc


@dataclass
class InFlight:
    """A chunk's singles on their way: ``finish`` waits for the answers and decides each message."""

    items: Sequence[Item]
    provider: LoopSingles
    sender: Sender
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
        name = self.provider.name
        decisions = [
            decide(mid, record, message, name, int(record.get(ATTEMPTS, 0)) + 1,
                   answer_of(self.provider, answer), self.sender)
            for (mid, record, message), answer in zip(self.items, answers, strict=False)
        ]  # fmt: skip
        # One health count and at most one pause for the whole chunk, not a round trip per call.
        record_outcomes(self.sender, name, decisions)
        return decisions + self.later


def start_singles(
    items: Sequence[Item], provider: LoopSingles, sender: Sender, priority: str, client: AsyncHttp
) -> InFlight:
    """Hand each message to the loop as soon as its token is granted and return without waiting for
    the answers; what gets no token within the inline wait goes back to wait (no attempt spent)."""
    groups: list[tuple[int, Future[list[Answer]]]] = []
    later: list[Decision] = []
    waited = 0.0
    sent = 0
    while sent < len(items):
        wanted = min(TOKENS_PER_TRIP, len(items) - sent)
        waits = take_tokens(sender, provider.name, priority, wanted)
        granted = sum(1 for wait in waits if wait == 0)
        if granted:
            bodies = [
                provider.single_body(outbound_for(sender, provider.name, mid, message))
                for mid, _, message in items[sent : sent + granted]
            ]
            groups.append((granted, client.post_many(provider.single_path, bodies)))
            sent += granted
        if granted == wanted:
            continue
        wait = min(w for w in waits if w > 0)
        if waited + wait > sender.max_inline_wait:
            # Our own global limit: what has no token goes back to wait; no attempt is spent.
            due = sender.store.now_ms() + int(wait * 1000)
            later = [Decision("queued", {"schedule_at_ms": due}, Outcome("queued", "rate limit", wait))] * (
                len(items) - sent
            )
            break
        sender.sleep(wait)
        waited += wait
    return InFlight(items, provider, sender, client, groups, later)


def take_tokens(sender: Sender, provider: str, priority: str, count: int) -> list[float]:
    if sender.limiter is None:
        return [0.0] * count
    return sender.limiter.acquire_many(provider, priority, count)
