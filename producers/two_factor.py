"""Two-factor PINs (Direct Messenger 2FA) for applications: text a PIN, then check what the user typed.

Both calls run as tasks on the high lane and wait for the answer (a user is waiting too). The caller
holds only a session id; the PIN and Direct Messenger's pin_id never leave the worker and Redis.

    session = smsq.two_factor.send_code("+37251234567")
    verdict = smsq.two_factor.verify(session.session_id, typed_pin)
    verdict.authenticated  # True once; a second check of the same PIN says the session is gone
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from smsq.config import contract as names
from smsq.producers.errors import InvalidInput, TwoFactorFailed
from smsq.producers.messages.numbers import to_e164
from smsq.producers.publisher import Publisher

_SESSION_ID = re.compile(r"^[0-9a-f]{32}$")
_PIN = re.compile(r"^[0-9A-Za-z]{1,20}$")


@dataclass(frozen=True)
class TwoFactorSession:
    session_id: str
    expires_in: int  # seconds the PIN stays valid
    sms: str | None = None  # Direct Messenger's SMS status, e.g. "sent"


@dataclass(frozen=True)
class TwoFactorVerdict:
    outcome: str  # authenticated, already_authenticated, not_found, mismatch or expired
    detail: str = ""

    @property
    def authenticated(self) -> bool:
        return self.outcome == "authenticated"


class TwoFactor:
    def __init__(self, publisher: Publisher, *, timeout: float = 15.0) -> None:
        self.publisher = publisher
        self.timeout = timeout

    def send_code(self, number: str, *, pin_length: int | None = None) -> TwoFactorSession:
        """Text a PIN to ``number``. InvalidInput (nothing sent) for a bad number or PIN length;
        TwoFactorFailed when Direct Messenger refuses or 2FA is not configured."""
        try:
            e164 = to_e164(number)
        except ValueError as exc:
            raise InvalidInput([("number", str(exc))]) from None
        if pin_length is not None and (isinstance(pin_length, bool) or not 4 <= pin_length <= 20):
            raise InvalidInput([("pin_length", "must be between 4 and 20")])
        payload = names.TwoFactorSendPayload(number=e164, pin_length=pin_length)
        answer = self._call(names.TWO_FACTOR_SEND_TASK, payload)
        return TwoFactorSession(str(answer["session_id"]), int(answer["expires_in"]), answer.get("sms"))

    def verify(self, session_id: str, pin: str) -> TwoFactorVerdict:
        """What the PIN the user typed means: ``authenticated`` (once), ``mismatch``, ``expired``, ..."""
        problems = []
        if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
            problems.append(("session_id", "must be the 32-character id send_code returned"))
        if not isinstance(pin, str) or not _PIN.match(pin.strip()):
            problems.append(("pin", "must be 1-20 letters or digits"))
        if problems:
            raise InvalidInput(problems)
        payload = names.TwoFactorVerifyPayload(session_id=session_id, pin=pin.strip())
        answer = self._call(names.TWO_FACTOR_VERIFY_TASK, payload)
        return TwoFactorVerdict(str(answer["outcome"]), str(answer.get("detail") or ""))

    def _call(self, task: str, payload: names.Payload) -> dict[str, Any]:
        answer = self.publisher.call(task, payload, names.HIGH, self.timeout)
        if not isinstance(answer, dict):
            raise TwoFactorFailed("malformed", f"the worker answered {answer!r}")
        if "error" in answer:
            raise TwoFactorFailed(str(answer["error"]), str(answer.get("detail") or ""))
        return answer
