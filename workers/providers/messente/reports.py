"""Messente's delivery reports: the JSON POST to dlr_url, and its X-Messente-Signature."""

from __future__ import annotations

import hashlib
import hmac
import json

from smsq.config.contract import DeliveryReport
from smsq.config.status_settings import WebhookSettings
from smsq.producers.errors import InvalidInput
from smsq.workers.poison.checks import depth_over
from smsq.workers.providers.entry import ReportReader, ReportRequest
from smsq.workers.providers.messente.omnichannel import NAME, channel_status
from smsq.workers.webhooks.parsing import report

SIGNATURE_HEADER = "x-messente-signature"


def messente_signature(key: str, body: bytes) -> str:
    """Messente documents X-Messente-Signature as HMAC_SHA256(shared secret, HTTP request body), hex."""
    return hmac.new(key.encode(), body, hashlib.sha256).hexdigest()


def signed(webhooks: WebhookSettings, request: ReportRequest) -> bool:
    """True without a key configured (the header is not checked), else the header must match."""
    if webhooks.messente_signature_key is None:
        return True
    key = webhooks.messente_signature_key.get_secret_value()
    if not key:
        return True
    given = request.headers.get(SIGNATURE_HEADER, "").strip().lower()
    # Bytes: a non-ASCII header (latin-1 decoded by the server) would make compare_digest raise.
    expected = messente_signature(key, request.body).encode()
    return bool(given) and hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected)


def read(message_id: str, request: ReportRequest) -> list[DeliveryReport]:
    return messente_reports(message_id, request.body, request.limits.json_depth)


def messente_reports(message_id: str, body: bytes, max_depth: int = 32) -> list[DeliveryReport]:
    """Messente's JSON POST: {status, sender, err, message_id, to, channel, error, omnimessage_id,
    timestamp, price_info?}."""
    try:
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise InvalidInput([("body", "is not JSON")]) from None
    except RecursionError:  # ten thousand "[": deeper than Python's JSON reader follows
        raise InvalidInput([("body", "is JSON nested too deeply")]) from None
    if depth_over(data, max_depth):
        raise InvalidInput([("body", f"is JSON nested deeper than {max_depth} (SMSQ_LIMITS__JSON_DEPTH)")])
    if not isinstance(data, dict):
        raise InvalidInput([("body", "must be a JSON object")])
    if not isinstance(data.get("omnimessage_id"), str) or not data["omnimessage_id"]:
        raise InvalidInput([("omnimessage_id", "is required")])
    if not isinstance(data.get("channel"), str) or not data["channel"]:
        raise InvalidInput([("channel", "is required")])
    if "status" not in data:
        raise InvalidInput([("status", "is required (null while in progress)")])
    if data["status"] is not None and not isinstance(data["status"], str):
        raise InvalidInput([("status", "must be a string or null")])
    if data.get("err") is not None and (isinstance(data["err"], bool) or not isinstance(data["err"], int)):
        raise InvalidInput([("err", "must be an integer or null")])
    channel = channel_status(data)
    return [
        report(
            message_id,
            NAME,
            channel,
            provider_message_id=data["omnimessage_id"],
            part_id=channel.provider_message_id,
        )
    ]


READER = ReportReader(method="POST", read=read, authentic=signed, names_send=True)
