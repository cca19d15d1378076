"""The error tree callers see. Provider failures extend it in ``smsq.workers.providers.errors``.

SmsqError
  InvalidInput        bad input: names each offending field; nothing was stored, queued or sent
  MessageNotFound     no record for that message id
  CannotCancel        the message was already released or finished; ``status`` says which
  CampaignNotFound    no counts for that campaign id
"""

from __future__ import annotations

import re
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
        # An unknown field's name is the caller's own text: always shown (whatever it holds), never
        # mistaken for one of pydantic's union-member tags.
        named = len(loc) - 1 if error.get("type") == "extra_forbidden" else len(loc)
        # Drop pydantic's union-member tags ("sms", "function-after[...]") so the path reads as fields.
        parts = [_shown(part) for index, part in enumerate(loc) if index >= named or not _is_tag(part)]
        field = ".".join([prefix, *parts] if prefix else parts) or "(message)"
        message = str(error.get("msg", "invalid"))
        yield field, message.removeprefix("Value error, ")


_PLAIN_NAME = re.compile(r"[A-Za-z0-9_]{1,64}", re.ASCII)


def _shown(part: object) -> str:
    """A path part as text: field names and indexes as they are; any other name (a caller's key with
    dots, brackets, newlines or a megabyte of text) quoted and cut, so the error stays one line."""
    text = str(part)
    if isinstance(part, int) or _PLAIN_NAME.fullmatch(text):
        return text
    return repr(text[:64] + ("..." if len(text) > 64 else ""))


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
