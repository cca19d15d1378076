"""What callers read back: a typed view of a message's record."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel

from smsq.producers.core.channels import ChannelResult, channel_results
from smsq.producers.core.records import (
    ATTEMPT_LOG,
    ATTEMPTS,
    CAMPAIGN_ID,
    CHANNELS,
    CREATED_MS,
    FINAL_MS,
    ID,
    KEY_ID,
    LAST_ERROR_CODE,
    LAST_ERROR_DETAIL,
    PRIORITY,
    PROVIDER,
    PROVIDER_MESSAGE_ID,
    QUEUED_MS,
    SCHEDULED_FOR_MS,
    SENT_MS,
    SMS_CHARACTERS,
    SMS_ENCODING,
    SMS_SEGMENTS,
    STATUS,
    TEST,
    TO,
    UPDATED_MS,
)


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


class SmsCost(BaseModel):
    """The SMS part's encoding and parts, as counted at acceptance."""

    encoding: str
    segments: int
    characters: int


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
    sms: SmsCost | None = None  # single messages with an SMS part
    key_id: str | None = None  # the HTTP API key that accepted it (None: the Python producer API)
    test: bool = False  # accepted by a test key: the simulated provider sends it

    @classmethod
    def from_record(cls, record: dict[str, str]) -> MessageResult:
        error = None
        if record.get(LAST_ERROR_DETAIL):
            error = ErrorInfo(code=record.get(LAST_ERROR_CODE) or None, detail=record[LAST_ERROR_DETAIL])
        log = record.get(ATTEMPT_LOG)
        return cls(
            id=record[ID],
            status=record[STATUS],
            to=record[TO],
            priority=record[PRIORITY],
            channels=record.get(CHANNELS, "").split(","),
            provider=record.get(PROVIDER) or None,
            provider_message_id=record.get(PROVIDER_MESSAGE_ID) or None,
            attempts=int(record.get(ATTEMPTS, 0)),
            last_error=error,
            attempt_log=[_attempt(entry) for entry in json.loads(f"[{log}]")] if log else [],
            campaign_id=record.get(CAMPAIGN_ID) or None,
            created_at=_time(record[CREATED_MS]) or datetime.now(UTC),
            scheduled_for=_time(record.get(SCHEDULED_FOR_MS)),
            queued_at=_time(record.get(QUEUED_MS)),
            sent_at=_time(record.get(SENT_MS)),
            final_at=_time(record.get(FINAL_MS)),
            updated_at=_time(record.get(UPDATED_MS)),
            channel_results=channel_results(record),
            sms=_sms_cost(record),
            key_id=record.get(KEY_ID) or None,
            test=record.get(TEST) == "1",
        )


def _sms_cost(record: dict[str, str]) -> SmsCost | None:
    if not record.get(SMS_SEGMENTS):
        return None
    return SmsCost(
        encoding=record.get(SMS_ENCODING, ""),
        segments=int(record[SMS_SEGMENTS]),
        characters=int(record.get(SMS_CHARACTERS) or 0),
    )


def _attempt(entry: dict[str, Any]) -> Attempt:
    return Attempt(**{**entry, "at": _time(entry["at_ms"])})


def _time(ms: str | int | None) -> datetime | None:
    if ms in (None, ""):
        return None
    return datetime.fromtimestamp(int(ms) / 1000, tz=UTC)
