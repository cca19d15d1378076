"""Reading provider requests: credentials, JSON bodies and form/query parameters."""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from typing import Any
from urllib.parse import parse_qsl

from starlette.datastructures import UploadFile
from starlette.requests import Request

from smsq.sandbox.state import SandboxState

NOT_JSON = object()  # marks a body that is present but does not parse


def sandbox_state(request: Request) -> SandboxState:
    state: SandboxState = request.app.state.sandbox
    return state


def same_secret(given: str | None, expected: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())


def basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, encoded = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        username, sep, password = base64.b64decode(encoded, validate=True).decode().partition(":")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return (username, password) if sep else None


def bearer_token(request: Request) -> str | None:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


async def json_body(request: Request) -> Any:
    """The parsed JSON body, None when there is none, NOT_JSON when it does not parse."""
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except (ValueError, UnicodeDecodeError):
        return NOT_JSON


async def form_params(request: Request) -> dict[str, str]:
    """Query string and body fields merged (body wins), as form-style providers accept both."""
    params = dict(request.query_params)
    content_type = request.headers.get("content-type", "")
    raw = await request.body()
    if "application/json" in content_type:
        try:
            parsed = json.loads(raw) if raw.strip() else {}
        except (ValueError, UnicodeDecodeError):
            parsed = {}
        if isinstance(parsed, dict):
            params.update({key: _as_text(value) for key, value in parsed.items() if value is not None})
    elif "multipart/form-data" in content_type:
        form = await request.form()
        for key, value in form.multi_items():
            if not isinstance(value, UploadFile):
                params[key] = value
    elif raw:
        params.update(parse_qsl(raw.decode("utf-8", errors="replace"), keep_blank_values=True))
    return params


async def uploaded_text(request: Request, field: str = "file") -> str:
    """A CSV sent either as a multipart file field or as the raw request body."""
    content_type = request.headers.get("content-type", "")
    if "multipart/form-data" in content_type:
        form = await request.form()
        upload = form.get(field)
        if isinstance(upload, UploadFile):
            return (await upload.read()).decode("utf-8-sig", errors="replace")
        return str(upload or "")
    return (await request.body()).decode("utf-8-sig", errors="replace")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, list):
        return ",".join(str(item) for item in value)
    return str(value)
