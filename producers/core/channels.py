"""Per-channel delivery results of a message, as polls and delivery reports left them on its record
(``ch:<channel>`` fields, written by ``smsq.workers.status.settle``)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime

from pydantic import BaseModel

from smsq.producers.core.records import CHANNELS

CHANNEL_FIELD = "ch:"


class ChannelResult(BaseModel):
    """One channel of the chain: e.g. sms `undeliverable` (UNDELIV, err 1), then viber `delivered`."""

    channel: str
    status: str | None  # smsq's reading: delivered, failed, undeliverable, ...; None while in progress
    provider_status: str | None  # the provider's own word: DELIVRD, UNDELIV, ACK, 404, ...
    err: int | None = None
    error: str | None = None
    provider_message_id: str | None = None
    provider_time: str | None = None  # when the provider says the status changed, as it wrote it
    updated_at: datetime | None = None  # when smsq learnt it
    via: str | None = None  # poll | report


def channel_results(record: Mapping[str, str]) -> list[ChannelResult]:
    """The channel results of a record, in the order of its chain (unlisted channels last)."""
    entries: dict[str, ChannelResult] = {}
    for field, value in record.items():
        if not field.startswith(CHANNEL_FIELD):
            continue
        try:
            data = json.loads(value)
        except ValueError:
            continue
        at_ms = data.get("at_ms")
        entries[field.removeprefix(CHANNEL_FIELD)] = ChannelResult(
            channel=field.removeprefix(CHANNEL_FIELD),
            status=data.get("status"),
            provider_status=data.get("provider_status"),
            err=data.get("err"),
            error=data.get("error"),
            provider_message_id=data.get("provider_message_id"),
            provider_time=data.get("provider_time"),
            updated_at=datetime.fromtimestamp(at_ms / 1000, tz=UTC) if isinstance(at_ms, int) else None,
            via=data.get("via"),
        )
    chain = [c for c in record.get(CHANNELS, "").split(",") if c]
    ordered = [entries.pop(c) for c in chain if c in entries]
    return ordered + [entries[c] for c in sorted(entries)]
