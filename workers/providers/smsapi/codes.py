"""SMSAPI's wire vocabulary, shared by ``sms.do`` and the Blacklist API: the number form, the error-code
and delivery-status tables (data, one test row per code), and the translation of an error body into
the provider error tree."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

import httpx

from smsq.producers.errors import InvalidInput
from smsq.producers.messages.numbers import listed_number, to_e164
from smsq.workers.providers import http
from smsq.workers.providers.errors import PermanentError, ProviderError, RateLimited, TransientError

NAME: Final = "smsapi"

# sms.do error codes (the integer `error` in a 200 body) -> how to treat them. Codes and meanings from
# SMSAPI's documented list of API error codes; sub-user, sender-name and contacts codes (1000+) are
# left out because smsq never calls those APIs (they fall to the default below).
ERROR_CODES: Final[dict[str, type[ProviderError]]] = {
    "7": PermanentError,  # short links disabled on the account
    # "Error in request (please report)": the same bytes would be refused again.
    "8": PermanentError,
    "11": PermanentError,  # message too long, empty, or special characters with nounicode
    "12": PermanentError,  # more parts than max_parts
    "13": PermanentError,  # no valid recipient (invalid or blacklisted)
    "14": PermanentError,  # invalid sender name
    "17": PermanentError,  # FLASH message with special characters
    "18": PermanentError,  # invalid number of parameters
    "19": PermanentError,  # too many messages in one request
    "20": PermanentError,  # invalid number of idx parameters
    "25": PermanentError,  # normalize and datacoding together
    "27": PermanentError,  # idx longer than 255 characters
    "28": PermanentError,  # invalid time_restriction
    "30": PermanentError,  # invalid UDH with datacoding=bin
    "40": PermanentError,  # no such contacts group
    "41": PermanentError,  # contacts group is empty
    "50": PermanentError,  # scheduled more than 3 months ahead
    "52": RateLimited,  # more than 10 attempts to one number within 60 s
    "53": PermanentError,  # idx already used with check_idx=1: see ALREADY_SENT, never raised by send
    "54": PermanentError,  # invalid date format
    "56": PermanentError,  # expiration_date not 1..72 h after the send date
    "57": PermanentError,  # the number is blacklisted for this user
    "59": PermanentError,  # the number is on the opt-out list
    "70": PermanentError,  # invalid notify_url
    "72": PermanentError,  # notify_url with more than one recipient
    "74": PermanentError,  # send date outside the account's allowed hours
    "76": PermanentError,  # invalid characters in the parameters
    "93": PermanentError,  # message parameters together with a group
    "94": PermanentError,  # links not allowed
    "98": PermanentError,  # restricted account: only the registration number may receive
    "101": PermanentError,  # invalid authorisation
    "102": PermanentError,  # invalid username or password
    # Insufficient credits: an account state, not a property of the message; a later attempt (or
    # failover to another provider) can succeed, so it must not fail the message at once.
    "103": TransientError,
    "104": PermanentError,  # no such template
    "105": PermanentError,  # IP not allowed by the account's IP filter
    "106": PermanentError,  # invalid short link
    "110": PermanentError,  # action not allowed for the account
    "112": PermanentError,  # sending to this country is restricted on the account
    "200": TransientError,  # unsuccessful submission (unspecified): worth another try
    "201": TransientError,  # system internal error
    "202": RateLimited,  # too many simultaneous requests
    "203": RateLimited,  # too many requests
    "301": PermanentError,  # no message with that id (cancel/status: see cancel())
    "400": PermanentError,  # invalid message id in a status request
    "401": PermanentError,  # the token lacks the permission
    "409": PermanentError,  # value already exists
    "997": PermanentError,  # plain HTTP disabled for the account
    "998": TransientError,  # short-URL service unavailable
    "999": TransientError,  # system internal error
}
# Not documented: how long to wait. 52 names its window (60 s); the others are our guess.
RETRY_AFTER: Final[dict[str, float]] = {"52": 60.0, "202": 1.0, "203": 5.0}
# Internal errors may strike after the message was accepted (a resend is safe anyway: idx).
MAYBE_SENT: Final = frozenset({"201", "999"})
# A repeated idx: SMSAPI refuses the send because the first one went out. That is success.
ALREADY_SENT: Final = "53"

# Delivery statuses (status_name in callbacks and status lookups; numeric `status` in callbacks)
# -> smsq status. None = still in progress (the message stays `sent`).
STATUS_CODES: Final[dict[str, str]] = {
    "401": "NOT_FOUND",
    "402": "EXPIRED",
    "403": "SENT",
    "404": "DELIVERED",
    "405": "UNDELIVERED",
    "406": "FAILED",
    "407": "REJECTED",
    "408": "UNKNOWN",
    "409": "QUEUE",
    "410": "ACCEPTED",
}
STATUSES: Final[dict[str, str | None]] = {
    "QUEUE": None,
    "QUEUED": None,  # the status table spells it QUEUED, the API QUEUE
    "SENT": None,
    "ACCEPTED": None,
    "DELIVERED": "delivered",
    "UNDELIVERED": "undeliverable",
    "EXPIRED": "expired",
    "FAILED": "failed",
    "REJECTED": "failed",
    "UNKNOWN": "unknown",
    "NOT_FOUND": "unknown",  # wrong id or the report expired: the outcome cannot be known any more
}


def digits(phone: str) -> str:
    """SMSAPI's form of a number: country code and digits, no ``+``."""
    try:
        return to_e164(phone).removeprefix("+")
    except ValueError as exc:
        raise InvalidInput([("phone", str(exc))]) from None


