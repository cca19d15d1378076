"""Messente Omnichannel API (https://api.messente.com/v1): send, bulk send, delivery status, cancel.
Request shapes, the error table and pure parse functions live here; the HTTP call goes through
``smsq.workers.providers.http``. The Phonebook API is in ``messente_phonebook``."""

from __future__ import annotations

import base64
import contextlib
import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final
from urllib.parse import quote

import httpx

from smsq.config.settings import MessenteSettings
from smsq.producers.messages.numbers import listed_number
from smsq.workers.providers import http
from smsq.workers.providers.base import (
    ChannelStatus,
    DeliveryStatus,
    LoopTarget,
    OutboundMessage,
    SendResult,
    SentPart,
)
from smsq.workers.providers.errors import PermanentError, ProviderError, TransientError, UnknownToProvider

NAME: Final = "messente"

# Omnichannel error codes (the `code` string in {errors:[...]}) -> how to treat them.
ERROR_CODES: Final[dict[str, type[ProviderError]]] = {
    "101": PermanentError,  # Not found
    "102": PermanentError,  # Forbidden
    "103": PermanentError,  # Unauthorized
    "104": TransientError,  # Internal Server Error
    "105": PermanentError,  # Invalid data
    "106": PermanentError,  # Missing data
    "107": PermanentError,  # Method not allowed
}
NOT_FOUND: Final = "101"

# DeliveryResult.status values. None means "still processing"; a value outside KNOWN_STATUSES is kept
# as given and treated as not final, so a new provider status can never crash a poll.
KNOWN_STATUSES: Final = frozenset(
    {
        "ACK",
        "DELIVRD",
        "UNDELIV",
        "FAILED",
        "UNKNOWN",
        "ACCEPTD",
        "REJECTD",
        "DELETED",
        "EXPIRED",
        "NACK",
        "SEEN",
    }
)
FINAL_STATUSES: Final = frozenset({"DELIVRD", "UNDELIV", "FAILED", "REJECTD", "DELETED", "EXPIRED", "SEEN"})
# DeliveryResult.status -> smsq status; None = still in progress. A value missing here (a status
# Messente adds later) is in progress too, never a crash.
STATUSES: Final[dict[str, str | None]] = {
    "DELIVRD": "delivered",
    "SEEN": "delivered",
    "UNDELIV": "undeliverable",
    "REJECTD": "undeliverable",
    "FAILED": "failed",
    "EXPIRED": "expired",
    "DELETED": "cancelled",
    "ACK": None,
    "ACCEPTD": None,
    "UNKNOWN": None,
    "NACK": None,
}
TEMPORARY_ERR: Final = 999  # DeliveryResult.err: general temporary error
# DeliveryResult.err -> its documented meaning. Only 999 is temporary; an undocumented value is kept
# as given (ChannelStatus.err) and described as unknown, never a crash.
DELIVERY_ERRORS: Final[dict[int, str]] = {
    0: "No error",
    1: "Delivery failure",
    2: "Sending message expired",
    3: "Invalid number",
    4: "Error crediting account",
    5: "Invalid number format",
    6: "Too many identical messages",
    7: "Sender name not allowed",
    8: "Operator blacklisted",
    9: "Unroutable",
    10: "Seen",
    TEMPORARY_ERR: "General temporary error",
}


def is_final(status: str | None) -> bool:
    return status in FINAL_STATUSES


def smsq_status(status: str) -> str | None:
    return STATUSES.get(status.upper())


def delivery_error(err: int | None) -> str | None:
    """The documented meaning of a DeliveryResult ``err`` (None while not yet processed)."""
    if err is None:
        return None
    return DELIVERY_ERRORS.get(err, f"undocumented error {err}")


def normalise_phone(value: str) -> str:
    """E.164 when the number parses; otherwise ``+`` and its digits, so an odd entry never breaks a
    listing and is spelled the one way (smsq.producers.messages.numbers.listed_number)."""
    return listed_number(value)


def is_not_found(error: ProviderError) -> bool:
    """True for Messente's 101: the omnimessage does not exist (or is not this account's)."""
    return error.provider == NAME and error.code == NOT_FOUND


