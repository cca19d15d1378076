"""Two-factor PINs through Direct Messenger's 2FA API, for callers that wait on a task's answer.

Direct Messenger generates the PIN, texts it, and answers with it and a ``pin_id`` that must stay
private. smsq keeps neither the PIN nor the pin_id in a task result: the pin_id is stored in Redis
under a random session id for as long as the PIN lives (5 minutes), the PIN is dropped, and the
caller gets only the session id. Verifying takes the session id and the PIN the user typed; a PIN
that authenticated ends its session, so it cannot be used twice.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from typing import Any, Final

import redis

from smsq.producers.core.keys import Keys
from smsq.workers.providers.direct_messenger.two_factor import DirectMessenger2FAClient, VerifyOutcome
from smsq.workers.providers.errors import ProviderError

PIN_LIFETIME_SECONDS: Final = 300  # Direct Messenger: a PIN expires 5 minutes after it is sent


def send_code(
    client: DirectMessenger2FAClient,
    redis_client: redis.Redis,
    prefix: str,
    number: str,
    pin_length: int | None,
    take_token: Callable[[], float] | None = None,
) -> dict[str, Any]:
    """Text a PIN to ``number``; the answer names the session to verify it with. ``take_token``
    (Direct Messenger's send limit, high tier) returns 0 when the SMS may go, else seconds to wait."""
    wait = take_token() if take_token is not None else 0.0
    if wait > 0:
        return {
            "error": "rate_limited",
            "detail": f"Direct Messenger's send limit: try again in {wait:.1f} s",
        }
    try:
        code = client.send_code(number, pin_length=pin_length)
    except ProviderError as exc:
        return {"error": exc.code or "provider", "detail": str(exc)}
    session_id = secrets.token_hex(16)
    redis_client.set(Keys(prefix).two_factor_session(session_id), code.pin_id, ex=PIN_LIFETIME_SECONDS)
    return {"session_id": session_id, "expires_in": PIN_LIFETIME_SECONDS, "sms": code.sms}


def verify_code(
    client: DirectMessenger2FAClient, redis_client: redis.Redis, prefix: str, session_id: str, pin: str
) -> dict[str, Any]:
    """The outcome of the user's PIN: authenticated, mismatch, expired, ... (VerifyOutcome values)."""
    key = Keys(prefix).two_factor_session(session_id)
    pin_id = redis_client.get(key)
    if pin_id is None:
        detail = "no such session: it never existed, or its PIN is older than 5 minutes or was used"
        return {"outcome": VerifyOutcome.EXPIRED.value, "detail": detail}
    try:
        result = client.verify_code(pin, str(pin_id))
    except ProviderError as exc:
        return {"error": exc.code or "provider", "detail": str(exc)}
    if result.outcome in (VerifyOutcome.AUTHENTICATED, VerifyOutcome.ALREADY_AUTHENTICATED):
        redis_client.delete(key)  # one use
    return {"outcome": result.outcome.value, "detail": result.detail}
