"""What the API answers, beside the producer API's own models (``MessageResult``, ``Omnimessage``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from smsq.producers.core.results import MessageResult, SmsCost


class Accepted(BaseModel):
    id: str = Field(description="the message id: GET /v1/messages/{id} reads it")
    status: Literal["queued", "scheduled"] | str
    duplicate: bool = Field(False, description="true: the Idempotency-Key was seen; nothing new queued")
    sms: SmsCost | None = Field(None, description="the SMS part's encoding, parts and characters")


class MessageList(BaseModel):
    messages: list[MessageResult]
    not_found: list[str] = Field(description="ids with no message of this key (unknown, expired, another's)")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    ready: bool
    redis: Literal["ok", "unreachable"]
    lanes: dict[str, list[str]] = Field(description="lane -> the worker nodes consuming it")
    missing: list[str] = Field(description="lanes no worker consumes right now")
