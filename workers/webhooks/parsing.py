"""Provider delivery-report requests -> DeliveryReport payloads. Pure functions; each refuses a
request it cannot read with InvalidInput naming the field, so nothing is queued for it.

The provider-specific reading is the provider modules' own (``messente.channel_status``,
``smsapi.parse_callback``, ``direct_messenger.parse_dlr``); this module only checks and wraps it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from smsq.config.contract import DeliveryReport
from smsq.producers.errors import InvalidInput
from smsq.workers.poison.checks import depth_over
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.providers.direct_messenger import sms as direct_messenger
from smsq.workers.providers.messente import omnichannel as messente
from smsq.workers.providers.smsapi import sms as smsapi

# SMSAPI may put several reports in one callback, each parameter a comma-separated list in step.
SMSAPI_LIST_PARAMS = ("MsgId", "status", "status_name", "idx", "donedate", "to")
MAX_REPORTS_PER_CALLBACK = 1000
MAX_FORM_FIELDS = 100


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
    channel = messente.channel_status(data)
    return [_report(message_id, "messente", channel, provider_message_id=data["omnimessage_id"])]


def form_fields(content_type: str, body: bytes) -> dict[str, str]:
    """A POSTed form's fields (SMSAPI may POST its callback as a form): URL-encoded only."""
    kind = content_type.split(";", 1)[0].strip().lower()
    if kind != "application/x-www-form-urlencoded":
        raise InvalidInput([("body", "must be a form (application/x-www-form-urlencoded) or empty")])
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput([("body", "is not UTF-8 text")]) from None
    try:
        return dict(parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_FORM_FIELDS))
    except ValueError:
        raise InvalidInput([("body", f"has more than {MAX_FORM_FIELDS} form fields")]) from None


def smsapi_reports(message_id: str, params: Mapping[str, str]) -> list[DeliveryReport]:
    """SMSAPI's notify_url callback: MsgId, status (numeric) / status_name, idx, donedate, to, ..."""
    reports = []
    for one in split_smsapi_params(params):
        if not (one.get("status") or one.get("status_name")):
            raise InvalidInput([("status", "is required")])
        channel = smsapi.parse_callback(one)
        reports.append(_report(message_id, "smsapi", channel, provider_message_id=one.get("MsgId")))
    return reports


def split_smsapi_params(params: Mapping[str, str]) -> list[dict[str, str]]:
    counts = {name: len(params[name].split(",")) for name in SMSAPI_LIST_PARAMS if params.get(name)}
    size = max(counts.values(), default=1)
    if size > MAX_REPORTS_PER_CALLBACK:
        raise InvalidInput([("MsgId", f"more than {MAX_REPORTS_PER_CALLBACK} reports in one callback")])
    uneven = sorted(name for name, count in counts.items() if count not in (1, size))
    if uneven:
        raise InvalidInput([(uneven[0], f"has a different number of comma-separated values than {size}")])
    if size == 1:
        return [dict(params)]
    split = [dict(params) for _ in range(size)]
    for name in counts:
        values = params[name].split(",")
        for index, one in enumerate(split):
            one[name] = values[index] if len(values) == size else values[0]
    return split


def direct_messenger_reports(message_id: str, params: Mapping[str, str]) -> list[DeliveryReport]:
    """Direct Messenger's dlruri GET, built with direct_messenger.DLR_QUERY: id, dlr, receiver, time."""
    if not params.get("dlr"):
        raise InvalidInput([("dlr", "is required")])
    channel = direct_messenger.parse_dlr(params)
    return [_report(message_id, "direct_messenger", channel, provider_message_id=params.get("id"))]


def _report(
    message_id: str, provider: str, channel: ChannelStatus, *, provider_message_id: str | None
) -> DeliveryReport:
    fields: dict[str, Any] = {
        "message_id": message_id,
        "provider": provider,
        "channel": channel.channel,
        "status": channel.status,
        "provider_message_id": provider_message_id,
        "part_id": channel.provider_message_id if provider == "messente" else None,
        "err": channel.err,
        "error": channel.error,
        "timestamp": channel.timestamp,
    }
    try:
        return DeliveryReport.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from None
