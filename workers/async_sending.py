"""Campaign singles through asyncio: one event loop thread per worker process, with the httpx API over
the httpx-aiohttp transport (httpx's own pools, sync and async, were the bottleneck at 100-200
connections: see README "Campaign throughput"). The worker's main thread stays synchronous: it takes
rate-limit tokens for many messages per Redis round trip and hands each granted request to the loop
at once, so tokens, sends in flight and the recording of answers overlap instead of waiting for each
other (one token round trip per message was, under load, most of a chunk's time).

Only Messente single sends go this way (SMSQ_CAMPAIGNS__ASYNC_SEND=true, use_bulk=false); answers are
read with the same parse and error rules as the sync client (workers/providers/http.py)."""

from __future__ import annotations

import asyncio
import random
import threading
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import httpx
from httpx_aiohttp import AiohttpTransport

from config.settings import MessenteSettings, Timeouts
from producers.models import Omnimessage
from workers.providers import http
from workers.providers.base import Provider, SendResult
from workers.providers.errors import ProviderError
from workers.providers.messente import NAME as MESSENTE
from workers.providers.messente import parse_send, send_body
from workers.sending import Decision, Outcome, Sender, apply_side_effects, decide, outbound_for

TOKENS_PER_TRIP = 50  # rate-limit tokens asked for in one Redis round trip
CONNECT_ATTEMPTS = 3  # as the sync client: a request that never reached the provider is repeated at once
Item = tuple[str, dict[str, str], Omnimessage]


class AsyncHttp:
    """An httpx.AsyncClient living on its own event loop thread; callable from any thread."""

    def __init__(
        self,
        base_url: str,
        timeouts: Timeouts,
        *,
        auth: tuple[str, str] | None = None,
        max_connections: int = http.DEFAULT_MAX_CONNECTIONS,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        self.client = httpx.AsyncClient(
            base_url=base_url.rstrip("/") + "/",
            auth=auth,
            headers={"User-Agent": "smsq"},
            timeout=httpx.Timeout(
                connect=timeouts.connect, read=timeouts.read, write=timeouts.write, pool=timeouts.pool
            ),
            limits=limits,
            transport=transport or AiohttpTransport(limits=limits),
        )
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, name="smsq-async-http", daemon=True)
        self._thread.start()

    @classmethod
    def for_messente(cls, settings: MessenteSettings, *, max_connections: int) -> AsyncHttp:
        auth = (settings.username.get_secret_value(), settings.password.get_secret_value())
        return cls(settings.base_url, settings.timeouts, auth=auth, max_connections=max_connections)

    def post(self, path: str, body: Any) -> Future[httpx.Response]:
        return asyncio.run_coroutine_threadsafe(self._post(path, body), self.loop)

    async def _post(self, path: str, body: Any) -> httpx.Response:
        for attempt in range(1, CONNECT_ATTEMPTS + 1):
            try:
                return await self.client.post(path, json=body)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout):
                if attempt == CONNECT_ATTEMPTS:
                    raise
                await asyncio.sleep(random.uniform(0, 0.05 * 2**attempt))
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.loop.is_running():
            asyncio.run_coroutine_threadsafe(self.client.aclose(), self.loop).result(timeout=10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=10)


def answer_of(provider: str, pending: Future[httpx.Response], timeout: float) -> SendResult | ProviderError:
    """The provider's answer to one send, read like the sync client reads it."""
    try:
        response = pending.result(timeout=timeout)
    except httpx.HTTPError as exc:
        return http.transport_error(provider, exc)
    except TimeoutError:
        return http.transport_error(provider, httpx.ReadTimeout("no answer from the event loop in time"))
    try:
        return parse_send(http.checked(provider, response))
    except ProviderError as exc:
        return exc


def send_singles(
    items: Sequence[Item],
    provider: Provider,
    sender: Sender,
    priority: str,
    client: AsyncHttp,
    pool: ThreadPoolExecutor | None,
) -> list[Decision]:
    """One decision per item, in order. Each message is handed to the loop as soon as its token is
    granted; what gets no token within the inline wait goes back to wait (no attempt spent)."""
    pending: list[Future[httpx.Response] | Decision] = []
    native = bool(getattr(provider, "native_schedule", False))
    waited = 0.0
    while len(pending) < len(items):
        # Tokens for the next few messages in one round trip; each granted one is sent at once.
        wanted = min(TOKENS_PER_TRIP, len(items) - len(pending))
        waits = take_tokens(sender, provider.name, priority, wanted)
        granted = sum(1 for wait in waits if wait == 0)
        for mid, _, message in items[len(pending) : len(pending) + granted]:
            body = send_body(outbound_for(sender, provider.name, mid, message), native_schedule=native)
            pending.append(client.post("omnimessage", body))
        if granted == wanted:
            continue
        wait = min(w for w in waits if w > 0)
        if waited + wait > sender.max_inline_wait:
            # Our own global limit: what has no token goes back to wait; no attempt is spent.
            due = sender.store.now_ms() + int(wait * 1000)
            later = Decision("queued", {"schedule_at_ms": due}, Outcome("queued", "rate limit", wait))
            pending.extend([later] * (len(items) - len(pending)))
            break
        sender.sleep(wait)
        waited += wait
    # The client's own timeouts end every call; this only guards against a stopped loop.
    timeout = float(client.client.timeout.read or 10) + float(client.client.timeout.connect or 3) + 5

    def finish(pair: tuple[Item, Future[httpx.Response] | Decision]) -> Decision:
        (mid, record, message), waiting = pair
        if isinstance(waiting, Decision):
            return waiting
        answer = answer_of(provider.name, waiting, timeout)
        attempt = int(record.get("attempts", 0)) + 1
        decision = decide(mid, record, message, provider.name, attempt, answer, sender)
        apply_side_effects(sender, provider.name, decision)
        return decision

    pairs = list(zip(items, pending, strict=True))
    # Recording health is a Redis round trip per call: threads let those overlap as answers arrive.
    return list(pool.map(finish, pairs)) if pool is not None else [finish(pair) for pair in pairs]


def take_tokens(sender: Sender, provider: str, priority: str, count: int) -> list[float]:
    if sender.limiter is None:
        return [0.0] * count
    return sender.limiter.acquire_many(provider, priority, count)


def usable(provider: Provider) -> bool:
    return provider.name == MESSENTE
