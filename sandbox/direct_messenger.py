"""Direct Messenger SMS API v2: send, and its blacklist (which, as documented, does not stop sends)."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsq.sandbox.delivery import ChannelPlan
from smsq.sandbox.errors import dm_error, dm_unauthenticated, dm_validation_error
from smsq.sandbox.params import bearer_token, form_params, same_secret, sandbox_state
from smsq.sandbox.sms_parts import is_gsm7, text_length
from smsq.sandbox.state import DmBlacklistEntry, SandboxState, SentMessage

RECEIVER = re.compile(r"^\d{7,15}$")
NUMERIC_SENDER = re.compile(r"^\+\d+$")
URL = re.compile(r"^https?://[^\s/]+")
DELIVERY_TIME_FORMAT = "%Y-%m-%d %H:%M:%S"
# (single part, per part when split) and at most 3 parts, from the API document.
GSM_LIMITS, UNICODE_LIMITS, MAX_PARTS = (160, 157), (70, 67), 3
QUEUED = "Your message was succesfully added to the queue"  # sic, as the API spells it


def api_token_valid(state: SandboxState, params: dict[str, str], request: Request) -> bool:
    token = params.get("api_token") or bearer_token(request)
    return same_secret(token, state.config.dm_api_token)


def too_long(text: str) -> bool:
    single, per_part = GSM_LIMITS if is_gsm7(text) else UNICODE_LIMITS
    length = text_length(text)
    return length > single and length > per_part * MAX_PARTS


def send_errors(params: dict[str, str]) -> dict[str, list[str]]:
    """Laravel-style validation messages per field, all at once as the real API reports them."""
    errors: dict[str, list[str]] = {}
    for name in ("smstext", "receiver", "sender"):
        if not params.get(name):
            errors[name] = [f"The {name} field is required."]
    text = params.get("smstext", "")
    if text and too_long(text):
        errors["smstext"] = [f"The smstext may not be longer than {MAX_PARTS} messages."]
    sender = params.get("sender", "")
    if sender:
        limit = 15 if NUMERIC_SENDER.match(sender) else 11
        if len(sender) > limit:
            errors["sender"] = [f"The sender may not be greater than {limit} characters."]
    if params.get("conversion") not in (None, "", "0", "1", "2"):
        errors["conversion"] = ["The selected conversion is invalid."]
    if params.get("deliverytime"):
        try:
            datetime.strptime(params["deliverytime"], DELIVERY_TIME_FORMAT)
        except ValueError:
            errors["deliverytime"] = ["The deliverytime does not match the format Y-m-d H:i:s."]
    if params.get("dlruri") and not URL.match(params["dlruri"]):
        errors["dlruri"] = ["The dlruri format is invalid."]
    if params.get("dlrid") and not params.get("dlruri"):
        errors["dlruri"] = ["The dlruri field is required when dlrid is present."]
    return errors


def delivery_time(state: SandboxState, params: dict[str, str]) -> float:
    # The document names no zone for deliverytime; the sandbox reads it as UTC.
    if not params.get("deliverytime"):
        return state.now()
    scheduled = datetime.strptime(params["deliverytime"], DELIVERY_TIME_FORMAT).replace(tzinfo=UTC)
    return max(state.now(), scheduled.timestamp())


async def send_sms(request: Request) -> Response:
    state = sandbox_state(request)
    params = await form_params(request)
    if not api_token_valid(state, params, request):
        return dm_unauthenticated()
    if errors := send_errors(params):
        return dm_validation_error(errors)
    receiver = params["receiver"]
    if not RECEIVER.match(receiver):
        return dm_error(400, "Problem with validating numbers", "Invalid number")
    sms_id = str(uuid.uuid4())
    dlr_id = (params.get("dlrid") or sms_id) if params.get("dlruri") else None
    sent = SentMessage(
        provider="dm",
        message_id=sms_id,
        to=receiver,
        request={key: value for key, value in params.items() if key != "api_token"},
        plans=[ChannelPlan("sms", sms_id, params["sender"], state.outcomes.outcome_for(receiver, "sms"))],
        accepted_at=state.now(),
        send_at=delivery_time(state, params),
        report_url=params.get("dlruri"),
        extra={"dlr_id": dlr_id, "text": params["smstext"]},
    )
    state.dm.messages[sms_id] = sent
    body = {"status": "Success", "description": QUEUED}
    if dlr_id is not None:
        body["dlr_id"] = dlr_id
    return JSONResponse(body)


async def list_blacklist(request: Request) -> Response:
    state = sandbox_state(request)
    if not same_secret(bearer_token(request), state.config.dm_api_token):
        return dm_unauthenticated()
    data = [entry.as_json() for entry in state.dm.blacklist.values()]
    return JSONResponse({"response": "Success", "message": "Blacklist", "data": data})


async def add_to_blacklist(request: Request) -> Response:
    state = sandbox_state(request)
    params = await form_params(request)
    if not api_token_valid(state, params, request):
        return dm_unauthenticated()
    receiver = params.get("receiver", "")
    if not receiver:
        return dm_validation_error({"receiver": ["The receiver field is required."]})
    if not RECEIVER.match(receiver):
        return dm_validation_error({"receiver": ["Invalid number"]})
    if any(entry.receiver == receiver for entry in state.dm.blacklist.values()):
        return dm_validation_error({"receiver": ["The receiver has already been taken."]})
    entry_id = state.dm.next_blacklist_id
    state.dm.next_blacklist_id += 1
    created_at = datetime.fromtimestamp(state.now(), tz=UTC).strftime(DELIVERY_TIME_FORMAT)
    state.dm.blacklist[entry_id] = DmBlacklistEntry(entry_id, receiver, created_at, "api")
    return JSONResponse({"response": "Success", "message": f"Number ({receiver}) added to your blacklist"})


async def remove_from_blacklist(request: Request) -> Response:
    state = sandbox_state(request)
    params = await form_params(request)
    if not api_token_valid(state, params, request):
        return dm_unauthenticated()
    raw_id = request.path_params["entry_id"]
    entry_id = int(raw_id) if raw_id.isdigit() else None
    if entry_id is None or state.dm.blacklist.pop(entry_id, None) is None:
        return dm_error(404, f"Number with id {raw_id} not found in blacklist", "Not found")
    return JSONResponse(
        {"response": "Success", "message": f"Number with id {entry_id} removed from blacklist"}
    )


routes = [
    Route("/dm", send_sms, methods=["GET", "POST"]),
    Route("/dm/", send_sms, methods=["GET", "POST"]),
    Route("/dm/api", send_sms, methods=["GET", "POST"]),
    Route("/dm/api/blacklist", list_blacklist, methods=["GET"]),
    Route("/dm/api/blacklist/create", add_to_blacklist, methods=["POST"]),
    Route("/dm/api/blacklist/delete/{entry_id}", remove_from_blacklist, methods=["POST"]),
]
