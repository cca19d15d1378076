"""Sending one message: claim, route, call the provider, record the outcome. Plain functions; the
Celery task only decodes its payload and calls ``send_message``."""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from smsq.config.settings import RetrySettings, Routing
from smsq.producers.core.records import (
    ATTEMPTS,
    BODY,
    CALL_PROVIDER,
    LAST_FAILED_PROVIDER,
    LEASE_TOKEN,
    PRIORITY,
    PROVIDER,
    PROVIDER_MESSAGE_ID,
    PROVIDER_PARTS,
    PROVIDER_SCHEDULED,
    RESEND_VIA,
    SCHEDULED_FOR_MS,
    error_fields,
)
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import UnsendableRecord
from smsq.producers.messages.models import Omnimessage
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.telemetry.logs import bind as bind_log
from smsq.workers.campaigns.messages import CampaignTemplates, message_from_record
from smsq.workers.limits.health import ProviderHealth
from smsq.workers.limits.ratelimit import RateLimiter
from smsq.workers.providers.base import OutboundMessage, Provider, SendResult
from smsq.workers.providers.errors import ProviderError, RateLimited, TransientError
from smsq.workers.sending.backoff import backoff_delay
from smsq.workers.sending.recording import write_outcomes
from smsq.workers.sending.routing import capable_providers, is_test, no_provider_detail, pick
from smsq.workers.sending.text_store import stored_body
from smsq.workers.status.followup import Followup

log = logging.getLogger(__name__)

# A send denied by a 429 without Retry-After waits this long (seconds) before going again.
DEFAULT_RATE_LIMIT_WAIT = 1.0
# How long every worker holds off a provider that said 429 without Retry-After. Messente sends
# none; a whole second halved the rate the limiter then delivered, while a 429 there means we were
# a few requests over a per-second window.
DEFAULT_PROVIDER_PAUSE = 0.25
# Messages waiting for an open circuit to close come back spread over this many seconds after it.
CIRCUIT_SPREAD = 1.0
# Set by every claim: a new holder has not called anyone yet (``call_provider`` is written just before
# the request leaves; see smsq.workers.sending.release.settle_expired_leases).
CLAIM_FIELDS: dict[str, str] = {CALL_PROVIDER: ""}
# The attempt-log note of a send the provider refused as a repeat of one it already accepted.
# A record whose lease expired before its request left (a slow or stalled worker): recovery may have
# handed it to another worker, so this one must not send it, and leaves the record alone.
NOT_OURS_NOTE = "its lease expired before the request left: not sent, another worker may have it"
DUPLICATE_NOTE = "the provider had already accepted this message id from an earlier attempt; not sent again"


@dataclass
class Sender:
    """Everything a send needs, passed in (no global settings are read here)."""

    store: MessageStore
    providers: Mapping[str, Provider]
    routing: Routing
    retry: RetrySettings
    lease_seconds: float
    rng: random.Random = field(default_factory=random.Random)
    is_blacklisted: Callable[[str], bool] = lambda phone: False
    blocked_among: Callable[[list[str]], set[str]] = lambda phones: set()
    limiter: RateLimiter | None = None
    health: ProviderHealth | None = None
    # A token wait up to this long is slept in the task; a longer one requeues the message.
    max_inline_wait: float = 0.5
    sleep: Callable[[float], None] = time.sleep
    # Providers were built to pass time_to_send on (settings.schedule.at_provider).
    schedule_at_provider: bool = False
    templates: CampaignTemplates | None = None
    # Delivery-report URLs and the first status poll (settings.webhooks, settings.polling).
    followup: Followup | None = None
    # Metrics of every provider answer, limiter wait and circuit (smsq.telemetry; OFF: none).
    telemetry: Telemetry = OFF


@dataclass(frozen=True)
class Outcome:
    """What happened to one send task. ``status`` is the message's status afterwards, or ``skipped``
    when the task was a redelivery (the message was not in ``queued``)."""

    status: str
    detail: str = ""
    retry_in: float | None = None


