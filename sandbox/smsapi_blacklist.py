"""SMSAPI Blacklist API: paged list with search, CSV export (sync or x-async), add, delete, import."""

from __future__ import annotations

import csv
import io
import re
import secrets
from datetime import UTC, date, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsq.sandbox.errors import smsapi_rest_error
from smsq.sandbox.params import (
    NOT_JSON,
    bearer_token,
    form_params,
    json_body,
    same_secret,
    sandbox_state,
    uploaded_text,
)
from smsq.sandbox.state import SandboxState, SmsapiBlacklistEntry

PHONE_NUMBER = re.compile(r"^\d{8,16}$")
CSV_COLUMNS = ("phone_number", "expire_at", "created_at")


class InvalidField(Exception):
    def __init__(self, path: str, value: Any, message: str) -> None:
        super().__init__(message)
        self.path, self.value, self.message = path, value, message

    def response(self) -> Response:
        detail = {
            "message": self.message,
            "error": f"invalid_{self.path}",
            "path": self.path,
            "value": self.value,
        }
        return smsapi_rest_error(400, self.message, "invalid_request", [detail])


def authorized(request: Request) -> bool:
    return same_secret(bearer_token(request), sandbox_state(request).config.smsapi_token)


def unauthorized() -> Response:
    return smsapi_rest_error(401, "Authorization failed", "invalid_token")


def checked_phone(value: Any) -> str:
    if not isinstance(value, str) or not PHONE_NUMBER.match(value):
        raise InvalidField("phone_number", value, "Phone number must be 8 to 16 digits, without '+'")
    return value


def checked_expire_at(value: Any) -> str | None:
    if value in (None, ""):
        return None
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        if len(value) == 10:
            return date.fromisoformat(value).isoformat()
        return datetime.fromisoformat(value).isoformat()
    except ValueError as error:
        raise InvalidField("expire_at", value, "expire_at must be an ISO-8601 date or null") from error


def add_entry(state: SandboxState, phone_number: str, expire_at: str | None) -> SmsapiBlacklistEntry | None:
    """The new entry, or None when the number is already listed."""
    if any(entry.phone_number == phone_number for entry in state.smsapi.blacklist.values()):
        return None
    created_at = datetime.fromtimestamp(state.now(), tz=UTC).replace(microsecond=0).isoformat()
    entry = SmsapiBlacklistEntry(secrets.token_hex(12).upper(), phone_number, created_at, expire_at)
    state.smsapi.blacklist[entry.entry_id] = entry
    return entry


def page_bounds(request: Request, default_limit: int) -> tuple[int, int]:
    bounds = {}
    for name, default, minimum in (("offset", 0, 0), ("limit", default_limit, 1)):
        raw = request.query_params.get(name)
        try:
            bounds[name] = default if raw in (None, "") else int(raw)
        except ValueError as error:
            raise InvalidField(name, raw, f"{name} must be an integer") from error
        if bounds[name] < minimum:
            raise InvalidField(name, raw, f"{name} must be at least {minimum}")
    return bounds["offset"], bounds["limit"]


def entries_to_csv(entries: list[SmsapiBlacklistEntry]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for entry in entries:
        writer.writerow((entry.phone_number, entry.expire_at or "", entry.created_at))
    return buffer.getvalue()


async def list_phone_numbers(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    state = sandbox_state(request)
    try:
        offset, limit = page_bounds(request, state.config.smsapi_blacklist_page_size)
    except InvalidField as error:
        return error.response()
    query = request.query_params.get("q", "")
    matching = [entry for entry in state.smsapi.blacklist.values() if query in entry.phone_number]
    page = matching[offset : offset + limit]
    if "text/csv" in request.headers.get("accept", ""):
        if request.headers.get("x-async", "").lower() == "true":
            file_id = secrets.token_hex(12)
            state.smsapi.exports[file_id] = entries_to_csv(page)
            return JSONResponse({"file_id": file_id}, status_code=202)
        return Response(entries_to_csv(page), media_type="text/csv")
    if not matching:
        return Response(status_code=204)
    return JSONResponse({"size": len(matching), "collection": [entry.as_json() for entry in page]})


async def add_phone_number(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    body = await json_body(request) if "json" in request.headers.get("content-type", "") else None
    if body is NOT_JSON or (body is not None and not isinstance(body, dict)):
        return smsapi_rest_error(400, "Request body must be a JSON object", "invalid_request")
    fields: dict[str, Any] = body if isinstance(body, dict) else dict(await form_params(request))
    try:
        phone_number = checked_phone(fields.get("phone_number"))
        expire_at = checked_expire_at(fields.get("expire_at"))
    except InvalidField as error:
        return error.response()
    entry = add_entry(sandbox_state(request), phone_number, expire_at)
    if entry is None:
        return smsapi_rest_error(409, f"Phone number {phone_number} is already blacklisted", "already_exists")
    return JSONResponse(entry.as_json(), status_code=201)


async def delete_phone_number(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    blacklist = sandbox_state(request).smsapi.blacklist
    if blacklist.pop(request.path_params["entry_id"], None) is None:
        return smsapi_rest_error(404, "Blacklist entry not found", "not_found")
    return Response(status_code=204)


async def delete_all_phone_numbers(request: Request) -> Response:
    if not authorized(request):
        return unauthorized()
    sandbox_state(request).smsapi.blacklist.clear()
    return Response(status_code=204)


async def import_phone_numbers(request: Request) -> Response:
    """Imported at once here; the real API does it in the background, hence 202."""
    if not authorized(request):
        return unauthorized()
    state = sandbox_state(request)
    imported = skipped = 0
    for row in csv.reader(io.StringIO(await uploaded_text(request))):
        if not row or not row[0].strip() or row[0].strip().lower() == "phone_number":
            continue
        try:
            phone_number = checked_phone(row[0].strip().lstrip("+"))
            expire_at = checked_expire_at(row[1].strip() if len(row) > 1 else None)
        except InvalidField:
            skipped += 1
            continue
        if add_entry(state, phone_number, expire_at) is None:
            skipped += 1
        else:
            imported += 1
    return JSONResponse({"imported": imported, "skipped": skipped}, status_code=202)


BASE = "/smsapi/blacklist/phone_numbers"
routes = [
    Route(BASE, list_phone_numbers, methods=["GET"]),
    Route(BASE, add_phone_number, methods=["POST"]),
    Route(BASE, delete_all_phone_numbers, methods=["DELETE"]),
    Route(f"{BASE}/imports", import_phone_numbers, methods=["POST"]),
    Route(f"{BASE}/{{entry_id}}", delete_phone_number, methods=["DELETE"]),
]
