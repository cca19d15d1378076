"""Each provider's error bodies, with their code tables as data."""

from __future__ import annotations

from typing import Any

from starlette.responses import JSONResponse

# Messente Omnichannel: code -> (title, HTTP status).
OMNICHANNEL_CODES: dict[str, tuple[str, int]] = {
    "101": ("Not found", 404),
    "102": ("Forbidden", 403),
    "103": ("Unauthorized", 401),
    "104": ("Internal Server Error", 500),
    "105": ("Invalid data", 400),
    "106": ("Missing data", 400),
    "107": ("Method not allowed", 405),
}

# Messente Phonebook: code -> (title, HTTP status). 244 covers any other 4xx.
PHONEBOOK_CODES: dict[str, tuple[str, int]] = {
    "201": ("Invalid data", 400),
    "202": ("Unauthorized", 401),
    "203": ("Missing resource", 404),
    "204": ("Conflict", 409),
    "244": ("Client error", 400),
    "205": ("General error", 500),
}

# An arbitrary HTTP status (from a fault) -> the code each Messente API would use for it.
OMNICHANNEL_CODE_BY_STATUS = {400: "105", 401: "103", 403: "102", 404: "101", 405: "107", 429: "102"}
PHONEBOOK_CODE_BY_STATUS = {400: "201", 401: "202", 404: "203", 409: "204"}

# SMSAPI sms.do error codes the sandbox returns (inside an HTTP 200 body, except auth).
SMSAPI_SEND_ERRORS: dict[int, str] = {
    11: "Message too long or there is no message",
    13: "No correct phone numbers",
    14: "Invalid sender field",
    27: "Parameter idx is too long",
    50: "Messages may be scheduled up to 3 months in the future",
    53: "Not unique idx parameter, message with the same idx has been already sent",
    54: "Wrong date format",
    70: "Invalid URL in notify_url parameter",
    101: "Authorization failed",
    201: "System internal error",
    203: "Too many requests. Please try again later",
    301: "SMS with given ID does not exist",
}


def omnichannel_error(code: str, detail: str, source: str | None = None) -> JSONResponse:
    _, status = OMNICHANNEL_CODES[code]
    return JSONResponse(omnichannel_error_body(code, detail, source), status_code=status)


def omnichannel_error_body(code: str, detail: str, source: str | None = None) -> dict[str, Any]:
    title, _ = OMNICHANNEL_CODES[code]
    return {"errors": [{"title": title, "detail": detail, "code": code, "source": source}]}


def phonebook_error(code: str, detail: str, status: int | None = None) -> JSONResponse:
    title, default_status = PHONEBOOK_CODES[code]
    body = {"errors": [{"code": code, "title": title, "detail": detail}]}
    return JSONResponse(body, status_code=status or default_status)


def smsapi_rest_error(
    status: int, message: str, error: str, errors: list[dict[str, Any]] | None = None
) -> JSONResponse:
    body = {"message": message, "error": error, "developer_description": None, "errors": errors}
    return JSONResponse(body, status_code=status)


def smsapi_send_error_body(code: int, invalid_numbers: list[dict[str, str]] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {"error": code, "message": SMSAPI_SEND_ERRORS[code]}
    if invalid_numbers:
        body["invalid_numbers"] = invalid_numbers
    return body


def dm_validation_error(errors: dict[str, list[str]]) -> JSONResponse:
    # Direct Messenger is a Laravel app: validation failures are 422 with per-field messages.
    return JSONResponse({"message": "The given data was invalid.", "errors": errors}, status_code=422)


def dm_error(status: int, message: str, error: str) -> JSONResponse:
    return JSONResponse({"message": message, "error": error}, status_code=status)


def dm_unauthenticated() -> JSONResponse:
    return JSONResponse({"message": "Unauthenticated."}, status_code=401)


def fault_error_body(provider: str, path: str, status: int) -> dict[str, Any]:
    """The body a provider would plausibly send with an injected error status."""
    if provider == "messente" and path.startswith("/v1/phonebook"):
        code = "205" if status >= 500 else PHONEBOOK_CODE_BY_STATUS.get(status, "244")
        title, _ = PHONEBOOK_CODES[code]
        return {"errors": [{"code": code, "title": title, "detail": f"Injected fault (HTTP {status})"}]}
    if provider == "messente":
        code = "104" if status >= 500 else OMNICHANNEL_CODE_BY_STATUS.get(status, "105")
        return omnichannel_error_body(code, f"Injected fault (HTTP {status})")
    if provider == "smsapi" and path.startswith("/smsapi/sms.do"):
        return smsapi_send_error_body(203 if status == 429 else 201)
    if provider == "smsapi":
        error = "too_many_requests" if status == 429 else "internal_error"
        return {"message": f"Injected fault (HTTP {status})", "error": error, "developer_description": None}
    message = "Too Many Attempts." if status == 429 else "Server Error"
    return {"message": message, "error": f"Injected fault (HTTP {status})"}