def send_message(message_id: str, sender: Sender) -> Outcome:
    store = sender.store
    token = uuid.uuid4().hex
    claim = store.transition(
        message_id,
        "sending",
        allowed_from={"queued"},
        fields=CLAIM_FIELDS | {LEASE_TOKEN: token},
        lease_until_ms=store.now_ms() + int(sender.lease_seconds * 1000),
        return_record=True,
        unschedule=True,  # its watch: claimed, so the release loop no longer looks after it
    )
    if not claim.ok or claim.record is None:
        # Anything but `queued` means another delivery of this task already handled it.
        return Outcome("skipped", f"message is {claim.previous or 'gone'}")
    record = claim.record
    attempt = int(record.get(ATTEMPTS, 0)) + 1

    def finish(to: str, fields: Mapping[str, Any] | None = None, **options: Any) -> bool:
        return store.transition(message_id, to, lease_token=token, fields=fields, **options).ok

    try:
        message = message_from_record(record, sender.templates)
    except UnsendableRecord as exc:
        finish("failed", error_fields(exc.code, exc.detail))
        return Outcome("failed", exc.detail)

    if sender.is_blacklisted(message.to):
        finish("blocked", error_fields("blacklisted", "the recipient is on the blacklist"))
        sender.telemetry.message("blocked", None, message.messages[0].channel)
        return Outcome("blocked")

    capable = capable_providers(message, sender.providers, sender.routing, test=is_test(record))
    if not capable:
        detail = no_provider_detail(message, test=is_test(record))
        finish("failed", error_fields("no-provider", detail))
        sender.telemetry.message("failed", None, message.messages[0].channel)
        return Outcome("failed", detail)
    failing = sender.health.open_circuits([p.name for p in capable]) if sender.health else set()
    provider = pick(
        capable,
        failing=failing,
        avoid=record.get(LAST_FAILED_PROVIDER) or None,
        pinned=record.get(RESEND_VIA) or None,
    )
    if provider is None:
        # Every provider for this channel has its circuit open: wait for the first to close, without
        # spending an attempt (none was made; issue 12).
        waiting = circuit_wait(sender, [p.name for p in capable])
        finish(waiting.to, **waiting.options)
        return waiting.outcome

    bind_log(provider=provider.name, attempt=attempt)  # on this task's log lines from here on
    wait = take_token(sender, provider.name, record.get(PRIORITY, "regular"))
    if wait > 0:
        # Our own global limit said wait: not a failed attempt, just later.
        finish("queued", schedule_at_ms=store.now_ms() + int(wait * 1000))
        return Outcome("queued", f"rate limit of {provider.name}", retry_in=wait)

    if not store.mark_calling([message_id], token, provider.name)[0]:
        return Outcome("skipped", NOT_OURS_NOTE)  # the lease expired meanwhile: not ours to send
    # From here on the request may have left.
    started = time.perf_counter()
    try:
        answer: SendResult | ProviderError = provider.send(
            outbound_for(sender, provider.name, message_id, message)
        )
    except ProviderError as exc:
        answer = exc
    sender.telemetry.send_seconds(provider.name, time.perf_counter() - started)
    decision = decide(message_id, record, message, provider.name, attempt, answer, sender)
    apply_side_effects(sender, provider.name, decision)
    # The answer is in: kept through a Redis outage for up to the lease, as a batch's outcomes are,
    # so an answer that came while Redis was down does not end `unknown` (issue 12).
    options = {**decision.options, "lease_token": token}
    write_outcomes(store, [(message_id, decision.to, options)], within=sender.lease_seconds)
    return decision.outcome


def not_ours() -> Decision:
    """For a message not sent because its lease was lost: a transition the lease check refuses."""
    return Decision("queued", {}, Outcome("skipped", NOT_OURS_NOTE))


@dataclass(frozen=True)
class Decision:
    """What one provider answer means for a message: the transition to make, with its options, and
    what to tell the operator. Side effects on shared state (health, rate pause) are described, not
    done, so a batch can apply them once per call."""

    to: str
    options: dict[str, Any]
    outcome: Outcome
    healthy: bool | None = None  # None: the answer says nothing about the provider (a 429)
    pause_for: float | None = None


def outbound_for(sender: Sender, provider: str, message_id: str, message: Omnimessage) -> OutboundMessage:
    callback_url = sender.followup.callback_url(provider, message_id) if sender.followup else None
    return OutboundMessage(message_id=message_id, omnimessage=message, callback_url=callback_url)


def decide(
    message_id: str,
    record: Mapping[str, str],
    message: Omnimessage,
    provider: str,
    attempt: int,
    answer: SendResult | ProviderError,
    sender: Sender,
) -> Decision:
    """What ``answer`` means for the message; every provider answer of every send path comes here,
    so this is where it is counted (smsq.telemetry)."""
    decision = _decide(message_id, record, message, provider, attempt, answer, sender)
    if sender.telemetry.enabled:
        observe_answer(sender.telemetry, provider, message, record, answer, decision, sender.store.now_ms())
    return decision


