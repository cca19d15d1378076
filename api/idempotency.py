"""The ``Idempotency-Key`` header (as draft-ietf-httpapi-idempotency-key-header describes it): the same
key with the same body answers the first answer again; with another body it is refused (422, naming
the conflict); while the first request is still being answered, 409 with Retry-After.

Each key's entries are its own (``Keys.api_idempotency``). Only a 2xx answer is kept; a refusal
frees the key, so the request can be put right and sent again under it. The messages themselves are
also stored under a producer idempotency key derived from the header, so even an entry lost with a
crashed process never lets a repeat queue a second message."""

from __future__ import annotations

import hashlib
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import redis
from fastapi import Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response

from smsq.config.api_settings import ApiSettings
from smsq.config.limits import LimitSettings
from smsq.producers.core.keys import Keys
from smsq.producers.core.lua import read
from smsq.producers.errors import ApiRefused, InvalidInput
from smsq.producers.keys.store import ApiKey
from smsq.producers.messages.idempotency import checked_idempotency_key

HEADER: Final = "Idempotency-Key"
REPLAYED: Final = "Idempotent-Replayed"
_SCRIPT = read(__package__, "idempotency.lua")

# (status, JSON body, Location or '') of an answer; the handler is given the producer idempotency key
# to store its message(s) under (None without the header).
Answer = tuple[int, Any, str]
Handler = Callable[[str | None], Awaitable[Answer]]


@dataclass(frozen=True)
class Entry:
    token: str
    replay: Response | None = None


class IdempotencyStore:
    def __init__(self, client: redis.Redis, options: ApiSettings, *, prefix: str = "smsq") -> None:
        self.keys = Keys(prefix)
        self.options = options
        self._script = client.register_script(_SCRIPT)

    def begin(self, key_id: str, header_digest: str, request_digest: str, header: str) -> Entry:
        token = secrets.token_hex(16)
        entry_key = self.keys.api_idempotency(key_id, header_digest)
        args: list[Any] = ["begin", token, request_digest, self.options.in_flight_seconds]
        flat = self._script(keys=[entry_key], args=args)
        if not flat:
            return Entry(token)
        found = {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}
        if found.get("request") != request_digest:
            raise InvalidInput([(HEADER, f"{header[:40]!r} was first used with another request body")])
        if found.get("state") != "done":
            raise ApiRefused(
                409, "Conflict", f"a request with {HEADER} {header[:40]!r} is still being answered",
                retry_after=1,
            )  # fmt: skip
        headers = {REPLAYED: "true"} | ({"Location": found["location"]} if found.get("location") else {})
        replay = Response(found.get("body", ""), int(found.get("status", 200)), headers, "application/json")
        return Entry(token, replay)

    def finish(self, key_id: str, header_digest: str, token: str, answer: Answer, body: str) -> None:
        entry_key = self.keys.api_idempotency(key_id, header_digest)
        args: list[Any] = ["finish", token, answer[0], body, answer[2], self.options.idempotency_seconds]
        self._script(keys=[entry_key], args=args)

    def release(self, key_id: str, header_digest: str, token: str) -> None:
        self._script(keys=[self.keys.api_idempotency(key_id, header_digest)], args=["release", token])


async def answered_once(
    request: Request,
    store: IdempotencyStore,
    limits: LimitSettings,
    key: ApiKey,
    payload: Any,
    handle: Handler,
) -> Response:
    """Answer with ``handle``, once per Idempotency-Key (when the request has one)."""
    header = request.headers.get(HEADER)
    if header is None:
        return answer_response(await handle(None))
    try:
        checked_idempotency_key(header, limits)
    except InvalidInput as refused:
        raise InvalidInput([(HEADER, message) for _, message in refused.problems]) from None
    header_digest = hashlib.sha256(header.encode()).hexdigest()
    canonical = json.dumps(payload, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    request_digest = hashlib.sha256(
        f"{request.url.path}\n{canonical}".encode("utf-8", "surrogatepass")
    ).hexdigest()
    entry = await run_in_threadpool(store.begin, key.key_id, header_digest, request_digest, header)
    if entry.replay is not None:
        return entry.replay
    try:
        answer = await handle(f"api.{key.key_id}.{header_digest[:40]}")
    except BaseException:
        await run_in_threadpool(store.release, key.key_id, header_digest, entry.token)
        raise
    response = answer_response(answer)
    body = bytes(response.body).decode()
    await run_in_threadpool(store.finish, key.key_id, header_digest, entry.token, answer, body)
    return response


def answer_response(answer: Answer) -> JSONResponse:
    status, body, location = answer
    return JSONResponse(body, status_code=status, headers={"Location": location} if location else None)
