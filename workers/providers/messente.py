"""Messente Omnichannel API (https://api.messente.com/v1): send. Request shapes, the error table and
pure parse functions live here; the HTTP call goes through ``workers.providers.http``."""

from __future__ import annotations

from typing import Any, Final

import httpx

from config.settings import MessenteSettings
from workers.providers import http
from workers.providers.base import OutboundMessage, SendResult, SentPart
from workers.providers.errors import PermanentError, ProviderError, TransientError

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


def send_body(message: OutboundMessage, *, native_schedule: bool = False) -> dict[str, Any]:
    """The POST /omnimessage body. smsq holds scheduled messages itself by default, so time_to_send is
    passed on only when the provider is asked to schedule natively."""
    body = message.omnimessage.wire()
    if not native_schedule:
        body.pop("time_to_send", None)
    if message.callback_url:
        body["dlr_url"] = message.callback_url
    return body


def parse_send(response: httpx.Response) -> SendResult:
    if response.status_code != 201:
        raise error_from(response)
    data = http.json_body(NAME, response)
    try:
        parts = tuple(
            SentPart(
                channel=part["channel"], provider_message_id=part["message_id"], sender=part.get("sender")
            )
            for part in data["messages"]
        )
        return SendResult(provider=NAME, provider_message_id=data["omnimessage_id"], parts=parts)
    except (KeyError, TypeError) as exc:
        raise TransientError(
            NAME, f"unexpected 201 body, missing {exc}", code="malformed", maybe_sent=True
        ) from None


def error_from(response: httpx.Response) -> ProviderError:
    """Translate an error answer ({errors:[{title, detail, code, source}]}) into the error tree."""
    try:
        first = response.json()["errors"][0]
        code, detail, source = (
            str(first.get("code")),
            str(first.get("detail") or first.get("title")),
            first.get("source"),
        )
    except (ValueError, KeyError, IndexError, TypeError, AttributeError):
        code, detail, source = str(response.status_code), response.text[:200] or response.reason_phrase, None
    kind = ERROR_CODES.get(code, TransientError if response.status_code >= 500 else PermanentError)
    return kind(NAME, detail, code=code, status_code=response.status_code, field=source)


class MessenteClient:
    name: Final = NAME
    channels: Final = frozenset({"sms", "viber", "whatsapp", "telegram"})
    idempotent_send: Final = False

    def __init__(self, client: httpx.Client, *, native_schedule: bool = False) -> None:
        self.http = client
        self.native_schedule = native_schedule

    @classmethod
    def from_settings(
        cls, settings: MessenteSettings, *, transport: httpx.BaseTransport | None = None
    ) -> MessenteClient:
        auth = (settings.username.get_secret_value(), settings.password.get_secret_value())
        return cls(http.make_client(settings.base_url, settings.timeouts, auth=auth, transport=transport))

    def send(self, message: OutboundMessage) -> SendResult:
        body = send_body(message, native_schedule=self.native_schedule)
        return parse_send(http.request(self.http, NAME, "POST", "omnimessage", json=body))

    def close(self) -> None:
        self.http.close()
