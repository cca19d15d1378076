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
from typing import Any, Final, Protocol

import redis

from smsq.producers.core.keys import Keys
from smsq.workers.providers.direct_messenger.two_factor import TwoFactorCode, VerifyOutcome, VerifyResult
from smsq.workers.providers.errors import ProviderError
from smsq.workers.providers.simulated.two_factor import SimulatedTwoFactor, is_simulated

PIN_LIFETIME_SECONDS: Final = 300  # Direct Messenger: a PIN expires 5 minutes after it is sent
UNAVAILABLE: Final = {
    "error": "unavailable",
    "detail": "Direct Messenger 2FA is not configured: set SMSQ_DIRECT_MESSENGER__ENABLED=true, "
    "SMSQ_DIRECT_MESSENGER__API_TOKEN and SMSQ_DIRECT_MESSENGER__TWO_FACTOR_BASE_URL",
}
# A test key's sessions (their pin_id says so): answered by the simulated provider, never by DM.
SIMULATED: Final = SimulatedTwoFactor()


class TwoFactorClient(Protocol):
    """Direct Messenger's 2FA client, or the simulated one a test key's PINs use."""

    def send_code(self, receiver: str, *, pin_length: int | None = None) -> TwoFactorCode: ...

    def verify_code(self, pin: str, pin_id: str) -> VerifyResult: ...


def send_code(
    client: TwoFactorClient,
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
    client: TwoFactorClient | None, redis_client: redis.Redis, prefix: str, session_id: str, pin: str
) -> dict[str, Any]:
    """The outcome of the user's PIN: authenticated, mismatch, expired, ... (VerifyOutcome values).
    ``client``: Direct Messenger's (None: not configured); a test key's session is the simulated
    provider's whatever it is."""
    key = Keys(prefix).two_factor_session(session_id)
    pin_id = redis_client.get(key)
    if pin_id is None:
        detail = "no such session: it never existed, or its PIN is older than 5 minutes or was used"
        return {"outcome": VerifyOutcome.EXPIRED.value, "detail": detail}
    if is_simulated(str(pin_id)):
        client = SIMULATED
    if client is None:
        return UNAVAILABLE
    try:
        result = client.verify_code(pin, str(pin_id))
    except ProviderError as exc:
        return {"error": exc.code or "provider", "detail": str(exc)}
    if result.outcome in (VerifyOutcome.AUTHENTICATED, VerifyOutcome.ALREADY_AUTHENTICATED):
        redis_client.delete(key)  # one use
    return {"outcome": result.outcome.value, "detail": result.detail}
