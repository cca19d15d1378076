"""SMSAPI sms.do: send (now or at `date`), idx idempotency, status lookup, cancel with sch_del.

Errors of sms.do come back inside an HTTP 200 body ({error, message, invalid_numbers?}), except a
failed authorization, which is a 401 with the same body shape.
"""

from __future__ import annotations

import re
import secrets
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from smsq.sandbox.delivery import ChannelPlan, smsapi_status_name
from smsq.sandbox.errors import smsapi_send_error_body
from smsq.sandbox.params import bearer_token, form_params, same_secret, sandbox_state
from smsq.sandbox.sms_parts import parts_count
from smsq.sandbox.state import SandboxState, SentMessage

NUMBER = re.compile(r"^\d{8,16}$")
NUMERIC_SENDER = re.compile(r"^\+?\d{3,16}$")
ALPHANUMERIC_SENDER = re.compile(r"^[A-Za-z0-9 .\-_&]{1,11}$")
URL = re.compile(r"^https?://[^\s/]+")
MAX_PARTS = 10
POINTS_PER_PART = 0.16
IDX_WINDOW_SECONDS = 24 * 3600
MAX_SCHEDULE_AHEAD_SECONDS = 90 * 24 * 3600
SECRET_PARAMS = {"access_token", "password"}


class SendRefused(Exception):
    def __init__(self, code: int, invalid_numbers: list[dict[str, str]] | None = None) -> None:
        super().__init__(code)
        self.code = code
        self.invalid_numbers = invalid_numbers


def normalised_number(submitted: str) -> str:
    number = re.sub(r"[\s\-()]", "", submitted)
    if number.startswith("+"):
        return number[1:]
    if number.startswith("00"):
        return number[2:]
    return number


def blacklisted_numbers(state: SandboxState) -> set[str]:
    today = datetime.fromtimestamp(state.now(), tz=UTC).date().isoformat()
    return {
        entry.phone_number
        for entry in state.smsapi.blacklist.values()
        if entry.expire_at is None or entry.expire_at[:10] >= today
    }


def parse_date(value: str) -> float:
    """`date` is a unix timestamp or ISO-8601; raises SendRefused(54) otherwise."""
    if value.isdigit():
        return float(value)
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as error:
        raise SendRefused(54) from error
    return (parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)).timestamp()


def split_recipients(state: SandboxState, to: str) -> tuple[list[tuple[str, str]], list[dict[str, str]]]:
    blacklist = blacklisted_numbers(state)
    valid: list[tuple[str, str]] = []
    invalid: list[dict[str, str]] = []
    for submitted in (part.strip() for part in to.split(",") if part.strip()):
        number = normalised_number(submitted)
        if not NUMBER.match(number):
            invalid.append(
                {"number": number, "submitted_number": submitted, "message": "Invalid phone number"}
            )
        elif number in blacklist:
            message = "The number is blacklisted for this user"
            invalid.append({"number": number, "submitted_number": submitted, "message": message})
        else:
            valid.append((number, submitted))
    return valid, invalid


def check_send(state: SandboxState, params: dict[str, str]) -> float:
    """Validate everything but the recipients; returns the send time."""
    message = params.get("message", "")
    if not message or parts_count(message) > MAX_PARTS:
        raise SendRefused(11)
    sender = params.get("from")
    if sender and not (NUMERIC_SENDER.match(sender) or ALPHANUMERIC_SENDER.match(sender)):
        raise SendRefused(14)
    idx = params.get("idx")
    if idx is not None and len(idx) > 255:
        raise SendRefused(27)
    if idx and params.get("check_idx") == "1":
        seen_at = state.smsapi.idx_seen.get(idx)
        if seen_at is not None and state.now() - seen_at < IDX_WINDOW_SECONDS:
            raise SendRefused(53)
    notify_url = params.get("notify_url")
    if notify_url is not None and not URL.match(notify_url):
        raise SendRefused(70)
    now = state.now()
    send_at = parse_date(params["date"]) if params.get("date") else now
    if send_at - now > MAX_SCHEDULE_AHEAD_SECONDS:
        raise SendRefused(50)
    return max(now, send_at)


