"""The request body limit, as a problem (413): refused before the body is read when Content-Length
says it is too big, else counted as it arrives (chunked bodies too). Starlette's own body limit answers
413 as plain text, overriding the app's answer, so the API keeps this small middleware instead."""

from __future__ import annotations

from collections.abc import Callable

from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from smsq.api.problems import problem_response
from smsq.producers.errors import ApiRefused

TITLE = "Content too large"
# Routes whose path ends so take a file (a campaign's CSV): the upload limit, not the JSON one.
UPLOAD_SUFFIX = "/upload"


def too_large(limit: int, setting: str) -> ApiRefused:
    return ApiRefused(413, TITLE, f"the request body is over {limit} bytes ({setting})")


class BodyLimit:
    def __init__(self, app: ASGIApp, limit_for: Callable[[str], tuple[int, str]]) -> None:
        self.app = app
        self.limit_for = limit_for  # path -> (bytes, the setting that sets it)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit, setting = self.limit_for(scope["path"])
        declared = Headers(scope=scope).get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > limit:
            refused = too_large(limit, setting)
            response = problem_response(None, 413, TITLE, refused.detail)
            await response(scope, receive, send)
            return
        total = 0

        async def limited() -> Message:
            nonlocal total
            message = await receive()
            if message["type"] == "http.request":
                total += len(message.get("body", b""))
                if total > limit:
                    raise too_large(limit, setting)
            return message

        await self.app(scope, limited, send)
