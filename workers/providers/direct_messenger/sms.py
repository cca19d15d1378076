"""Direct Messenger (messenger.ee) SMS API v2: send and the blacklist.

The base URL is per account. Sends are form-encoded with ``api_token`` in the body; the blacklist
list call uses the same token as a Bearer header. Numbers go out as digits only and come back E.164.
Its blacklist does NOT stop sends: smsq filters before sending.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Final
from zoneinfo import ZoneInfo

import httpx
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import Sms
from smsq.producers.messages.numbers import listed_number, to_e164
from smsq.workers.providers import http
from smsq.workers.providers.base import (
    BlacklistEntry,
    ChannelStatus,
    LoopTarget,
    OutboundMessage,
    SendResult,
    SentPart,
)
from smsq.workers.providers.errors import PermanentError, ProviderError, TransientError

NAME: Final = "direct_messenger"
log = logging.getLogger(__name__)

# Direct Messenger has no numeric error codes. The code smsq records is, in order: the field named
# in {message, errors:{field:[...]}} (Laravel validation, HTTP 422), the `error` text of
# {message, error}, else the HTTP status. Everything documented is a refusal of this request.
ERROR_CODES: Final[dict[str, type[ProviderError]]] = {
    "api_token": PermanentError,
    "smstext": PermanentError,
    "receiver": PermanentError,
    "sender": PermanentError,
    "conversion": PermanentError,
    "deliverytime": PermanentError,
    "dlruri": PermanentError,  # "The dlruri format is invalid."
    "dlrid": PermanentError,
    "Invalid number": PermanentError,  # {message: "Problem with validating numbers", error: ...}
    "400": PermanentError,
    "401": PermanentError,  # bad api_token (not documented; Laravel's "Unauthenticated.")
    "403": PermanentError,
    "404": PermanentError,
    "405": PermanentError,
    "422": PermanentError,
}
# Not documented: balance and throttling errors. 429 and 5xx are handled by http.request; any other
# unknown refusal is permanent (recorded with its text, never retried blindly).

# The dlruri placeholders DM fills in before its GET callback.
DLR_QUERY: Final = "id=%smsid%&dlr=%dlr%&receiver=%receiver%&time=%time%"
# %dlr% values. Not documented by DM: these are the Kannel DLR codes, which gateways of its kind
# report; an unknown value is treated as still in progress, never as a crash.
DLR_STATUSES: Final[dict[str, str | None]] = {
    "1": "delivered",  # delivered to the phone
    "2": "undeliverable",  # non-delivered to the phone
    "4": None,  # queued on the SMSC
    "8": None,  # delivered to the SMSC
    "16": "failed",  # rejected by the SMSC
}
# Sms.autoconvert (Messente's names) -> DM's conversion level.
CONVERSION: Final[dict[str, int]] = {"off": 0, "on": 1, "full": 2}
DELIVERYTIME_FORMAT: Final = "%Y-%m-%d %H:%M:%S"


def digits(phone: str) -> str:
    """DM's receiver form: country code and digits, no ``+``."""
    try:
        return to_e164(phone).removeprefix("+")
    except ValueError as exc:
        raise InvalidInput([("receiver", str(exc))]) from None


def e164_from(number: object) -> str:
    """Back to E.164; an unknown-to-phonenumbers number stays listed as ``+digits``."""
    return listed_number(number)  # the one normalisation (smsq.producers.messages.numbers)


def dlr_uri(callback_url: str) -> str:
    """The callback URL with DM's placeholders added (kept as given if it already has them)."""
    if "%smsid%" in callback_url:
        return callback_url
    return callback_url + ("&" if "?" in callback_url else "?") + DLR_QUERY


def send_form(
    message: OutboundMessage,
    *,
    api_token: str,
    sender: str | None = None,
    conversion: int | None = None,
    native_schedule: bool = False,
    timezone: ZoneInfo | None = None,
) -> dict[str, str]:
    """The form fields of POST {base}/. ``sender`` and ``conversion`` are defaults for the client."""
    sms = next((part for part in message.omnimessage.messages if isinstance(part, Sms)), None)
    if sms is None:
        raise PermanentError(NAME, "the message has no sms channel", code="no_sms", field="messages")
    form = {
        "api_token": api_token,
        "smstext": sms.text,
        "receiver": digits(message.omnimessage.to),
    }
    if sms.sender or sender:
        form["sender"] = str(sms.sender or sender)
    level = CONVERSION[sms.autoconvert] if sms.autoconvert else conversion
    if level is not None:
        form["conversion"] = str(level)
    when = message.omnimessage.time_to_send
    if native_schedule and when is not None:
        form["deliverytime"] = when.astimezone(timezone or ZoneInfo("UTC")).strftime(DELIVERYTIME_FORMAT)
    if message.callback_url:
        # dlrid is only accepted alongside dlruri.
        form["dlruri"] = dlr_uri(message.callback_url)
        form["dlrid"] = message.message_id
    return form