def observe_answer(
    telemetry: Telemetry,
    provider: str,
    message: Omnimessage,
    record: Mapping[str, str],
    answer: SendResult | ProviderError,
    decision: Decision,
    now_ms: int,
) -> None:
    channel = message.messages[0].channel
    if isinstance(answer, ProviderError):
        kind = (
            "rate_limited"
            if isinstance(answer, RateLimited)
            else "transient"
            if isinstance(answer, TransientError)
            else "permanent"
        )
        telemetry.provider_error(provider, kind, answer.code or "none")
    if decision.to in ("sent", "failed"):
        telemetry.message(decision.to, provider, channel)
    scheduled_for = record.get(SCHEDULED_FOR_MS)
    if decision.to == "sent" and scheduled_for:
        telemetry.schedule_lateness((now_ms - int(scheduled_for)) / 1000)


def _decide(
    message_id: str,
    record: Mapping[str, str],
    message: Omnimessage,
    provider: str,
    attempt: int,
    answer: SendResult | ProviderError,
    sender: Sender,
) -> Decision:
    now = sender.store.now_ms()
    if isinstance(answer, RateLimited):
        # Not the message's fault: requeue without spending an attempt, and slow every worker down.
        wait = answer.retry_after if answer.retry_after is not None else DEFAULT_RATE_LIMIT_WAIT
        options = {
            "fields": error_fields(answer.code, answer.detail),
            "schedule_at_ms": now + int(wait * 1000),
            "attempt": attempt_entry(attempt, provider, now, "rate_limited", answer),
        }
        pause = answer.retry_after if answer.retry_after is not None else DEFAULT_PROVIDER_PAUSE
        return Decision("queued", options, Outcome("queued", str(answer), retry_in=wait), None, pause)
    if isinstance(answer, TransientError):
        to, options, outcome = after_transient(message_id, answer, attempt, provider, sender)
        return Decision(to, options, outcome, healthy=False)
    if isinstance(answer, ProviderError):  # permanent: the provider answered; the message is at fault
        fields = {**error_fields(answer.code, answer.detail), ATTEMPTS: attempt, PROVIDER: provider}
        options = {"fields": fields, "attempt": attempt_entry(attempt, provider, now, "permanent", answer)}
        return Decision("failed", options, Outcome("failed", str(answer)), healthy=True)
    entry = attempt_entry(attempt, provider, now, "sent")
    if answer.duplicate:
        # An earlier attempt whose answer was lost (a read timeout) had gone out; nothing new was sent.
        entry.update(code="duplicate", detail=DUPLICATE_NOTE)
        log.info("message %s: %s already had it; not sent again", message_id, provider)
    held = _held_by_provider(sender, message)
    options = {
        "fields": _sent_fields(answer, attempt, record, message, held_by_provider=held),
        "attempt": entry,
        "poll_at_ms": _first_poll_ms(sender, provider, message, held),
    }
    return Decision("sent", options, Outcome("sent", answer.provider_message_id), healthy=True)


def circuit_wait(sender: Sender, providers: Sequence[str]) -> Decision:
    """Every provider that could deliver has its circuit open: back to `queued` until the first
    closes (a little after, spread so the waiting messages do not all probe it at once). No attempt
    is spent: nothing was called, and an outage longer than the attempts' backoff must not fail
    messages that were never tried."""
    names = ", ".join(providers)
    closes = sender.health.closes_in(providers) if sender.health is not None else 0.0
    wait = closes + sender.rng.uniform(0, CIRCUIT_SPREAD)
    detail = f"circuit open: every provider for this channel is failing ({names}); waiting {wait:.1f} s"
    options = {
        "fields": error_fields("circuit-open", detail),
        "schedule_at_ms": sender.store.now_ms() + int(wait * 1000),
    }
    return Decision("queued", options, Outcome("queued", detail, retry_in=wait))


def apply_side_effects(sender: Sender, provider: str, decision: Decision) -> None:
    record_outcomes(sender, provider, [decision])


