"""The record a new single message is stored as (fields: ``smsq.producers.core.records``), and the
check of a message id a caller hands in."""

from __future__ import annotations

import uuid

from smsq.producers.core.records import (
    ATTEMPTS,
    BODY,
    CHANNELS,
    CREATED_MS,
    ID,
    PRIORITY,
    QUEUED_MS,
    SCHEDULED_FOR_MS,
    STATUS,
    TO,
    UPDATED_MS,
)
from smsq.producers.core.store import to_ms
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import Omnimessage


def record_fields(message_id: str, message: Omnimessage, now_ms: int, status: str) -> dict[str, str | int]:
    fields: dict[str, str | int] = {
        ID: message_id,
        STATUS: status,
        TO: message.to,
        PRIORITY: message.priority,
        CHANNELS: ",".join(message.channels),
        BODY: message.model_dump_json(exclude_none=True),
        CREATED_MS: now_ms,
        UPDATED_MS: now_ms,
        ATTEMPTS: 0,
    }
    if message.time_to_send is not None:
        fields[SCHEDULED_FOR_MS] = to_ms(message.time_to_send.timestamp())
    if status == "queued":
        fields[QUEUED_MS] = now_ms
    return fields


def checked_message_id(message_id: str) -> str:
    try:
        return str(uuid.UUID(message_id))
    except (ValueError, TypeError, AttributeError):
        raise InvalidInput([("message_id", f"{message_id!r} is not a message id (a UUID)")]) from None