def is_success(data: Any) -> bool:
    # The documented success is {status: "Success"}; one example says {message: "Success"}.
    return isinstance(data, Mapping) and "Success" in (data.get("status"), data.get("message"))


def parse_send(response: httpx.Response, message: OutboundMessage, sender: str | None = None) -> SendResult:
    data = answer_json(response)
    if response.status_code < 300 and not (is_success(data) or _names_an_error(data)):
        raise TransientError(
            NAME, f"unexpected answer: {response.text[:120]!r}", code="malformed", maybe_sent=True
        )
    if response.status_code >= 300 or not is_success(data):
        raise error_from(response, data)
    if data.get("warning"):
        log.warning("direct_messenger accepted %s with a warning: %s", message.message_id, data["warning"])
    # Without dlruri DM returns no id at all; the smsq id is then the only handle.
    provider_id = str(data.get("dlr_id") or message.message_id)
    return SendResult(
        provider=NAME,
        provider_message_id=provider_id,
        parts=(SentPart(channel="sms", provider_message_id=provider_id, sender=sender),),
    )


def _names_an_error(data: Any) -> bool:
    return isinstance(data, Mapping) and any(data.get(key) for key in ("errors", "error", "message"))


def parse_dlr(params: Mapping[str, str]) -> ChannelStatus:
    """The dlruri GET callback, built with DLR_QUERY (id, dlr, receiver, time)."""
    return ChannelStatus(
        channel="sms",
        provider_message_id=params.get("id"),
        status=params.get("dlr") or None,
        timestamp=params.get("time"),
    )


def smsq_status(dlr: str | None) -> str | None:
    return DLR_STATUSES.get(dlr or "")


def error_code(status_code: int, data: Any) -> tuple[str, str, str | None]:
    """(code, detail, field) from any DM failure body."""
    if isinstance(data, Mapping):
        message = str(data.get("message") or "")
        errors = data.get("errors")
        if isinstance(errors, Mapping) and errors:
            field, problems = next(iter(errors.items()))
            texts = problems if isinstance(problems, list) else [problems]
            return str(field), "; ".join(str(text) for text in texts) or message, str(field)
        if data.get("error"):
            return str(data["error"]), f"{message}: {data['error']}" if message else str(data["error"]), None
        if message:
            return str(status_code), message, None
    return str(status_code), f"HTTP {status_code}", None


def error_from(
    response: httpx.Response,
    data: Any,
    *,
    provider: str = NAME,
    table: Mapping[str, type[ProviderError]] = ERROR_CODES,
) -> ProviderError:
    code, detail, field = error_code(response.status_code, data)
    kind = table.get(code) or table.get(str(response.status_code)) or PermanentError
    return kind(provider, detail, code=code, status_code=response.status_code, field=field)


def answer_json(response: httpx.Response, provider: str = NAME) -> Any:
    # A failure with a non-JSON body is still a failure of that status, not a parsing problem.
    if response.status_code >= 300:
        try:
            return response.json()
        except ValueError:
            return None
    return http.json_body(provider, response)


def parse_blacklist(response: httpx.Response) -> list[BlacklistEntry]:
    data = answer_json(response)
    if response.status_code != 200 or not isinstance(data, Mapping):
        raise error_from(response, data)
    try:
        return [
            BlacklistEntry(
                phone=e164_from(item["receiver"]),
                provider_id=str(item["id"]),
                created_at=item.get("created_at"),  # DM's own format, e.g. "2021-31-12 10:47:14"
            )
            for item in data.get("data") or []
        ]
    except (KeyError, TypeError) as exc:
        raise TransientError(NAME, f"unexpected blacklist body, missing {exc}", code="malformed") from None


def blacklist_ok(data: Any) -> bool:
    return isinstance(data, Mapping) and "Success" in (data.get("response"), data.get("status"))


