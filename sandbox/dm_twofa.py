"""Direct Messenger 2FA API: send a code, verify it (authenticated, not found, mismatch, expired).

The document shows both calls as a POST to the API's base URL; the sandbox serves that (a request
with `pin` or `pin_id` is a verification) and also /send and /verify for clients that keep them apart.
"""

from __future__ import annotations

import secrets
import string

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsq.sandbox.direct_messenger import RECEIVER, api_token_valid
from smsq.sandbox.errors import dm_unauthenticated, dm_validation_error
from smsq.sandbox.params import form_params, sandbox_state
from smsq.sandbox.state import SandboxState, TwoFactorCode

PIN_ALPHABET = string.ascii_uppercase + string.digits
PIN_ID_LENGTH = 20
DEFAULT_PIN_LENGTH = 6
# Verification failures, as the document words them: (field, message).
ALREADY_AUTHENTICATED = ("auth_status", "The PIN has already been authenticated")
PIN_NOT_FOUND = ("pin", "PIN not found")
PIN_MISMATCH = ("pin_id", "PIN and PIN ID not matching")
PIN_EXPIRED = ("expire_time", "The PIN given has expired")


def random_code(length: int) -> str:
    return "".join(secrets.choice(PIN_ALPHABET) for _ in range(length))


def send_code(state: SandboxState, params: dict[str, str]) -> Response:
    receiver = params.get("receiver", "")
    if not receiver:
        return dm_validation_error({"receiver": ["The receiver field is required."]})
    if not RECEIVER.match(receiver):
        return dm_validation_error({"receiver": ["Invalid number"]})
    raw_length = params.get("pin_length") or str(DEFAULT_PIN_LENGTH)
    if not raw_length.isdigit() or not 4 <= int(raw_length) <= 20:
        return dm_validation_error({"pin_length": ["The pin length must be between 4 and 20."]})
    code = TwoFactorCode(
        pin_id=random_code(PIN_ID_LENGTH),
        pin=random_code(int(raw_length)),
        receiver=receiver,
        created_at=state.now(),
    )
    state.dm.twofa_codes[code.pin_id] = code
    return JSONResponse(
        {"message": "Success", "response": {"pin": code.pin, "pin_id": code.pin_id, "sms": "sent"}}
    )


def verification_failure(state: SandboxState, pin: str, pin_id: str) -> tuple[str, str] | None:
    if not any(code.pin == pin for code in state.dm.twofa_codes.values()):
        return PIN_NOT_FOUND
    code = state.dm.twofa_codes.get(pin_id)
    if code is None or code.pin != pin:
        return PIN_MISMATCH
    if code.authenticated_at is not None:
        return ALREADY_AUTHENTICATED
    if state.now() - code.created_at >= state.config.twofa_pin_ttl_seconds:
        return PIN_EXPIRED
    return None


def verify_code(state: SandboxState, params: dict[str, str]) -> Response:
    pin, pin_id = params.get("pin", ""), params.get("pin_id", "")
    errors: dict[str, list[str]] = {}
    if not pin:
        errors["pin"] = ["The pin field is required."]
    elif not 4 <= len(pin) <= 20:
        errors["pin"] = ["The pin must be between 4 and 20 characters."]
    if not pin_id:
        errors["pin_id"] = ["The pin id field is required."]
    elif len(pin_id) != PIN_ID_LENGTH:
        errors["pin_id"] = [f"The pin id must be {PIN_ID_LENGTH} characters."]
    if errors:
        return dm_validation_error(errors)
    failure = verification_failure(state, pin, pin_id)
    if failure is not None:
        field, message = failure
        return dm_validation_error({field: [message]})
    state.dm.twofa_codes[pin_id].authenticated_at = state.now()
    body = {"auth_status": "User has been authenticated", "pin": pin, "pin_id": pin_id}
    return JSONResponse({"message": "Success", "response": body})


async def twofa_endpoint(request: Request) -> Response:
    state = sandbox_state(request)
    params = await form_params(request)
    if not api_token_valid(state, params, request):
        return dm_unauthenticated()
    action = request.path_params.get("action")
    if action not in (None, "send", "verify"):
        return JSONResponse({"message": "Not Found"}, status_code=404)
    if action == "verify" or (action is None and ("pin" in params or "pin_id" in params)):
        return verify_code(state, params)
    return send_code(state, params)


routes = [
    Route("/dm2fa", twofa_endpoint, methods=["POST"]),
    Route("/dm2fa/", twofa_endpoint, methods=["POST"]),
    Route("/dm2fa/{action:str}", twofa_endpoint, methods=["POST"]),
]
