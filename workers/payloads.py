"""Task payloads are untrusted input (any app can publish by name): validate them like any input."""

from __future__ import annotations

import uuid
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from smsq.producers.errors import InvalidInput


class SendPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_id: uuid.UUID


class SendManyPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=1000)


class SubmitPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message: dict[str, Any]
    idempotency_key: str | None = None


P = TypeVar("P", bound=BaseModel)


def decode(model: type[P], args: tuple[Any, ...], kwargs: dict[str, Any]) -> P:
    """Validate a task's arguments: keyword arguments only, matching ``model``."""
    if args:
        raise InvalidInput([("args", "positional arguments are not accepted; pass keyword arguments")])
    try:
        return model.model_validate(kwargs)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from None


class TwoFactorSendPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str = Field(pattern=r"^\+[1-9][0-9]{6,14}$")  # E.164, as the producer normalised it
    pin_length: int | None = Field(None, ge=4, le=20)


class TwoFactorVerifyPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    session_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    pin: str = Field(pattern=r"^[0-9A-Za-z]{1,20}$")
