"""Bearer keys: ``Authorization: Bearer smsq_live_...``. The key is read from Redis on every request
(``KeyStore.authenticate``), so a revoked key stops at once on every API process; the secret is
never logged (only the key's id and visible prefix are)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from smsq.api.services import services
from smsq.producers.errors import ApiRefused
from smsq.producers.keys.store import ApiKey

# auto_error=False: a missing or non-bearer header is answered as our own 401 problem.
bearer = HTTPBearer(auto_error=False, description="an API key from `smsq keys create`")
Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def authorized(request: Request, credentials: HTTPAuthorizationCredentials | None, scope: str) -> ApiKey:
    """The request's key if it has ``scope`` (blocking: it reads Redis); 401 or 403 otherwise. A
    route that goes to the threadpool anyway calls this there (``smsq.api.sending``): one hop, not two."""
    if credentials is None:
        raise ApiRefused(401, "Unauthorized", "send the API key as Authorization: Bearer <key>")
    key = services(request).keys.authenticate(credentials.credentials)
    if key is None:
        raise ApiRefused(401, "Unauthorized", "the API key is unknown or revoked")
    request.state.key_id = key.key_id  # for the access log: the id, never the secret
    if not key.allows(scope):
        raise ApiRefused(403, "Forbidden", f"the API key {key.prefix}... has no {scope!r} scope")
    return key


def scoped(scope: str) -> Callable[..., object]:
    """A dependency: the request's key, if it has ``scope``; 403 naming the scope otherwise. One
    dependency over the bearer scheme (which documents the security in the OpenAPI document), not a
    chain of them: FastAPI solving each level cost a send a few per cent of its CPU."""

    async def check(request: Request, credentials: Credentials) -> ApiKey:
        return await run_in_threadpool(authorized, request, credentials, scope)

    return check
