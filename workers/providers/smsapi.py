"""SMSAPI (https://api.smsapi.com): SMS send, status, cancel (``sms.do``) and the Blacklist API.

Request shapes, the error table and pure parse functions live here; the HTTP call goes through
``workers.providers.http``. Numbers go out as digits only (no ``+``) and come back as E.164.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, Final

import httpx

from config.settings import SmsapiSettings
from producers.errors import InvalidInput
from producers.models import Sms, to_e164
from workers.providers import http
from workers.providers.base import (
    BlacklistEntry,
    ChannelStatus,
    DeliveryStatus,
    OutboundMessage,
    SendResult,
    SentPart,
)
from workers.providers.errors import PermanentError, ProviderError, RateLimited, TransientError

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
    try:
        return to_e164(number)
    except ValueError:
        return "+" + "".join(ch for ch in str(number) if ch.isdigit())


def sms_part(message: OutboundMessage) -> Sms:
    for part in message.omnimessage.messages:
        if isinstance(part, Sms):
            return part
    raise PermanentError(NAME, "the message has no sms channel", code="no_sms", field="messages")


def send_body(
    message: OutboundMessage,
    *,
    sender: str | None = None,
    fast_for_high: bool = False,
    native_schedule: bool = False,
) -> dict[str, Any]:
    """The JSON body of POST sms.do. ``sender`` is the default when the sms part names none."""
    sms = sms_part(message)
    body: dict[str, Any] = {
        "to": digits(message.omnimessage.to),
        "message": sms.text,
        "format": "json",
        "encoding": "utf-8",
        "idx": message.message_id,
        "check_idx": 1,
    }
    if sms.sender or sender:
        body["from"] = sms.sender or sender
    when = message.omnimessage.time_to_send
    if native_schedule and when is not None:
        body["date"] = when.isoformat(timespec="seconds")
        # Without date_validate SMSAPI may ignore a date it cannot read and send at once.
        body["date_validate"] = 1
    if message.callback_url:
        body["notify_url"] = message.callback_url
    if fast_for_high and message.omnimessage.priority == "high":
        body["fast"] = 1
    return body


def parse_send(response: httpx.Response, message: OutboundMessage, sender: str | None = None) -> SendResult:
    data = _sms_do_body(response)
    if isinstance(data, Mapping) and data.get("error") is not None:
        if str(data["error"]) == ALREADY_SENT:
            # The first send with this idx went out; SMSAPI does not say under which id, but it
            # echoes idx (= the smsq id) in delivery callbacks, so the smsq id stands in for it.
            return SendResult(provider=NAME, provider_message_id=message.message_id)
        raise error_from_body(data, response.status_code)
    try:
        first = data["list"][0]
        return SendResult(
            provider=NAME,
            provider_message_id=str(first["id"]),
            parts=(SentPart(channel="sms", provider_message_id=str(first["id"]), sender=sender),),
        )
    except (KeyError, IndexError, TypeError) as exc:
        raise TransientError(
            NAME, f"unexpected sms.do body, missing {exc}", code="malformed", maybe_sent=True
        ) from None


def parse_cancel(response: httpx.Response) -> bool:
    data = _sms_do_body(response)
    if isinstance(data, Mapping) and data.get("error") is not None:
        if str(data["error"]) == "301":
            return False  # already sent, already cancelled, or unknown
        raise error_from_body(data, response.status_code)
    return bool(isinstance(data, Mapping) and data.get("count"))


def parse_status(response: httpx.Response, provider_message_id: str) -> DeliveryStatus:
    data = _sms_do_body(response)
    if isinstance(data, Mapping) and data.get("error") is not None:
        if str(data["error"]) == "301":
            # Unknown id (or the smsq id standing in after a repeated idx): SMSAPI's own NOT_FOUND,
            # so a poll settles on `unknown` and a later callback can still settle the message.
            gone = ChannelStatus(channel="sms", provider_message_id=provider_message_id, status="NOT_FOUND")
            return DeliveryStatus(provider_message_id, "", (gone,))
        raise error_from_body(data, response.status_code)
    try:
        item = data["list"][0]
        status = ChannelStatus(
            channel="sms",
            provider_message_id=str(item["id"]),
            status=item.get("status"),
            err=int(item["error"]) if item.get("error") is not None else None,
            timestamp=str(item["date_sent"]) if item.get("date_sent") is not None else None,
        )
        return DeliveryStatus(provider_message_id, e164_from(item["number"]), (status,))
    except (KeyError, IndexError, TypeError, ValueError) as exc:
        raise TransientError(NAME, f"unexpected status body: {exc}", code="malformed") from None


def parse_callback(params: Mapping[str, str]) -> ChannelStatus:
    """A notify_url callback (MsgId, status numeric or status_name, idx, donedate, to)."""
    raw = str(params.get("status_name") or params.get("status") or "")
    return ChannelStatus(
        channel="sms",
        provider_message_id=params.get("MsgId"),
        status=STATUS_CODES.get(raw, raw) or None,
        timestamp=params.get("donedate"),
    )


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


def _sms_do_body(response: httpx.Response) -> Any:
    # sms.do answers errors inside a 200; any other status is an HTTP-level failure (401 and such).
    if response.status_code not in (200, 201):
        raise error_from(response)
    return http.json_body(NAME, response)


@dataclass(frozen=True)
class BlacklistPage:
    size: int  # the total number of matching entries, not the length of this page
    entries: tuple[BlacklistEntry, ...]


def parse_entry(item: Mapping[str, Any]) -> BlacklistEntry:
    return BlacklistEntry(
        phone=e164_from(item["phone_number"]),
        provider_id=str(item["id"]),
        created_at=item.get("created_at"),
        expires_at=item.get("expire_at"),
    )


def parse_blacklist_page(response: httpx.Response) -> BlacklistPage:
    if response.status_code == 204:  # an empty list
        return BlacklistPage(size=0, entries=())
    if response.status_code != 200:
        raise error_from(response)
    data = http.json_body(NAME, response)
    try:
        entries = tuple(parse_entry(item) for item in data["collection"])
        return BlacklistPage(size=int(data.get("size", len(entries))), entries=entries)
    except (KeyError, TypeError, ValueError) as exc:
        raise TransientError(NAME, f"unexpected blacklist body: {exc}", code="malformed") from None


def is_duplicate(response: httpx.Response) -> bool:
    """409, or a 4xx whose error names a duplicate (the exact code is not documented)."""
    if response.status_code == 409:
        return True
    if not 400 <= response.status_code < 500:
        return False
    text = response.text.lower()
    return "duplicat" in text or "already" in text


def expire_at_value(expire_at: date | datetime | str) -> str:
    return expire_at if isinstance(expire_at, str) else expire_at.isoformat()


class SmsapiClient:
    name: Final = NAME
    channels: Final = frozenset({"sms"})
    idempotent_send: Final = True  # idx + check_idx=1: SMSAPI refuses a repeat of the same smsq id

    def __init__(
        self,
        client: httpx.Client,
        *,
        sender: str | None = None,
        fast_for_high: bool = False,
        native_schedule: bool = False,
        page_size: int = 100,
    ) -> None:
        self.http = client
        self.sender = sender
        self.fast_for_high = fast_for_high  # fast=1 costs more: off unless configured
        self.native_schedule = native_schedule
        self.page_size = page_size

    @classmethod
    def from_settings(
        cls,
        settings: SmsapiSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        sender: str | None = None,
        fast_for_high: bool = False,
        native_schedule: bool = False,
    ) -> SmsapiClient:
        headers = {
            "Authorization": f"Bearer {settings.token.get_secret_value()}",
            "Accept": "application/json",
        }
        client = http.make_client(settings.base_url, settings.timeouts, headers=headers, transport=transport)
        return cls(client, sender=sender, fast_for_high=fast_for_high, native_schedule=native_schedule)

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return http.request(self.http, NAME, method, url, **kwargs)

    # sms.do
    def send(self, message: OutboundMessage) -> SendResult:
        body = send_body(
            message,
            sender=self.sender,
            fast_for_high=self.fast_for_high,
            native_schedule=self.native_schedule,
        )
        return parse_send(self._call("POST", "sms.do", json=body), message, body.get("from"))

    def cancel(self, provider_message_id: str) -> bool:
        body = {"sch_del": provider_message_id, "format": "json"}
        return parse_cancel(self._call("POST", "sms.do", json=body))

    def status(self, provider_message_id: str) -> DeliveryStatus:
        body = {"status": provider_message_id, "format": "json"}
        return parse_status(self._call("POST", "sms.do", json=body), provider_message_id)

    # Blacklist API
    def list_blacklist(
        self, *, q: str | None = None, offset: int = 0, limit: int | None = None
    ) -> BlacklistPage:
        params: dict[str, str | int] = {"offset": offset, "limit": limit or self.page_size}
        if q:
            params["q"] = q
        return parse_blacklist_page(self._call("GET", "blacklist/phone_numbers", params=params))

    def iter_blacklist(self, *, q: str | None = None) -> Iterator[BlacklistEntry]:
        offset = 0
        while True:
            page = self.list_blacklist(q=q, offset=offset)
            yield from page.entries
            offset += len(page.entries)
            if not page.entries or offset >= page.size:
                return

    def add_blacklist_entry(
        self, phone: str, *, expire_at: date | datetime | str | None = None
    ) -> BlacklistEntry | None:
        """Returns the created entry, or None when the number was already listed."""
        body: dict[str, str] = {"phone_number": digits(phone)}
        if expire_at is not None:
            body["expire_at"] = expire_at_value(expire_at)
        response = self._call("POST", "blacklist/phone_numbers", json=body)
        if response.status_code in (200, 201):
            return parse_entry(http.json_body(NAME, response))
        if is_duplicate(response):
            return None
        raise error_from(response)

    def delete_blacklist_entry(self, entry_id: str) -> bool:
        response = self._call("DELETE", f"blacklist/phone_numbers/{entry_id}")
        if response.status_code in (200, 204):
            return True
        if response.status_code == 404:
            return False
        raise error_from(response)

    def delete_all_blacklist(self, *, confirm: bool = False) -> None:
        """Clears the whole provider blacklist. Irreversible, so it needs ``confirm=True``."""
        if confirm is not True:
            raise ValueError(
                "delete_all_blacklist clears the whole SMSAPI blacklist irreversibly; pass confirm=True"
            )
        response = self._call("DELETE", "blacklist/phone_numbers")
        if response.status_code not in (200, 204):
            raise error_from(response)

    def export_blacklist_csv(self, *, q: str | None = None) -> str:
        params = {"q": q} if q else None
        response = self._call("GET", "blacklist/phone_numbers", params=params, headers={"Accept": "text/csv"})
        if response.status_code == 204:
            return ""
        if response.status_code != 200:
            raise error_from(response)
        return response.text

    def import_blacklist_csv(self, csv: str | bytes, *, filename: str = "blacklist.csv") -> None:
        """Uploads a CSV of numbers; SMSAPI imports it in the background (202)."""
        data = csv.encode() if isinstance(csv, str) else csv
        files = {"file": (filename, data, "text/csv")}
        response = self._call("POST", "blacklist/phone_numbers/imports", files=files)
        if response.status_code not in (200, 201, 202, 204):
            raise error_from(response)

    # BlacklistProvider
    def blacklist(self) -> list[BlacklistEntry]:
        return list(self.iter_blacklist())

    def blacklist_add(self, phone: str, *, expire_at: date | datetime | str | None = None) -> bool:
        return self.add_blacklist_entry(phone, expire_at=expire_at) is not None

    def blacklist_remove(self, entry: BlacklistEntry) -> bool:
        if entry.provider_id is not None:
            return self.delete_blacklist_entry(entry.provider_id)
        # Deletion is by id only: find the number's entries first (q matches a part of the number).
        number = digits(entry.phone)
        ids = [e.provider_id for e in self.iter_blacklist(q=number) if e.phone.removeprefix("+") == number]
        return any([self.delete_blacklist_entry(i) for i in ids if i is not None])

    def close(self) -> None:
        self.http.close()