def message_json(state: SandboxState, sent: SentMessage) -> dict[str, Any]:
    attempts = state.attempts(sent)
    return {
        "id": sent.message_id,
        "points": sent.extra["points"],
        "number": sent.to,
        "date_sent": int(sent.send_at),
        "submitted_number": sent.extra["submitted_number"],
        "status": smsapi_status_name(attempts[-1]),
        "error": None,
        "idx": sent.extra["idx"],
        "parts": sent.extra["parts"],
    }


def send(state: SandboxState, params: dict[str, str]) -> dict[str, Any]:
    send_at = check_send(state, params)
    valid, invalid = split_recipients(state, params.get("to", ""))
    if not valid:
        raise SendRefused(13, invalid)
    text = params["message"]
    parts = parts_count(text)
    sender = params.get("from") or state.config.smsapi_default_sender
    idx = params.get("idx")
    request = {key: value for key, value in params.items() if key not in SECRET_PARAMS}
    created: list[SentMessage] = []
    for number, submitted in valid:
        message_id = str(10**18 + secrets.randbelow(9 * 10**18))
        sent = SentMessage(
            provider="smsapi",
            message_id=message_id,
            to=number,
            request=request,
            plans=[ChannelPlan("sms", message_id, sender, state.outcomes.outcome_for(number, "sms"))],
            accepted_at=state.now(),
            send_at=send_at,
            report_url=params.get("notify_url"),
            extra={
                "idx": idx,
                "parts": parts,
                "points": round(POINTS_PER_PART * parts, 2),
                "submitted_number": submitted,
                "text": text,
            },
        )
        created.append(sent)
    if params.get("test") != "1":
        for sent in created:
            state.smsapi.messages[sent.message_id] = sent
        if idx:
            state.smsapi.idx_seen[idx] = state.now()
    body: dict[str, Any] = {"count": len(created), "list": [message_json(state, sent) for sent in created]}
    if invalid:
        body["invalid_numbers"] = invalid
    return body


def ids_param(value: str) -> list[str]:
    return [part.strip() for part in value.split(",") if part.strip()]


def cancel_scheduled(state: SandboxState, ids: list[str]) -> dict[str, Any]:
    now = state.now()
    messages = [state.smsapi.messages.get(message_id) for message_id in ids]
    if not ids or any(sent is None or sent.cancelled_at is not None or sent.is_due(now) for sent in messages):
        raise SendRefused(301)
    for sent in messages:
        assert sent is not None
        sent.cancelled_at = now
    return {"count": len(ids), "list": [{"id": message_id} for message_id in ids]}


def lookup_status(state: SandboxState, ids: list[str]) -> dict[str, Any]:
    messages = [state.smsapi.messages.get(message_id) for message_id in ids]
    if not ids or any(sent is None or sent.cancelled_at is not None for sent in messages):
        raise SendRefused(301)
    return {"count": len(ids), "list": [message_json(state, sent) for sent in messages if sent is not None]}


def as_response(body: dict[str, Any], wants_json: bool, status_code: int = 200) -> Response:
    if wants_json:
        return JSONResponse(body, status_code=status_code)
    # The legacy plain-text protocol: OK:<id>:<points>[:<number>] per message, or ERROR:<code>.
    if "error" in body:
        return PlainTextResponse(f"ERROR:{body['error']}", status_code=status_code)
    lines = [f"OK:{item['id']}:{item.get('points', 0)}:{item.get('number', '')}" for item in body["list"]]
    return PlainTextResponse(";".join(lines), status_code=status_code)


async def sms_do(request: Request) -> Response:
    state = sandbox_state(request)
    params = await form_params(request)
    wants_json = params.get("format") == "json"
    token = bearer_token(request) or params.get("access_token")
    if not same_secret(token, state.config.smsapi_token):
        return as_response(smsapi_send_error_body(101), wants_json, status_code=401)
    try:
        if "sch_del" in params:
            body = cancel_scheduled(state, ids_param(params["sch_del"]))
        elif "status" in params:
            body = lookup_status(state, ids_param(params["status"]))
        else:
            body = send(state, params)
    except SendRefused as refusal:
        body = smsapi_send_error_body(refusal.code, refusal.invalid_numbers)
    return as_response(body, wants_json)


routes = [Route("/smsapi/sms.do", sms_do, methods=["GET", "POST"])]
