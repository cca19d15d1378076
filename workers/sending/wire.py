"""The event loop clients' side of the wire (``loop_http``, the callbacks' delivery): request bodies
encoded, credentials as headers, and aiohttp's failures translated here, at the boundary, into the
httpx errors the provider layer's rules know (``workers.providers.http.transport_error``)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from typing import Any, Final
from urllib.parse import urlencode

import aiohttp
import httpx

CONTENT_TYPES: Final = {"json": "application/json", "form": "application/x-www-form-urlencoded"}


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
