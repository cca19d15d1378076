"""ASGI middleware in front of every provider route: records each request and applies faults."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import parse_qs

from starlette.datastructures import UploadFile
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsq.sandbox.errors import fault_error_body
from smsq.sandbox.faults import FaultRule
from smsq.sandbox.state import RequestRecord, SandboxState

# Longest prefix first: "/dm2fa" must not be read as "/dm".
PROVIDER_PREFIXES = (("/dm2fa", "dm2fa"), ("/dm", "dm"), ("/smsapi", "smsapi"), ("/v1", "messente"))
HIDDEN_HEADERS = {"authorization", "proxy-authorization", "cookie"}
SECRET_FIELDS = {"api_token", "access_token"}
MALFORMED_BODY = b'{"messages": [{"message_id": "0b1c'


def provider_for_path(path: str) -> str | None:
    for prefix, provider in PROVIDER_PREFIXES:
        if path == prefix or path.startswith(prefix + "/"):
            return provider
    return None


class RecorderMiddleware:
    def __init__(self, app: ASGIApp, state: SandboxState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        provider = provider_for_path(scope["path"]) if scope["type"] == "http" else None
        if provider is None:
            await self.app(scope, receive, send)
            return
        body = await _read_body(receive)
        replay = _replaying(body, receive)
        record = RequestRecord(
            provider=provider,
            method=scope["method"],
            path=scope["path"],
            query=_masked(_query_dict(scope)),
            headers={
                key.decode("latin-1"): value.decode("latin-1")
                for key, value in scope["headers"]
                if key.decode("latin-1").lower() not in HIDDEN_HEADERS
            },
            body=await _parsed_body(scope, body),
            received_at=self.state.now(),
        )
        self.state.requests.append(record)

        async def send_recording_status(message: Message) -> None:
            if message["type"] == "http.response.start":
                record.status = message["status"]
            await send(message)

        fault = self.state.faults.take(provider, scope["method"], scope["path"])
        if fault is None:
            await self.app(scope, replay, send_recording_status)
            return
        if fault.kind == "latency":
            await asyncio.sleep(fault.latency_ms / 1000)
            await self.app(scope, replay, send_recording_status)
            return
        response = await self._fault_response(fault, provider, scope["path"])
        await response(scope, replay, send_recording_status)

    async def _fault_response(self, fault: FaultRule, provider: str, path: str) -> Response:
        if fault.latency_ms:
            await asyncio.sleep(fault.latency_ms / 1000)
        if fault.kind == "timeout":
            # Longer than any sane client read timeout; the client should give up first.
            await asyncio.sleep(fault.timeout_seconds or self.state.config.timeout_fault_seconds)
            return JSONResponse(fault_error_body(provider, path, 504), status_code=504)
        if fault.kind == "malformed":
            return Response(MALFORMED_BODY, status_code=fault.status or 200, media_type="application/json")
        if fault.kind == "rate_limit":
            headers = {} if fault.retry_after is None else {"Retry-After": _header_number(fault.retry_after)}
            return JSONResponse(fault_error_body(provider, path, 429), status_code=429, headers=headers)
        status = fault.status or 500
        return JSONResponse(fault_error_body(provider, path, status), status_code=status)


async def _read_body(receive: Receive) -> bytes:
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body", False):
            break
    return b"".join(chunks)


def _replaying(body: bytes, receive: Receive) -> Receive:
    delivered = False

    async def replay() -> Message:
        nonlocal delivered
        if not delivered:
            delivered = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


def _query_dict(scope: Scope) -> dict[str, str | list[str]]:
    parsed = parse_qs(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True)
    return {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}


def _masked(fields: dict[str, Any]) -> dict[str, Any]:
    return {key: "***" if key in SECRET_FIELDS else value for key, value in fields.items()}


async def _parsed_body(scope: Scope, body: bytes) -> Any:
    """The body as JSON, form fields, or text, so tests can read back what a client sent."""
    if not body:
        return None
    content_type = dict(scope["headers"]).get(b"content-type", b"").decode("latin-1")
    if "multipart/form-data" in content_type:
        form = await Request(scope, _replaying(body, _no_more_body)).form()
        fields: dict[str, Any] = {}
        for key, value in form.multi_items():
            if isinstance(value, UploadFile):
                content = await value.read()
                fields[key] = {"filename": value.filename, "content": content.decode("utf-8", "replace")}
            else:
                fields[key] = value
        return _masked(fields)
    text = body.decode("utf-8", errors="replace")
    if "application/x-www-form-urlencoded" in content_type:
        return _masked({key: values[0] for key, values in parse_qs(text, keep_blank_values=True).items()})
    try:
        parsed = json.loads(text)
    except ValueError:
        return text
    return _masked(parsed) if isinstance(parsed, dict) else parsed


async def _no_more_body() -> Message:
    return {"type": "http.disconnect"}


def _header_number(value: float) -> str:
    return str(int(value)) if value == int(value) else str(value)
