"""What callers read back: a typed view of a message's record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from smsq.producers.core.channels import ChannelResult, channel_results


class ErrorInfo(BaseModel):
    code: str | None
    detail: str


class Attempt(BaseModel):
    number: int
    provider: str
    at: datetime
    outcome: str  # sent | transient | permanent | rate_limited
    code: str | None = None
    detail: str | None = None


class MessageResult(BaseModel):
    id: str
    status: str
    to: str
    priority: str
    channels: list[str]
    provider: str | None = None
    provider_message_id: str | None = None
    attempts: int = 0
    last_error: ErrorInfo | None = None
    attempt_log: list[Attempt] = []
    campaign_id: str | None = None
    created_at: datetime
    scheduled_for: datetime | None = None
    queued_at: datetime | None = None
    sent_at: datetime | None = None
    final_at: datetime | None = None
    updated_at: datetime | None = None
    # Each channel of the chain as the provider reported it (polls and delivery reports).
    channel_results: list[ChannelResult] = []

    @classmethod
    def from_record(cls, record: dict[str, str]) -> MessageResult:
        error = None
        if record.get("last_error_detail"):
            error = ErrorInfo(code=record.get("last_error_code") or None, detail=record["last_error_detail"])
        log = record.get("attempt_log")
        return cls(
            id=record["id"],
            status=record["status"],
            to=record["to"],
            priority=record["priority"],
            channels=record.get("channels", "").split(","),
            provider=record.get("provider") or None,
            provider_message_id=record.get("provider_message_id") or None,
            attempts=int(record.get("attempts", 0)),
            last_error=error,
            attempt_log=[_attempt(entry) for entry in json.loads(f"[{log}]")] if log else [],
            campaign_id=record.get("campaign_id") or None,
            created_at=_time(record["created_ms"]) or datetime.now(UTC),
            scheduled_for=_time(record.get("scheduled_for_ms")),
            queued_at=_time(record.get("queued_ms")),
            sent_at=_time(record.get("sent_ms")),
            final_at=_time(record.get("final_ms")),
            updated_at=_time(record.get("updated_ms")),
            channel_results=channel_results(record),
        )


def _attempt(entry: dict[str, Any]) -> Attempt:
    return Attempt(**{**entry, "at": _time(entry["at_ms"])})


def _time(ms: str | int | None) -> datetime | None:
    if ms in (None, ""):
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
