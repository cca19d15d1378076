"""The ASGI app: ``create_app(services)``; `smsq api` serves it (``smsq.api.server``)."""

from __future__ import annotations

from fastapi import FastAPI

import smsq
from smsq.api import blacklist, campaigns, health, messages, openapi, problems, sending, two_factor
from smsq.api.limits import UPLOAD_SUFFIX, BodyLimit
from smsq.api.services import Services
from smsq.telemetry import tracing
from smsq.telemetry.exporter import metrics_endpoint

DESCRIPTION = """Send and follow SMS, Viber, WhatsApp and Telegram messages through smsq.

Authenticate with `Authorization: Bearer <key>` (`smsq keys create`). Every error is an RFC 9457
problem (`application/problem+json`); a 422 lists every offending field with its path."""


def create_app(found: Services) -> FastAPI:
    tracing.install(found.settings.tracing, "api")  # once per process: the first set-up stays
    app = FastAPI(
        title="smsq",
        version=smsq.__version__,
        description=DESCRIPTION,
    )
    app.state.services = found
    problems.install(app, unavailable_retry_after=found.settings.api.unavailable_retry_after)
    app.include_router(health.router)
    app.include_router(sending.router)
    app.include_router(messages.router)
    app.include_router(campaigns.router)
    app.include_router(blacklist.router)
    app.include_router(two_factor.router)
    # Prometheus metrics of the whole system, read from Redis at each scrape (smsq.telemetry).
    app.add_route("/metrics", metrics_endpoint(found.settings), include_in_schema=False)
    openapi.install(app)
    options = found.settings.api
    json_limit = (options.body_bytes, "SMSQ_API__BODY_BYTES")
    upload_limit = (options.upload_bytes, "SMSQ_API__UPLOAD_BYTES")
    app.add_middleware(
        BodyLimit,
        limit_for=lambda path: upload_limit if path.endswith(UPLOAD_SUFFIX) else json_limit,
    )
    # A server span per request (tracing on): the producer call and the publish are its children.
    tracing.instrument_api(app)
    return app
