"""Assembles the sandbox: provider routes, the admin API, request recording and fault injection."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from smsq.sandbox import admin, direct_messenger, dm_twofa, messente, phonebook, smsapi, smsapi_blacklist
from smsq.sandbox.config import SandboxConfig
from smsq.sandbox.dlr import report_loop
from smsq.sandbox.errors import dm_error, omnichannel_error, phonebook_error, smsapi_rest_error
from smsq.sandbox.recorder import RecorderMiddleware, provider_for_path
from smsq.sandbox.state import SandboxState


def create_app(config: SandboxConfig | None = None) -> Starlette:
    state = SandboxState(config or SandboxConfig())

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        reporter = asyncio.create_task(report_loop(state))
        try:
            yield
        finally:
            reporter.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reporter

    app = Starlette(
        routes=[
            *messente.routes,
            *phonebook.routes,
            *smsapi.routes,
            *smsapi_blacklist.routes,
            *direct_messenger.routes,
            *dm_twofa.routes,
            *admin.routes,
        ],
        middleware=[Middleware(RecorderMiddleware, state=state)],
        exception_handlers={HTTPException: provider_http_error},
        lifespan=lifespan,
    )
    app.state.sandbox = state
    return app


async def provider_http_error(request: Request, exc: Exception) -> Response:
    """Unknown paths and wrong methods, answered in the shape of the provider that owns the prefix."""
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    path = request.url.path
    provider = provider_for_path(path)
    detail = "Method not allowed" if status == 405 else "Resource not found"
    if provider == "messente" and path.startswith("/v1/phonebook"):
        return phonebook_error("203" if status == 404 else "244", detail, status=status)
    if provider == "messente":
        return omnichannel_error("107" if status == 405 else "101", detail)
    if provider == "smsapi":
        return smsapi_rest_error(status, detail, "not_found" if status == 404 else "method_not_allowed")
    if provider in ("dm", "dm2fa"):
        return dm_error(status, detail, "Not Found" if status == 404 else "Method Not Allowed")
    return JSONResponse({"error": detail}, status_code=status)