def basic_auth_client(
    settings: MessenteSettings, *, transport: httpx.BaseTransport | None = None
) -> httpx.Client:
    """One HTTP client for both Messente APIs: same base URL, Basic auth and timeouts."""
    # The header itself rather than httpx's auth flow: the event loop's client copies it (loop_target).
    credentials = f"{settings.username.get_secret_value()}:{settings.password.get_secret_value()}"
    authorization = "Basic " + base64.b64encode(credentials.encode()).decode("ascii")
    return http.make_client(
        settings.base_url, settings.timeouts, headers={"Authorization": authorization}, transport=transport
    )


def path_segment(value: str) -> str:
    """Quote an id or phone number for a URL path, as the official SDK does ("+" -> "%2B")."""
    return quote(value, safe="")


# Requests


def send_body(message: OutboundMessage, *, native_schedule: bool = False) -> dict[str, Any]:
    """The POST /omnimessage body. smsq holds scheduled messages itself by default, so time_to_send is
    passed on only when the provider is asked to schedule natively."""
    body = message.omnimessage.wire()
    if not native_schedule:
        body.pop("time_to_send", None)
    if message.callback_url:
        body["dlr_url"] = message.callback_url
    return body


def bulk_body(messages: Sequence[OutboundMessage], *, native_schedule: bool = False) -> dict[str, Any]:
    """The POST /omnimessages body: the same omnimessages, in order (answers come back in this order)."""
    return {"messages": [send_body(message, native_schedule=native_schedule) for message in messages]}


# Responses


def parse_send(response: httpx.Response) -> SendResult:
    # Messente answers 201; any 2xx means the request was taken, so a body we cannot read is
    # "maybe sent", never a refusal.
    if not response.is_success:
        raise error_from(response)
    data = http.json_body(NAME, response)
    try:
        return created_result(data)
    except (KeyError, TypeError) as exc:
        raise TransientError(
            NAME, f"unexpected 201 body, missing {exc}", code="malformed", maybe_sent=True
        ) from None


def created_result(data: Any) -> SendResult:
    """{messages:[{message_id, channel, sender}], to, omnimessage_id} -> SendResult (KeyError/TypeError
    when the shape is wrong)."""
    parts = tuple(
        SentPart(channel=part["channel"], provider_message_id=part["message_id"], sender=part.get("sender"))
        for part in data["messages"]
    )
    return SendResult(provider=NAME, provider_message_id=data["omnimessage_id"], parts=parts)


def parse_bulk(response: httpx.Response, count: int) -> list[SendResult | ProviderError]:
    """One result per input, in order: a SendResult, or the entry's error mapped with ERROR_CODES. A
    request-level error raises. An answer whose entries cannot be matched to the inputs raises
    TransientError(maybe_sent=True): some of the batch may have gone out."""
    if not response.is_success:
        raise error_from(response)
    data = http.json_body(NAME, response)
    entries = data.get("messages") if isinstance(data, dict) else None
    if not isinstance(entries, list) or len(entries) != count:
        got = len(entries) if isinstance(entries, list) else "no list of"
        raise TransientError(
            NAME, f"bulk answer has {got} entries for {count} messages", code="malformed", maybe_sent=True
        )
    return [bulk_entry(entry) for entry in entries]


def bulk_entry(entry: Any) -> SendResult | ProviderError:
    if isinstance(entry, dict) and isinstance(entry.get("errors"), list) and entry["errors"]:
        return error_from_item(entry["errors"][0], status_code=None)
    try:
        return created_result(entry)
    except (KeyError, TypeError) as exc:
        return TransientError(
            NAME, f"unexpected bulk entry, missing {exc}", code="malformed", maybe_sent=True
        )


