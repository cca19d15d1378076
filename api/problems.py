"""Errors as RFC 9457 problem details (``application/problem+json``): every refusal the API gives,
from the error tree (``smsq.producers.errors``) or from FastAPI itself, has the same shape."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, Final

from celery.exceptions import TimeoutError as CeleryTimeout
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from smsq.producers.errors import (
    ApiRefused,
    CampaignNotFound,
    CampaignStateError,
    CannotCancel,
    InvalidInput,
    MessageNotFound,
    PolicyRefused,
    SmsqError,
    StoreUnavailable,
    SyncNotFinished,
    TwoFactorFailed,
)

PROBLEM_JSON: Final = "application/problem+json"
TYPE_PREFIX: Final = "urn:smsq:problem:"
log = logging.getLogger(__name__)


class FieldProblem(BaseModel):
    field: str  # a dotted path into the request: "messages.0.text", "ids", "query.limit"
    message: str


class ProblemDetails(BaseModel):
    """RFC 9457 problem details, with ``errors`` listing every offending field of a 422."""

    type: str
    title: str
    status: int
    detail: str
    instance: str | None = None
    errors: list[FieldProblem] | None = None


def problem_response(
    request: Request | None,
    status: int,
    title: str,
    detail: str,
    *,
    errors: Sequence[tuple[str, str]] | None = None,
    retry_after: float | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    body: dict[str, Any] = {
        "type": TYPE_PREFIX + title.lower().replace(" ", "-"),
        "title": title,
        "status": status,
        "detail": detail,
    }
    if request is not None:
        body["instance"] = request.url.path
    if errors is not None:
        body["errors"] = [{"field": field, "message": message} for field, message in errors]
    headers = dict(headers or {})
    if retry_after is not None:
        headers["Retry-After"] = str(max(1, math.ceil(retry_after)))
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_JSON)


def invalid_input(request: Request | None, error: InvalidInput) -> JSONResponse:
    return problem_response(request, 422, "Invalid input", str(error), errors=error.problems)


PROBLEM_REF: Final = {"$ref": "#/components/schemas/ProblemDetails"}  # smsq.api.openapi adds the component


# Documented answers of every route (OpenAPI ``responses=``): the problem schema under each status.
def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    return {
        status: {"description": HTTPStatus(status).phrase, "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}}}
        for status in statuses
    }


def install(app: FastAPI, *, unavailable_retry_after: int) -> None:
    """Register the handlers that turn every error into a problem."""

    async def refused(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiRefused)
        headers = {"WWW-Authenticate": "Bearer"} if error.status == 401 else None
        return problem_response(
            request, error.status, error.title, error.detail, retry_after=error.retry_after, headers=headers
        )

    async def smsq_error(request: Request, error: Exception) -> JSONResponse:
        if isinstance(error, InvalidInput):
            return invalid_input(request, error)
        if isinstance(error, StoreUnavailable):
            # The reason names the server only, never its password; the client learns only to wait.
            log.warning("answering 503: %s", error)
            return problem_response(
                request, 503, "Unavailable", "the message store is unreachable; try again shortly",
                retry_after=unavailable_retry_after,
            )  # fmt: skip
        if isinstance(error, MessageNotFound | CampaignNotFound):
            return problem_response(request, 404, "Not found", str(error))
        if isinstance(error, CannotCancel | CampaignStateError):
            return problem_response(request, 409, "Conflict", str(error))
        if isinstance(error, SyncNotFinished):
            return problem_response(request, 504, "Not finished", str(error))
        if isinstance(error, PolicyRefused):  # a spend cap or the pumping guard: 429 until it resets
            if error.resets_at is None:
                return problem_response(request, 403, "Refused", str(error))
            wait = max(1.0, error.resets_at.timestamp() - time.time())
            return problem_response(request, 429, "Refused", str(error), retry_after=wait)
        if isinstance(error, TwoFactorFailed):
            return problem_response(request, 502, "Two-factor failed", str(error))
        log.error("unexpected %s answering %s", type(error).__name__, request.url.path)
        return problem_response(request, 500, "Internal error", "the request failed; see the server log")

    async def validation(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        found = InvalidInput.from_error_list(error.errors())
        return invalid_input(request, found)

    async def http_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, HTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "HTTP error")
        return problem_response(request, error.status_code, title, str(error.detail), headers=error.headers)

    async def no_answer(request: Request, error: Exception) -> JSONResponse:
        # A call a worker must answer (two-factor) got no answer in time: no worker on the lane, or
        # one too busy. Not the caller's fault, and worth asking again later.
        return problem_response(
            request, 504, "No answer", "no worker answered in time; try again later", retry_after=5
        )

    async def unexpected(request: Request, error: Exception) -> JSONResponse:
        log.exception("unexpected error answering %s", request.url.path)
        return problem_response(request, 500, "Internal error", "the request failed; see the server log")

    app.add_exception_handler(ApiRefused, refused)
    app.add_exception_handler(SmsqError, smsq_error)
    app.add_exception_handler(RequestValidationError, validation)
    app.add_exception_handler(HTTPException, http_error)
    app.add_exception_handler(CeleryTimeout, no_answer)
    app.add_exception_handler(Exception, unexpected)
