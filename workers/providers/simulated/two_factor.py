"""Two-factor PINs for test API keys: the same send and verify calls as Direct Messenger's 2FA
client, answered here, so nothing is texted and no Direct Messenger account is needed.

The PIN is known in advance, so an app's tests can type it: ``SIMULATED_PIN`` cut to the PIN length
asked for (default 4: "1234"); anything else is a mismatch. A number ending 0001 is refused, as
Direct Messenger refuses a number it cannot text (the API answers 502), so the app can test that
branch too. The session stores a pin_id that names the simulated provider and the length, never a
Direct Messenger pin_id, so verifying a live session never reaches this code and a simulated
session never reaches Direct Messenger."""

from __future__ import annotations

from typing import Final

from smsq.workers.providers.direct_messenger.two_factor import (
    TwoFactorCode,
    VerifyOutcome,
    VerifyResult,
    check_pin_length,
)
from smsq.workers.providers.errors import PermanentError
from smsq.workers.providers.simulated.client import NAME, RESERVED

SIMULATED_PIN: Final = "12345678901234567890"  # the PIN is its first pin_length characters
DEFAULT_PIN_LENGTH: Final = 4
PIN_ID_PREFIX: Final = f"{NAME}:"  # a simulated session's pin_id: "simulated:<pin length>"
REFUSED_ENDING: Final = next(ending for ending, outcome in RESERVED.items() if outcome == "failed")


def is_simulated(pin_id: str) -> bool:
    return pin_id.startswith(PIN_ID_PREFIX)


class SimulatedTwoFactor:
    """Direct Messenger 2FA's calls (``send_code``, ``verify_code``), answered without a request."""

    def send_code(self, receiver: str, *, pin_length: int | None = None) -> TwoFactorCode:
        check_pin_length(pin_length)
        if receiver.endswith(REFUSED_ENDING):
            raise PermanentError(
                NAME, f"the simulated provider refuses numbers ending {REFUSED_ENDING}", code="receiver"
            )
        length = pin_length or DEFAULT_PIN_LENGTH
        return TwoFactorCode(pin=SIMULATED_PIN[:length], pin_id=f"{PIN_ID_PREFIX}{length}", sms="simulated")

    def verify_code(self, pin: str, pin_id: str) -> VerifyResult:
        length = int(pin_id.removeprefix(PIN_ID_PREFIX) or DEFAULT_PIN_LENGTH)
        if pin == SIMULATED_PIN[:length]:
            return VerifyResult(VerifyOutcome.AUTHENTICATED, "simulated")
        return VerifyResult(VerifyOutcome.MISMATCH, "not the simulated PIN")

    def close(self) -> None:
        """Nothing to close: no connections."""
