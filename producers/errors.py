"""Every error smsq raises on purpose, under one root: ``except SmsqError`` catches them all.

SmsqError
  InvalidInput          bad input; .problems = [(field, message)]; nothing was stored, queued or sent
    MissingVariable     a template names a %variable% the caller did not give; .names
    UnsafeCallbackUrl   a callback URL is not https, or points at a refused address; .url, .reason
  SettingsError         a setting has a bad value: named, its value never shown
  MessageNotFound       no record for that message id (or it expired)
  CannotCancel          the message was already released or finished; .status says which
  CampaignNotFound      no campaign with that id (or none of its messages is counted yet)
  CampaignStateError    pause, resume or cancel asked of a campaign whose state does not allow it
  CallbackNotFound      no callback event with that id (or it expired)
  SyncNotFinished       a blacklist sync did not finish in time; .task_id reads its report later
  TwoFactorFailed       Direct Messenger 2FA refused the request or is not configured; .code says which
  UnsendableRecord      worker side: a stored record cannot become a message (corrupt, bad template)
  StoreUnavailable      Redis did not answer in time; .server, .reason (never a hang, never the password)
  PolicyRefused         a policy refuses valid input; .limit, .resets_at (UTC); nothing stored
    CapExceeded         a spend cap (parts or cost, daily or monthly, global or a key's) would be passed
    PumpingGuard        SMS-pumping guard: a country not allowed for OTP, or a number or range too fast
  BrokerUnavailable     RabbitMQ did not take or confirm a publish in time; .server, .reason
  ApiRefused            the HTTP API refused a request (key, scope, size, rate, conflict); .status
  UnknownProvider       worker side: no provider of that name is registered; .name
  ProviderError         any failure talking to a provider; .provider, .code, .detail, .status_code
    PermanentError      retrying cannot fix it (invalid number, bad sender, auth) -> failed at once
      UnknownToProvider  a status call for a message the provider does not hold (Messente 101)
    TransientError      5xx, 999, timeouts, connection errors -> retry with backoff; .maybe_sent
      RateLimited       429 -> wait (.retry_after); never counted as a failed attempt

Each class is defined once, in this module, except the provider errors (and UnknownProvider): they
are raised and caught only on the worker side, at the HTTP boundary, so they live in
``smsq.workers.providers.errors`` (producers import no worker code) under this same root.
tests/producers/test_errors.py checks that this drawing matches the classes, and that every raise in
the package raises a class of this tree.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime
from typing import Any

from pydantic import ValidationError


class SmsqError(Exception):
    """Root of every error smsq raises on purpose."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Pickled as message and attributes, not by calling __init__ again (whose arguments differ
        # per class): a Celery result, or any process boundary, hands back the very same class.
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type[SmsqError], args: tuple[Any, ...], state: dict[str, Any]) -> SmsqError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


class InvalidInput(SmsqError, ValueError):
    def __init__(self, problems: Sequence[tuple[str, str]]) -> None:
        self.problems = list(problems)
        super().__init__("; ".join(f"{field}: {message}" for field, message in self.problems))

    @classmethod
    def from_validation_error(cls, error: ValidationError, prefix: str = "") -> InvalidInput:
        return cls(list(_problems(error.errors(include_url=False, include_input=False), prefix)))

    @classmethod
    def from_error_list(cls, errors: Iterable[Mapping[str, Any]], prefix: str = "") -> InvalidInput:
        """The same from pydantic's error dicts as another library hands them on (FastAPI's)."""
        return cls(list(_problems(errors, prefix)))


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


class MissingVariable(InvalidInput):
    """The template names a variable the caller did not give."""

    def __init__(self, names: Iterable[str]) -> None:
        self.names = tuple(dict.fromkeys(names))  # in order of appearance, once each
        super().__init__([(f"variables.{name}", f"no value for %{name}%") for name in self.names])


class UnsafeCallbackUrl(InvalidInput):
    """A callback URL smsq will not call (server-side request forgery): not https, no host, or a host
    that resolves to a loopback, private, link-local, multicast or reserved address. Raised when the
    URL is set and, for the address, again when a callback worker connects (DNS rebinding)."""

    def __init__(self, url: str, reason: str) -> None:
        self.url = url
        self.reason = reason
        super().__init__([("callback_url", reason)])


class SettingsError(SmsqError):
    """A setting has a bad value. The message names the setting and never echoes its value."""


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
    def __init__(self, campaign_id: str, detail: str = "") -> None:
        self.campaign_id = campaign_id
        super().__init__(f"no campaign with id {campaign_id}" + (f" ({detail})" if detail else ""))


class CampaignStateError(SmsqError):
    """Pause, resume or cancel asked of a campaign in a state that does not allow it."""


class CallbackNotFound(SmsqError, LookupError):
    def __init__(self, event_id: str) -> None:
        self.event_id = event_id
        super().__init__(
            f"no callback event with id {event_id} (unknown, or older than SMSQ_CALLBACKS__KEEP_DAYS)"
        )


class SyncNotFinished(SmsqError):
    def __init__(self, task_id: str, timeout: float) -> None:
        self.task_id = task_id
        super().__init__(
            f"blacklist sync {task_id} did not finish within {timeout:g} s; "
            "is a worker consuming the sync queue? Read its report later with `smsq blacklist sync --report`"
        )


class TwoFactorFailed(SmsqError):
    """Direct Messenger 2FA refused the request, or is not configured (``code`` says which)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(f"two-factor request failed ({code}): {detail}")


class UnsendableRecord(SmsqError):
    """The record cannot become a message (corrupt, or its campaign template does not render)."""

    def __init__(self, code: str, detail: str) -> None:
        self.code = code
        self.detail = detail
        super().__init__(detail)


class PolicyRefused(SmsqError):
    """A policy refuses valid input (a cap, the pumping guard); nothing was stored or queued."""

    def __init__(self, message: str, *, limit: str, resets_at: datetime | None = None) -> None:
        self.limit = limit
        self.resets_at = resets_at
        super().__init__(message)


class CapExceeded(PolicyRefused):
    """Accepting this would pass a spend cap; ``resets_at`` is when its period ends."""


class PumpingGuard(PolicyRefused):
    """The SMS-pumping guard refused it: a country not allowed, or a number or range over its rate."""


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


class BrokerUnavailable(SmsqError, ConnectionError):
    """RabbitMQ (``SMSQ_BROKER_URL`` amqp://) did not accept a publish, or did not confirm it within
    ``SMSQ_AMQP__CONFIRM_TIMEOUT``. As with StoreUnavailable, the record and its outbox entry were
    already written: the release loop publishes the message once the broker is back."""

    def __init__(self, server: str, reason: str) -> None:
        self.server = server
        self.reason = reason
        super().__init__(
            f"RabbitMQ at {server} did not take the publish ({reason}); "
            "check SMSQ_BROKER_URL and that it runs"
        )


class ApiRefused(SmsqError):
    """The HTTP API refused a request for a reason of its own (no valid key: 401, a scope the key lacks:
    403, an Idempotency-Key conflict: 409 or 422, a body over the limit: 413, over the key's rate: 429).
    ``status`` is the HTTP status, ``title`` its short name, ``retry_after`` seconds when it is worth
    asking again. Raised only inside ``smsq.api``; the API answers it as problem+json."""

    def __init__(self, status: int, title: str, detail: str, *, retry_after: float | None = None) -> None:
        self.status = status
        self.title = title
        self.detail = detail
        self.retry_after = retry_after
        super().__init__(detail)