class DirectMessengerClient:
    name: Final = NAME
    channels: Final = frozenset({"sms"})
    idempotent_send: Final = False  # dlrid labels reports; DM does not refuse a repeated one
    single_path: Final = ""  # LoopSingles: the event loop POSTs single_body to the base URL
    single_encoding: Final = "form"

    def __init__(
        self,
        client: httpx.Client,
        api_token: SecretStr,
        *,
        sender: str | None = None,
        conversion: int | None = None,
        native_schedule: bool = False,
        delivery_timezone: str = "UTC",
    ) -> None:
        if conversion is not None and conversion not in (0, 1, 2):
            raise ValueError("conversion must be 0, 1 or 2")
        self.http = client
        self.api_token = api_token
        self.sender = sender
        self.conversion = conversion
        self.native_schedule = native_schedule
        # DM does not say which zone deliverytime is in; configurable, UTC until known.
        self.timezone = ZoneInfo(delivery_timezone)

    @classmethod
    def from_settings(
        cls,
        settings: DirectMessengerSettings,
        *,
        transport: httpx.BaseTransport | None = None,
        **options: Any,
    ) -> DirectMessengerClient:
        if not settings.base_url:
            raise ValueError("direct_messenger.base_url is not set")
        headers = {"Accept": "application/json"}
        client = http.make_client(settings.base_url, settings.timeouts, headers=headers, transport=transport)
        return cls(client, settings.api_token, **options)

    def _call(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return http.request(self.http, NAME, method, url, **kwargs)

    def send(self, message: OutboundMessage) -> SendResult:
        form = self.single_body(message)
        return parse_send(self._call("POST", self.single_path, data=form), message, form.get("sender"))

    def single_body(self, message: OutboundMessage) -> dict[str, str]:
        return send_form(
            message,
            api_token=self.api_token.get_secret_value(),
            sender=self.sender,
            conversion=self.conversion,
            native_schedule=self.native_schedule,
            timezone=self.timezone,
        )

    def read_single(
        self, status: int, content: bytes, response: Callable[[], httpx.Response], message: OutboundMessage
    ) -> SendResult:
        """An answer the event loop got, read as ``send`` reads one."""
        sms = next((part for part in message.omnimessage.messages if isinstance(part, Sms)), None)
        sender = (sms.sender if sms is not None else None) or self.sender
        return parse_send(http.checked(NAME, response()), message, None if sender is None else str(sender))

    def loop_target(self) -> LoopTarget:
        """What the event loop's own client sends with (the token is in the body)."""
        return http.loop_target_of(self.http, ("Accept",))

    # BlacklistProvider
    def blacklist(self) -> list[BlacklistEntry]:
        bearer = {"Authorization": f"Bearer {self.api_token.get_secret_value()}"}
        return parse_blacklist(self._call("GET", "api/blacklist", headers=bearer))

    def blacklist_add(self, phone: str) -> bool:
        form = {"api_token": self.api_token.get_secret_value(), "receiver": digits(phone)}
        response = self._call("POST", "api/blacklist/create", data=form)
        data = answer_json(response)
        if response.status_code < 300 and blacklist_ok(data):
            return True
        code, detail, _ = error_code(response.status_code, data)
        # Not documented: how DM answers a number already listed. 409, or a validation message
        # saying so (Laravel's unique rule: "has already been taken"), counts as "already listed".
        if response.status_code == 409 or (code == "receiver" and "already" in detail.lower()):
            return False
        raise error_from(response, data)

    def blacklist_remove(self, entry: BlacklistEntry) -> bool:
        if entry.provider_id is None:
            number = entry.phone.removeprefix("+")
            ids = [e.provider_id for e in self.blacklist() if e.phone.removeprefix("+") == number]
            return any([self.delete_blacklist_entry(i) for i in ids if i is not None])
        return self.delete_blacklist_entry(entry.provider_id)

    def delete_blacklist_entry(self, entry_id: str) -> bool:
        form = {"api_token": self.api_token.get_secret_value()}
        response = self._call("POST", f"api/blacklist/delete/{entry_id}", data=form)
        data = answer_json(response)
        if response.status_code < 300 and blacklist_ok(data):
            return True
        if response.status_code == 404:
            return False
        raise error_from(response, data)

    def close(self) -> None:
        self.http.close()
