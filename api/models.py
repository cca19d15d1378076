"""What the API answers, beside the producer API's own models (``MessageResult``, ``Omnimessage``)."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from smsq.api.problems import FieldProblem
from smsq.producers.core.results import MessageResult, SmsCost
from smsq.producers.messages.models import Omnimessage


class Accepted(BaseModel):
    id: str = Field(description="the message id: GET /v1/messages/{id} reads it")
    status: Literal["queued", "scheduled"] | str
    duplicate: bool = Field(False, description="true: the Idempotency-Key was seen; nothing new queued")
    sms: SmsCost | None = Field(None, description="the SMS part's encoding, parts and characters")
    deferred_to: datetime | None = Field(
        None, description="a marketing message outside its recipient's send window: when it will go"
    )


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


class BatchItem(BaseModel):
    index: int = Field(description="the message's place in the request's list")
    id: str | None = None
    status: str = Field(description="queued or scheduled when accepted; refused otherwise")
    duplicate: bool = False
    errors: list[FieldProblem] | None = Field(None, description="why it was refused (nothing stored for it)")


class BatchAnswer(BaseModel):
    accepted: int
    refused: int
    results: list[BatchItem]


class MessageRequest(Omnimessage):
    """The body of POST /v1/messages: one omnimessage, and its class (the route takes
    ``message_class`` off and hands the rest to the producer API's own validation)."""

    message_class: Literal["transactional", "marketing"] | None = Field(
        None, description="transactional (the default) or marketing: held to the recipient's send window"
    )


class BatchRequest(BaseModel):
    """Up to SMSQ_API__BATCH_MAX omnimessages, each accepted or refused on its own (documents the body
    of POST /v1/messages/batch; the route hands each item to the producer API's own validation)."""

    model_config = ConfigDict(extra="forbid")
    messages: list[MessageRequest] = Field(min_length=1, max_length=1000)
