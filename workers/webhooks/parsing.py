"""Delivery-report requests -> DeliveryReport payloads: what every provider's reader (its folder's
``reports.py``, named by its registry entry) shares. Pure functions; a request that cannot be read is
refused with InvalidInput naming the field, so nothing is queued for it.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qsl

from pydantic import ValidationError

from smsq.config.contract import DeliveryReport
from smsq.producers.errors import InvalidInput
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.providers.entry import ReportRequest

MAX_FORM_FIELDS = 100


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


def request_fields(request: ReportRequest) -> dict[str, str]:
    """The query parameters, and the form fields of a POST with a body (SMSAPI may POST its callback)."""
    params = dict(request.query)
    if request.method == "POST" and request.body:
        params.update(form_fields(request.content_type, request.body))
    return params


def report(
    message_id: str,
    provider: str,
    channel: ChannelStatus,
    *,
    provider_message_id: str | None,
    part_id: str | None = None,
) -> DeliveryReport:
    """One channel's report as the delivery-report task takes it (InvalidInput if it cannot be)."""
    fields: dict[str, Any] = {
        "message_id": message_id,
        "provider": provider,
        "channel": channel.channel,
        "status": channel.status,
        "provider_message_id": provider_message_id,
        "part_id": part_id,
        "err": channel.err,
        "error": channel.error,
        "timestamp": channel.timestamp,
    }
    try:
        return DeliveryReport.model_validate(fields)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from None
