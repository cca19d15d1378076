"""The delivery-report receiver: authenticate, read, queue a task, answer at once.

Routes (the URLs smsq puts in dlr_url / notify_url / dlruri, see ``smsq.workers.status.followup``):
    POST      /dlr/messente/{message_id}/{token}           Messente's JSON report
    GET|POST  /dlr/smsapi/{message_id}/{token}             SMSAPI's callback (query or form fields)
    GET       /dlr/direct_messenger/{message_id}/{token}   Direct Messenger's dlruri
    GET       /health

A request whose token was not made from this installation's secret for that provider and message
(or, with a key configured, whose X-Messente-Signature is not the HMAC-SHA256 of its body) gets 401;
an authentic request that cannot be read gets 400 naming the field; nothing is queued for either.
Applying the report (and dropping one for an unknown message) is the task's job, off this path.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from smsq.config.contract import DeliveryReport
from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.config.status_settings import WebhookSettings
from smsq.producers.errors import InvalidInput
from smsq.workers.providers import registry
from smsq.workers.providers.entry import ReportReader, ReportRequest
from smsq.workers.status.followup import CALLBACK_PATH, token_matches

log = logging.getLogger(__name__)

Publish = Callable[[DeliveryReport], None]


async def read_body(request: Request, most: int) -> bytes | None:
    """The request body, or None as soon as it is bigger than ``most`` bytes: a declared
    Content-Length is checked first, then what arrives, so a huge body is never held."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > most:
        return None
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > most:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


def create_webhook_app(
    webhooks: WebhookSettings, publish: Publish, limits: LimitSettings = DEFAULT_LIMITS
) -> Starlette:
    """``publish`` queues one delivery-report task (blocking; it is called in a worker thread).
    Bad requests get 400/401/404/405/413 and never a 5xx: a 5xx makes the provider retry."""
    most = limits.webhook_body_bytes
    secret = webhooks.secret.get_secret_value()

    async def receive(request: Request) -> Response:
        provider = request.path_params["provider"]
        message_id = request.path_params["message_id"]
        if not token_matches(secret, provider, message_id, request.path_params["token"]):
            log.warning("delivery report to %s refused: bad token (from %s)", provider, _client(request))
            return _unauthorized()
        body = await read_body(request, most)
        if body is None:
            why = f"body: larger than {most} bytes (SMSQ_LIMITS__WEBHOOK_BODY_BYTES)"
            return JSONResponse({"error": why}, status_code=413)
        reader = _reader(provider)
        assert reader is not None  # _only_known_methods answered 404 for any other
        report_request = ReportRequest(
            method=request.method,
            body=body,
            query=dict(request.query_params),
            content_type=request.headers.get("content-type", ""),
            headers=request.headers,
            limits=limits,
        )
        if reader.authentic is not None and not reader.authentic(webhooks, report_request):
            log.warning("delivery report from %s refused: not authentic (signature)", provider)
            return _unauthorized()
        try:
            reports = reader.read(message_id, report_request)
        except InvalidInput as error:
            log.warning("unreadable delivery report from %s for %s: %s", provider, message_id, error)
            return JSONResponse({"error": str(error)}, status_code=400)
        try:
            for report in reports:
                await run_in_threadpool(publish, report)
        except Exception:
            # The provider keeps the report and tries again (Messente and SMSAPI retry on non-2xx).
            log.exception("could not queue a delivery report for %s", message_id)
            return JSONResponse({"error": "cannot queue the report now"}, status_code=503)
        return PlainTextResponse("OK")

    async def health(request: Request) -> Response:
        return JSONResponse({"ok": True})

    path = f"/{CALLBACK_PATH}/{{provider:str}}/{{message_id:str}}/{{token:str}}"
    return Starlette(
        routes=[
            Route("/health", health, methods=["GET"]),
            Route(path, _only_known_methods(receive), methods=["GET", "POST"]),
        ]
    )


def _reader(provider: str) -> ReportReader | None:
    entry = registry.find(provider)
    return entry.reports if entry is not None else None


def _only_known_methods(handler: Callable[[Request], Any]) -> Callable[[Request], Any]:
    async def guarded(request: Request) -> Response:
        provider = request.path_params["provider"]
        reader = _reader(provider)
        if reader is None:
            return JSONResponse({"error": "unknown provider"}, status_code=404)
        expected = reader.method
        if expected is not None and request.method != expected:
            return JSONResponse({"error": f"{provider} reports are {expected} requests"}, status_code=405)
        response: Response = await handler(request)
        return response

    return guarded


def _unauthorized() -> Response:
    return JSONResponse({"error": "unauthorized"}, status_code=401)


def _client(request: Request) -> str:
    return request.client.host if request.client else "?"
