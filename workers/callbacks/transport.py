"""An httpx transport that checks every address it connects to (DNS rebinding): the host is resolved
here, each address must pass ``check_address``, and the connection goes to that checked address
(TLS still verifies the URL's host name). A URL that was public when it was set cannot be pointed at
loopback or a private network later by its DNS.
"""

from __future__ import annotations

import asyncio
import socket
import typing

import httpcore
import httpx

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.urls import check_address


class CheckedBackend(httpcore.AsyncNetworkBackend):
    """httpcore's default network backend, connecting only to addresses the callback rules allow."""

    def __init__(self, settings: CallbackSettings) -> None:
        self.settings = settings
        self._backend = httpcore.AnyIOBackend()

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        loop = asyncio.get_running_loop()
        try:
            infos = await asyncio.wait_for(
                loop.getaddrinfo(host, port, type=socket.SOCK_STREAM), timeout=timeout
            )
        except (OSError, TimeoutError) as error:
            raise httpcore.ConnectError(f"{host} does not resolve ({error})") from error
        addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
        for address in addresses:
            check_address(address, self.settings, host=host)  # UnsafeCallbackUrl: not retried as a blip
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._backend.connect_tcp(
                    address, port, timeout=timeout, local_address=local_address, socket_options=socket_options
                )
            except httpcore.ConnectError as error:
                last = error
        raise last or httpcore.ConnectError(f"{host} resolves to no address")

    async def connect_unix_socket(
        self, *args: typing.Any, **kwargs: typing.Any
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("callbacks go over TCP only")

    async def sleep(self, seconds: float) -> None:
        await self._backend.sleep(seconds)


class CheckedTransport(httpx.AsyncHTTPTransport):
    """httpx's transport over ``CheckedBackend``. httpx takes no network backend, so its connection
    pool is made again here with the same settings and that backend."""

    def __init__(self, settings: CallbackSettings, *, max_connections: int) -> None:
        limits = httpx.Limits(max_connections=max_connections, max_keepalive_connections=max_connections)
        super().__init__(limits=limits)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=httpx.create_ssl_context(),
            max_connections=limits.max_connections,
            max_keepalive_connections=limits.max_keepalive_connections,
            keepalive_expiry=limits.keepalive_expiry,
            network_backend=CheckedBackend(settings),
        )