def after_transient(
    message_id: str, exc: TransientError, attempt: int, provider: str, sender: Sender
) -> tuple[str, dict[str, Any], Outcome]:
    now = sender.store.now_ms()
    entry = attempt_entry(attempt, provider, now, "transient", exc)
    fields = {**error_fields(exc.code, exc.detail), ATTEMPTS: attempt, LAST_FAILED_PROVIDER: provider}
    if attempt >= sender.retry.max_attempts:
        return (
            "failed",
            {"fields": fields, "attempt": entry},
            Outcome("failed", f"gave up after {attempt} attempts: {exc}"),
        )
    delay = backoff_delay(attempt, sender.retry, sender.rng)
    log.info("message %s: attempt %d failed (%s), retry in %.1fs", message_id, attempt, exc, delay)
    options = {"fields": fields, "schedule_at_ms": now + int(delay * 1000), "attempt": entry}
    return "queued", options, Outcome("queued", str(exc), retry_in=delay)


def take_token(sender: Sender, provider: str, priority: str) -> float:
    """Seconds still to wait for a token after waiting inline up to ``max_inline_wait``; 0 = go."""
    if sender.limiter is None:
        return 0.0
    if not sender.telemetry.enabled:
        return sender.limiter.acquire_within(provider, priority, sender.max_inline_wait, sender.sleep)
    started = time.perf_counter()
    wait = sender.limiter.acquire_within(provider, priority, sender.max_inline_wait, sender.sleep)
    sender.telemetry.limiter_wait(provider, time.perf_counter() - started)
    if wait > 0:
        sender.telemetry.limiter_deferred(provider)
    return wait


def record_outcomes(sender: Sender, provider: str, decisions: Sequence[Decision]) -> None:
    """The side effects of many calls at once: one health count, and the longest pause asked for."""
    ok = sum(1 for decision in decisions if decision.healthy is True)
    errors = sum(1 for decision in decisions if decision.healthy is False)
    if sender.health is not None and sender.health.record_many(provider, ok=ok, errors=errors):
        log.warning("circuit opened for %s: too many errors; failing over", provider)
        sender.telemetry.circuit_opened(provider)
    pauses = [decision.pause_for for decision in decisions if decision.pause_for is not None]
    if pauses and sender.limiter is not None:
        sender.limiter.pause(provider, max(pauses))


def _first_poll_ms(sender: Sender, provider: str, message: Omnimessage, held: bool) -> int | None:
    """When the status poll schedule first looks at the message: counted from its time_to_send when
    the provider holds it until then."""
    if sender.followup is None:
        return None
    base = sender.store.now_ms()
    if held and message.time_to_send is not None:
        base = max(base, int(message.time_to_send.timestamp() * 1000))
    return sender.followup.first_poll_at_ms(provider, base)


def _held_by_provider(sender: Sender, message: Omnimessage) -> bool:
    due = message.time_to_send
    return sender.schedule_at_provider and due is not None and due.timestamp() * 1000 > sender.store.now_ms()


def _sent_fields(
    result: SendResult,
    attempt: int,
    record: Mapping[str, str],
    message: Omnimessage,
    *,
    held_by_provider: bool = False,
) -> dict[str, str | int]:
    parts = [{"channel": p.channel, "id": p.provider_message_id, "sender": p.sender} for p in result.parts]
    return {
        PROVIDER: result.provider,
        PROVIDER_MESSAGE_ID: result.provider_message_id,
        PROVIDER_PARTS: json.dumps(parts, separators=(",", ":")),
        ATTEMPTS: attempt,
        LEASE_TOKEN: "",
        # The provider holds it until time_to_send: cancel must ask the provider.
        PROVIDER_SCHEDULED: "1" if held_by_provider else "",
        # A campaign record has no body of its own: its text is the campaign's template.
        **({BODY: stored_body(record[BODY], message.text_store)} if BODY in record else {}),
    }


def attempt_entry(number: int, provider: str, at_ms: int, outcome: str, error: ProviderError | None = None,
                  *, maybe_sent: bool = False) -> dict[str, Any]:  # fmt: skip
    entry: dict[str, Any] = {"number": number, "provider": provider, "at_ms": at_ms, "outcome": outcome}
    if error is not None:
        entry["code"] = error.code
        entry["detail"] = error.detail[:200]
        maybe_sent = maybe_sent or (isinstance(error, TransientError) and error.maybe_sent)
    if maybe_sent:  # the provider may have it: the retry may be a second copy
        entry["maybe_sent"] = True
    return entry
