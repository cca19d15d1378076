"""SMSAPI (https://api.smsapi.com): SMS send, status and cancel through ``sms.do`` (JSON).

Request shapes and pure parse functions live here; the error and status tables and the number form in
``smsapi_codes``; the Blacklist API in ``smsapi_blacklist``, whose calls ``SmsapiClient`` inherits.
Their public names are re-exported here. Numbers go out as digits only (no ``+``) and come back as
E.164. The smsq message id is sent as ``idx`` with ``check_idx=1``: SMSAPI refuses a repeat (code 53),
which the client reports as a success with ``duplicate=True``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import httpx

from smsq.config.settings import SmsapiSettings
from smsq.producers.messages.models import Sms
from smsq.workers.providers import http
from smsq.workers.providers.base import (
    ChannelStatus,
    DeliveryStatus,
    LoopTarget,
    OutboundMessage,
    SendResult,
    SentPart,
)
from smsq.workers.providers.errors import PermanentError, TransientError
from smsq.workers.providers.smsapi.blacklist import (
    BlacklistPage,
    SmsapiBlacklistApi,
    expire_at_value,
    is_duplicate,
    parse_blacklist_page,
    parse_entry,
)
from smsq.workers.providers.smsapi.codes import (
    ALREADY_SENT,
    ERROR_CODES,
    MAYBE_SENT,
    NAME,
    RETRY_AFTER,
    STATUS_CODES,
    STATUSES,
    digits,
    e164_from,
    error_from,
    error_from_body,
    smsq_status,
)

__all__ = [
    "ALREADY_SENT",
    "ERROR_CODES",
    "MAYBE_SENT",
    "NAME",
    "RETRY_AFTER",
    "STATUSES",
    "STATUS_CODES",
    "BlacklistPage",
    "SmsapiClient",
    "digits",
    "e164_from",
    "error_from",
    "error_from_body",
    "expire_at_value",
    "is_duplicate",
    "parse_blacklist_page",
    "parse_callback",
    "parse_cancel",
    "parse_entry",
    "parse_send",
    "parse_status",
    "send_body",
    "sms_part",
    "smsq_status",
]


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
            return SendResult(provider=NAME, provider_message_id=message.message_id, duplicate=True)
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


def _sms_do_body(response: httpx.Response) -> Any:
    # sms.do answers errors inside a 200; any other status is an HTTP-level failure (401 and such).
    if response.status_code not in (200, 201):
        raise error_from(response)
    return http.json_body(NAME, response)


class SmsapiClient(SmsapiBlacklistApi):
    """sms.do (send, cancel, status) here; the Blacklist API calls come from SmsapiBlacklistApi."""

    name: Final = NAME
    channels: Final = frozenset({"sms"})
    idempotent_send: Final = True  # idx + check_idx=1: SMSAPI refuses a repeat of the same smsq id
    single_path: Final = "sms.do"  # LoopSingles: the event loop POSTs single_body here
    single_encoding: Final = "json"

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

    # sms.do
    def send(self, message: OutboundMessage) -> SendResult:
        body = self.single_body(message)
        return parse_send(self._call("POST", self.single_path, json=body), message, body.get("from"))

    def single_body(self, message: OutboundMessage) -> dict[str, Any]:
        return send_body(
            message,
            sender=self.sender,
            fast_for_high=self.fast_for_high,
            native_schedule=self.native_schedule,
        )

    def read_single(
        self, status: int, content: bytes, response: Callable[[], httpx.Response], message: OutboundMessage
    ) -> SendResult:
        """An answer the event loop got, read as ``send`` reads one."""
        return parse_send(http.checked(NAME, response()), message, sms_part(message).sender or self.sender)

    def loop_target(self) -> LoopTarget:
        """What the event loop's own client sends with (the Bearer token included)."""
        return http.loop_target_of(self.http, ("Authorization", "Accept"))

    def cancel(self, provider_message_id: str) -> bool:
        body = {"sch_del": provider_message_id, "format": "json"}
        return parse_cancel(self._call("POST", "sms.do", json=body))

    def status(self, provider_message_id: str) -> DeliveryStatus:
        body = {"status": provider_message_id, "format": "json"}
        return parse_status(self._call("POST", "sms.do", json=body), provider_message_id)

    def close(self) -> None:
        self.http.close()
