"""The error tree callers see. Provider failures extend it in ``smsq.workers.providers.errors``.

SmsqError
  InvalidInput        bad input: names each offending field; nothing was stored, queued or sent
  MessageNotFound     no record for that message id
  CannotCancel        the message was already released or finished; ``status`` says which
  CampaignNotFound    no counts for that campaign id
  StoreUnavailable    Redis did not answer in time (names the server and the cause; never a hang)
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import ValidationError


class SmsqError(Exception):
    """Root of every error smsq raises on purpose."""


class InvalidInput(SmsqError, ValueError):
    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.problems))

    @classmethod
    def from_validation_error(cls, error: ValidationError, prefix: str = "") -> InvalidInput:
        return cls(list(_problems(error.errors(include_url=False, include_input=False), prefix)))


def _problems(errors: Iterable[Mapping[str, Any]], prefix: str) -> Iterable[tuple[str, str]]:
    for error in errors:
        loc = error.get("loc", ())
        assert isinstance(loc, tuple)
        # Drop pydantic's union-member tags ("sms", "function-after[...]") so the path reads as fields.
        parts = [str(part) for part in loc if not _is_tag(part)]
        field = ".".join([prefix, *parts] if prefix else parts) or "(message)"
        message = str(error.get("msg", "invalid"))
        yield field, message.removeprefix("Value error, ")


def _is_tag(part: object) -> bool:
    return isinstance(part, str) and ("[" in part or "(" in part)


class MessageNotFound(SmsqError, LookupError):
    def __init__(self, message_id: str) -> None:
        self.message_id = message_id
        super().__init__(f"no message with id {message_id}")


class CannotCancel(SmsqError):
    def __init__(self, message_id: str, status: str, reason: str | None = None) -> None:
        self.message_id = message_id
        self.status = status
        reason = reason or {
            "queued": "it was already released to a send queue",
            "sending": "it is being sent right now",
            "sent": "it was already sent",
        }.get(status, f"it is already {status}")
        super().__init__(f"cannot cancel message {message_id}: {reason}")


class CampaignNotFound(SmsqError, LookupError):
    def __init__(self, campaign_id: str) -> None:
        self.campaign_id = campaign_id
        super().__init__(f"no campaign with id {campaign_id} (or none of its messages is counted yet)")


class TwoFactorFailed(SmsqError):
    """Direct Messenger 2FA refused the request, or is not configured (``code`` says which)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"two-factor request failed ({code}): {detail}")


class StoreUnavailable(SmsqError, ConnectionError):
    """Redis (the state store or the broker) did not answer within the client's timeouts. Raised within
    a bounded time (``SMSQ_REDIS_CLIENT__*``), never a hang. What had been written before is whole:
    a message is stored with its outbox entry in one script, so a record whose task was not published
    is published by the release loop once Redis is back. A call that timed out may or may not have
    been applied: repeat it with the same idempotency key to be sure of one message."""

    def __init__(self, server: str, reason: str) -> None:
        self.server = server
        self.reason = reason
        super().__init__(
            f"Redis at {server} is unreachable ({reason}); check SMSQ_REDIS_URL and that it runs"
        )
