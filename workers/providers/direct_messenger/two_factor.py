"""Direct Messenger two-factor authentication: send a PIN by SMS, then verify it.

A separate API with its own base URL (settings: ``direct_messenger.two_factor_base_url``). The
expected outcomes of a verification (authenticated, already authenticated, not found, mismatch,
expired) are results, not exceptions; only refusals of the request itself raise.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final

import httpx
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings
from smsq.producers.errors import InvalidInput
from smsq.workers.providers import http
from smsq.workers.providers.direct_messenger.sms import answer_json, digits, error_from
from smsq.workers.providers.errors import PermanentError, ProviderError, TransientError

NAME: Final = "direct_messenger_2fa"
PIN_LENGTH_MIN: Final = 4
PIN_LENGTH_MAX: Final = 20

# Refusals of the request (validation errors by field, as for SMS sends).
ERROR_CODES: Final[dict[str, type[ProviderError]]] = {
    "api_token": PermanentError,
    "receiver": PermanentError,  # "The receiver field is required." / "Invalid number"
    "pin_length": PermanentError,  # "The pin length must be between 4 and 20."
    "pin": PermanentError,  # "The pin field is required." and other validation of the PIN
    "pin_id": PermanentError,
    "401": PermanentError,
    "403": PermanentError,
    "422": PermanentError,
}


class VerifyOutcome(enum.Enum):
    AUTHENTICATED = "authenticated"
    ALREADY_AUTHENTICATED = "already_authenticated"
    NOT_FOUND = "not_found"
    MISMATCH = "mismatch"
    EXPIRED = "expired"  # PINs expire 5 minutes after sending


# The documented verification failures: (field in errors, text it contains) -> outcome. Matching the
# text too keeps a plain validation error on the same field (e.g. "The pin field is required.") an
# error rather than an outcome.
VERIFY_OUTCOMES: Final[tuple[tuple[str, str, VerifyOutcome], ...]] = (
    ("auth_status", "already", VerifyOutcome.ALREADY_AUTHENTICATED),
    ("pin", "not found", VerifyOutcome.NOT_FOUND),
    ("pin_id", "not matching", VerifyOutcome.MISMATCH),
    ("expire_time", "expired", VerifyOutcome.EXPIRED),
)


@dataclass(frozen=True)
class TwoFactorCode:
    pin: str = field(repr=False)  # what the user must type; never logged
    pin_id: str = field(repr=False)  # DM: keep private, never hand it to the user
    sms: str | None = None  # the SMS status, e.g. "sent"


@dataclass(frozen=True)
class VerifyResult:
    outcome: VerifyOutcome
    detail: str = ""

    @property
    def authenticated(self) -> bool:
        return self.outcome is VerifyOutcome.AUTHENTICATED


def check_pin_length(pin_length: int | None) -> None:
    if pin_length is not None and not PIN_LENGTH_MIN <= pin_length <= PIN_LENGTH_MAX:
        raise InvalidInput([("pin_length", f"must be between {PIN_LENGTH_MIN} and {PIN_LENGTH_MAX}")])


def _response_part(response: httpx.Response, data: Any) -> Mapping[str, Any]:
    if response.status_code < 300 and isinstance(data, Mapping) and data.get("message") == "Success":
        inner = data.get("response")
        if isinstance(inner, Mapping):
            return inner
        raise TransientError(NAME, "success without a response object", code="malformed", maybe_sent=True)
    raise error_from(response, data, provider=NAME, table=ERROR_CODES)


def parse_send_code(response: httpx.Response) -> TwoFactorCode:
    inner = _response_part(response, answer_json(response, NAME))
    try:
        return TwoFactorCode(pin=str(inner["pin"]), pin_id=str(inner["pin_id"]), sms=inner.get("sms"))
    except KeyError as exc:
        raise TransientError(NAME, f"success body missing {exc}", code="malformed", maybe_sent=True) from None


def parse_verify(response: httpx.Response) -> VerifyResult:
    data = answer_json(response, NAME)
    errors = data.get("errors") if isinstance(data, Mapping) else None
    if isinstance(errors, Mapping):
        for name, needle, outcome in VERIFY_OUTCOMES:
            texts = errors.get(name)
            text = "; ".join(map(str, texts)) if isinstance(texts, list) else str(texts or "")
            if texts and needle in text.lower():
                return VerifyResult(outcome, text)
    inner = _response_part(response, data)
    return VerifyResult(VerifyOutcome.AUTHENTICATED, str(inner.get("auth_status") or ""))


class DirectMessenger2FAClient:
    name: Final = NAME

    def __init__(
        self, client: httpx.Client, api_token: SecretStr, *, send_path: str = "", verify_path: str = ""
    ) -> None:
        self.http = client
        self.api_token = api_token
        # The document shows both calls on the bare API URL; kept configurable in case an account
        # is given separate paths.
        self.send_path = send_path
        self.verify_path = verify_path

    @classmethod
    def from_settings(
        cls,
        settings: DirectMessengerSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> DirectMessenger2FAClient:
        if not settings.two_factor_base_url:
            raise ValueError("direct_messenger.two_factor_base_url is not set")
        client = http.make_client(
            settings.two_factor_base_url,
            settings.timeouts,
            headers={"Accept": "application/json"},
            transport=transport,
        )
        return cls(client, settings.api_token, **options)

    def send_code(self, receiver: str, *, pin_length: int | None = None) -> TwoFactorCode:
        check_pin_length(pin_length)
        form = {"api_token": self.api_token.get_secret_value(), "receiver": digits(receiver)}
        if pin_length is not None:
            form["pin_length"] = str(pin_length)
        return parse_send_code(http.request(self.http, NAME, "POST", self.send_path, data=form))

    def verify_code(self, pin: str, pin_id: str) -> VerifyResult:
        form = {"api_token": self.api_token.get_secret_value(), "pin": pin, "pin_id": pin_id}
        return parse_verify(http.request(self.http, NAME, "POST", self.verify_path, data=form))

    def close(self) -> None:
        self.http.close()