def parse_status(response: httpx.Response) -> DeliveryStatus:
    """GET /omnimessage/{id}/status. 404 always carries code 101, whatever the body says."""
    if response.status_code == 404:
        missing = error_from(response)
        raise UnknownToProvider(NAME, missing.detail, code=NOT_FOUND, status_code=404, field=missing.field)
    if not response.is_success:
        raise error_from(response)
    data = http.json_body(NAME, response)
    try:
        return DeliveryStatus(
            provider_message_id=str(data["omnimessage_id"]),
            to=normalise_phone(str(data["to"])),
            channels=tuple(channel_status(item) for item in data["statuses"]),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise TransientError(NAME, f"unexpected status body, missing {exc}", code="malformed") from None


def channel_status(item: Mapping[str, Any]) -> ChannelStatus:
    status = item.get("status")
    return ChannelStatus(
        channel=str(item.get("channel") or ""),
        provider_message_id=item.get("message_id"),
        status=None if status is None else str(status),
        err=_as_int(item.get("err")),
        error=item.get("error"),
        timestamp=item.get("timestamp"),
    )


def _as_int(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value)
    return None


def parse_cancel(response: httpx.Response) -> bool:
    """202: cancelled. 404: already sent or unknown (an outcome, not an error)."""
    if response.status_code in (200, 202, 204):
        return True
    if response.status_code == 404:
        return False
    raise error_from(response)


def error_from(response: httpx.Response) -> ProviderError:
    """Translate an error answer ({errors:[{title, detail, code, source}]}) into the error tree."""
    try:
        first = response.json()["errors"][0]
        if not isinstance(first, dict):
            raise TypeError
    except (ValueError, KeyError, IndexError, TypeError):
        kind = TransientError if response.status_code >= 500 else PermanentError
        detail = response.text[:200] or response.reason_phrase
        return kind(NAME, detail, code=str(response.status_code), status_code=response.status_code)
    return error_from_item(first, status_code=response.status_code)


def error_from_item(item: Mapping[str, Any], *, status_code: int | None) -> ProviderError:
    """One {title, detail, code, source} item -> an error. Unknown codes follow the HTTP status (5xx is
    transient); a bulk entry has no status of its own and counts as a refusal."""
    code = str(item["code"]) if item.get("code") is not None else str(status_code)
    detail = str(item.get("detail") or item.get("title") or "error")
    fallback = TransientError if status_code is not None and status_code >= 500 else PermanentError
    kind = ERROR_CODES.get(code, fallback)
    return kind(NAME, detail, code=code, status_code=status_code, field=item.get("source"))


class MessenteClient:
    name: Final = NAME
    channels: Final = frozenset({"sms", "viber", "whatsapp", "telegram"})
    idempotent_send: Final = False
    single_path: Final = "omnimessage"  # LoopSingles: the event loop POSTs single_body here
    single_encoding: Final = "json"

    def __init__(self, client: httpx.Client, *, native_schedule: bool = False) -> None:
        self.http = client
        self.native_schedule = native_schedule

    @classmethod
    def from_settings(
        cls,
        settings: MessenteSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        native_schedule: bool = False,
    ) -> MessenteClient:
        return cls(basic_auth_client(settings, transport=transport), native_schedule=native_schedule)

    def send(self, message: OutboundMessage) -> SendResult:
        body = send_body(message, native_schedule=self.native_schedule)
        return parse_send(http.request(self.http, NAME, "POST", self.single_path, json=body))

    def single_body(self, message: OutboundMessage) -> dict[str, Any]:
        return send_body(message, native_schedule=self.native_schedule)

    def loop_target(self) -> LoopTarget:
        """What the event loop's own client sends with (Basic auth included)."""
        return http.loop_target_of(self.http, ("Authorization",))

    def read_single(
        self, status: int, content: bytes, response: Callable[[], httpx.Response], message: OutboundMessage
    ) -> SendResult:
        """An answer the event loop got, read as ``send`` reads one."""
        if status == 201:
            # The usual answer, read as parse_send reads a success; anything odd goes the whole way below.
            with contextlib.suppress(ValueError, KeyError, TypeError):
                return created_result(json.loads(content))
        return parse_send(http.checked(NAME, response()))

    def send_many(self, messages: Sequence[OutboundMessage]) -> list[SendResult | ProviderError]:
        """Send a batch in one request. Entry errors come back in place (retry or fail each one);
        a request-level failure raises for the whole batch."""
        if not messages:
            return []
        body = bulk_body(messages, native_schedule=self.native_schedule)
        response = http.request(self.http, NAME, "POST", "omnimessages", json=body)
        return parse_bulk(response, len(messages))

    def status(self, provider_message_id: str) -> DeliveryStatus:
        url = f"omnimessage/{path_segment(provider_message_id)}/status"
        return parse_status(http.request(self.http, NAME, "GET", url))

    def cancel(self, provider_message_id: str) -> bool:
        url = f"omnimessage/{path_segment(provider_message_id)}"
        return parse_cancel(http.request(self.http, NAME, "DELETE", url))

    def close(self) -> None:
        self.http.close()