def e164_from(number: object) -> str:
    """A provider number back to E.164. A number phonenumbers does not know still counts (a listed
    number must never be dropped from a blacklist), so it falls back to ``+digits``."""
    return listed_number(number)  # the one normalisation (smsq.producers.messages.numbers)


def smsq_status(status: str | None) -> str | None:
    """SMSAPI's status -> smsq status; None while in progress or unknown to this table."""
    return STATUSES.get((status or "").upper())


def error_from_body(data: Mapping[str, Any], status_code: int | None = None) -> ProviderError:
    """Both error shapes: sms.do's {error: <int>, message, invalid_numbers?} and the REST APIs'
    {message, error: <str>, developer_description?, errors?: [{message, error, path, value}]}."""
    code = str(data.get("error"))
    detail = str(data.get("message") or code)
    field = None
    invalid = data.get("invalid_numbers") or []
    if isinstance(invalid, list) and invalid:
        detail += " (" + ", ".join(f"{n.get('number')}: {n.get('message')}" for n in invalid) + ")"
        field = "to"
    errors = data.get("errors")
    if isinstance(errors, list) and errors and isinstance(errors[0], Mapping):
        field = errors[0].get("path") or field
        detail += ": " + "; ".join(str(e.get("message")) for e in errors if isinstance(e, Mapping))
    if data.get("developer_description"):
        detail += f" [{data['developer_description']}]"
    if code.isdigit():
        kind = ERROR_CODES.get(code, PermanentError)  # an unknown refusal is not retried blindly
    else:
        kind = TransientError if (status_code or 0) >= 500 else PermanentError
    if kind is RateLimited:
        return RateLimited(
            NAME, detail, code=code, status_code=status_code, field=field, retry_after=RETRY_AFTER.get(code)
        )
    if issubclass(kind, TransientError):
        return kind(
            NAME, detail, code=code, status_code=status_code, field=field, maybe_sent=code in MAYBE_SENT
        )
    return kind(NAME, detail, code=code, status_code=status_code, field=field)


def error_from(response: httpx.Response) -> ProviderError:
    try:
        data = response.json()
    except ValueError:
        data = None
    if isinstance(data, Mapping) and data.get("error") is not None:
        return error_from_body(data, response.status_code)
    detail = (data.get("message") if isinstance(data, Mapping) else None) or response.text[:200]
    return http.permanent_for_status(NAME, response, str(detail or response.reason_phrase))
