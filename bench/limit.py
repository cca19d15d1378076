"""The limit of a throughput run: a bare asyncio HTTP client sending the same requests as smsq (a
Messente omnimessage per message, or /omnimessages bodies of ``bulk`` entries) to the same stub with
the same number of connections, no queue in between. Three clients, so the transport question of
issue 7 is decided by measurement: aiohttp itself, the httpx API over the httpx-aiohttp transport,
and httpx's own AsyncClient pool. Each run is bounded by a message count and a deadline.

    python -m bench.limit --url http://127.0.0.1:8099 --messages 20000 --connections 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import aiohttp
import httpx
from httpx_aiohttp import AiohttpTransport

CLIENTS = ("aiohttp", "httpx-aiohttp", "httpx")
# (path, body) -> (status, parsed body)
Post = Callable[[str, bytes], Awaitable[tuple[int, Any]]]


@dataclass
class LimitResult:
    client: str
    connections: int
    messages: int = 0  # messages the stub answered 2xx for
    requests: int = 0
    seconds: float = 0.0
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    timed_out: bool = False

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds else 0.0

    def line(self) -> str:
        extra = f", statuses {dict(self.statuses)}" if set(self.statuses) - {200, 201} else ""
        extra += f", errors {dict(self.errors)}" if self.errors else ""
        extra += " (deadline hit)" if self.timed_out else ""
        return (f"{self.client:>13}: {self.messages} messages in {self.seconds:.2f} s = {self.rate:,.0f}/s "
                f"over {self.connections} connections{extra}")  # fmt: skip


def omnimessage(n: int) -> dict[str, Any]:
    """The body smsq sends for one campaign message (bench/throughput.py's template, rendered)."""
    return {"to": f"+3725{n:07d}", "messages": [{"channel": "sms", "sender": "Acme", "text": f"Offer {n}"}]}


def smsapi_single(n: int) -> bytes:
    """SMSAPI's sms.do body as smsq sends it (workers/providers/smsapi/sms.py)."""
    body = {"to": f"3725{n:07d}", "message": f"Offer {n}", "format": "json", "encoding": "utf-8",
            "idx": f"bench-{n}", "check_idx": 1, "from": "Acme"}  # fmt: skip
    return json.dumps(body).encode()


def direct_messenger_single(n: int) -> bytes:
    """Direct Messenger's form as smsq sends it (workers/providers/direct_messenger/sms.py)."""
    return urlencode({"api_token": "bench", "receiver": f"+3725{n:07d}", "message": f"Offer {n}",
                      "sender": "Acme"}).encode()  # fmt: skip


# Each provider's single send: (path under the far end's base URL, body of message n, content type).
SINGLES: dict[str, tuple[str, Callable[[int], bytes], str]] = {
    "messente": ("v1/omnimessage", lambda n: json.dumps(omnimessage(n)).encode(), "application/json"),
    "smsapi": ("smsapi/sms.do", smsapi_single, "application/json"),
    "direct_messenger": ("dm/", direct_messenger_single, "application/x-www-form-urlencoded"),
}


def requests(messages: int, bulk: int | None, provider: str = "messente") -> Iterator[tuple[str, int]]:
    """(path, first message number) per request; a bulk request carries up to ``bulk`` messages."""
    if bulk is None:
        path = SINGLES[provider][0]
        yield from ((path, n) for n in range(messages))
    else:
        yield from (("v1/omnimessages", n) for n in range(0, messages, bulk))


def body_for(
    path: str, first: int, messages: int, bulk: int | None, provider: str = "messente"
) -> tuple[bytes, int]:
    if bulk is None:
        return SINGLES[provider][1](first), 1
    count = min(bulk, messages - first)
    return json.dumps({"messages": [omnimessage(n) for n in range(first, first + count)]}).encode(), count


async def drive(
    post: Post,
    result: LimitResult,
    *,
    messages: int,
    bulk: int | None,
    deadline_s: float,
    provider: str = "messente",
) -> LimitResult:
    work = requests(messages, bulk, provider)
    started = time.perf_counter()
    stop_at = started + deadline_s

    async def loop() -> None:
        for path, first in work:  # one shared iterator: each request is taken once
            if time.perf_counter() > stop_at:
                result.timed_out = True
                return
            body, count = body_for(path, first, messages, bulk, provider)
            try:
                status, _ = await post(path, body)
            except Exception as exc:  # counted, never fatal: the figure says what failed
                result.errors[type(exc).__name__] += 1
                continue
            result.requests += 1
            result.statuses[status] += 1
            if 200 <= status < 300:
                result.messages += count

    await asyncio.gather(*(loop() for _ in range(result.connections)))
    result.seconds = time.perf_counter() - started
    return result


async def run_client(
    client: str,
    base_url: str,
    *,
    messages: int,
    connections: int,
    bulk: int | None,
    deadline_s: float,
    provider: str = "messente",
) -> LimitResult:
    result = LimitResult(client, connections)
    base = base_url.rstrip("/") + "/"
    # sandbox:sandbox, what the sandbox accepts (scenario 4); the stubs ignore it. Sent on every
    # request, as smsq and the textbook send their credentials.
    headers = {"Content-Type": SINGLES[provider][2], "User-Agent": "bench-limit",
               "Authorization": "Basic c2FuZGJveDpzYW5kYm94"}  # fmt: skip
    options = {"messages": messages, "bulk": bulk, "deadline_s": deadline_s, "provider": provider}
    if client == "aiohttp":
        connector = aiohttp.TCPConnector(limit=connections)
        async with aiohttp.ClientSession(connector=connector, headers=headers) as session:

            async def post_aiohttp(path: str, body: bytes) -> tuple[int, Any]:
                async with session.post(base + path, data=body) as response:
                    return response.status, await response.json(content_type=None)

            return await drive(post_aiohttp, result, **options)  # type: ignore[arg-type]
    limits = httpx.Limits(max_connections=connections, max_keepalive_connections=connections)
    transport = AiohttpTransport(limits=limits) if client == "httpx-aiohttp" else None
    async with httpx.AsyncClient(
        base_url=base, headers=headers, limits=limits, transport=transport, timeout=30
    ) as http:

        async def post_httpx(path: str, body: bytes) -> tuple[int, Any]:
            response = await http.post(path, content=body)
            return response.status_code, response.json()

        return await drive(post_httpx, result, **options)  # type: ignore[arg-type]


def measure(
    client: str,
    base_url: str,
    *,
    messages: int,
    connections: int,
    bulk: int | None = None,
    deadline_s: float = 120.0,
    provider: str = "messente",
) -> LimitResult:
    return asyncio.run(
        run_client(
            client,
            base_url,
            messages=messages,
            connections=connections,
            bulk=bulk,
            deadline_s=deadline_s,
            provider=provider,
        )
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--connections", type=int, default=200)
    parser.add_argument("--bulk", type=int, default=None, help="messages per /omnimessages request")
    parser.add_argument("--deadline", type=float, default=120.0)
    parser.add_argument("--client", choices=[*CLIENTS, "all"], default="all")
    args = parser.parse_args()
    for client in CLIENTS if args.client == "all" else (args.client,):
        print(measure(client, args.url, messages=args.messages, connections=args.connections,
                      bulk=args.bulk, deadline_s=args.deadline).line())  # fmt: skip


if __name__ == "__main__":
    main()
