"""Connecting only where a callback may go (DNS rebinding): the aiohttp connector resolves every host
through ``CheckedResolver``, which refuses any answer with an address ``check_address`` refuses, so
the connection is made to an address that was checked (TLS still verifies the URL's host name). A
URL that was public when it was set cannot be pointed at loopback or a private network later by its
DNS. An IP-literal host never reaches a resolver: ``check_literal`` checks it before the request.

Why aiohttp and not httpx here: 100 concurrent POSTs to a loopback receiver cost 8.0 ms of CPU each
through httpx.AsyncClient and 0.39 ms through aiohttp on this machine (its connection pool is the
cost: encode/httpx#3215, as DESIGN.md notes for the campaign path), and callbacks must reach
1,000/s on the default workers. httpx stays the seam for tests (``CallbackClient(transport=)``).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit

from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import ThreadedResolver

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.urls import check_address


class CheckedResolver(AbstractResolver):
    """The system resolver, answering only addresses the callback rules allow; any refused address
    fails the whole host (UnsafeCallbackUrl, not retried as a network blip)."""

    def __init__(self, settings: CallbackSettings) -> None:
        self.settings = settings
        self._resolver = ThreadedResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        answers = await self._resolver.resolve(host, port, family)
        for answer in answers:
            check_address(str(answer["host"]), self.settings, host=host)
        return answers

    async def close(self) -> None:
        await self._resolver.close()


def check_literal(url: str, settings: CallbackSettings) -> None:
    """A URL whose host is an IP address: checked here, since no resolver sees it."""
    host = urlsplit(url).hostname or ""
    try:
        ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return
    check_address(host, settings, url=url)
