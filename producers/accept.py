"""Accepting one message: validate it, decide when it goes (its time_to_send, its send window) and
build the record and the charges (caps, pumping guard) storing it takes. ``Smsq.send`` stores one
such message; ``smsq.producers.batch`` builds many the same way, validating each body shape once.

The functions read the settings from the ``Smsq`` they are given at each call (tests and the API
replace ``smsq.cost`` on a live client)."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from smsq.config import contract as names
from smsq.config.limits import LimitSettings
from smsq.producers.core.records import (
    IDEMPOTENCY_KEY,
    KEY_ID,
    MESSAGE_CLASS,
    SCHEDULED_FOR_MS,
    SMS_CHARACTERS,
    SMS_ENCODING,
    SMS_SEGMENTS,
    TEST,
    TRACEPARENT,
    WINDOW_DEFERRED,
)
from smsq.producers.core.store import to_ms
from smsq.producers.cost.caps import Charge, cap_charges
from smsq.producers.cost.prices import MICROS, country_of
from smsq.producers.cost.pumping import pumping_charges
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.idempotency import checked_idempotency_key
from smsq.producers.messages.models import Omnimessage, check_segments, parse_omnimessage
from smsq.producers.messages.record import record_fields
from smsq.producers.messages.segments import Segments
from smsq.producers.windows.check import MARKETING, TRANSACTIONAL, decide
from smsq.telemetry import tracing

if TYPE_CHECKING:
    from smsq.producers.client import Smsq

# A message published straight to its lane also gets a schedule entry this far ahead, removed once
# the publish succeeds; if the producer dies in between, the release loop publishes it instead.
PUBLISH_GRACE_MS = 10_000


@dataclass(frozen=True)
class Prepared:
    """A validated message and the record to store for it (``prepare``)."""

    message_id: str
    fields: dict[str, str | int]
    idempotency_key: str | None
    outbox_ms: int
    scheduled: bool
    lane: str
    sms: Segments | None
    charges: list[Charge] = field(default_factory=list)  # caps and pumping-guard counters it charges
    deferred_to: int | None = None  # ms: a marketing message held until its send window opens


@dataclass(frozen=True)
class Receipt:
    message_id: str
    status: str  # scheduled or queued
    duplicate: bool  # True: the idempotency key was seen before; nothing new was queued
    # The SMS part's encoding, parts and characters (None: no SMS in the chain, or a duplicate).
    sms: Segments | None = None
    # A marketing message outside its recipient's send window: when it will go (UTC), else None.
    deferred_to: datetime | None = None


def prepare(
    smsq: Smsq,
    message: Omnimessage | Mapping[str, Any],
    idempotency_key: str | None,
    key_id: str | None,
    test: bool,
    max_segments: int | None,
    message_class: str | None = None,
) -> Prepared:
    """Validate one message and build its record; InvalidInput, with nothing stored, if it is bad."""
    limits = with_max_segments(smsq.limits, max_segments)
    omnimessage = parse_omnimessage(message, limits, smsq.cost.auto_replace)
    sms = sms_segments(smsq, omnimessage, limits)
    idempotency_key = checked_idempotency_key(idempotency_key, smsq.limits)
    now_ms = smsq.store.now_ms()
    due_ms, scheduled = when_due(smsq, omnimessage, now_ms)
    kind = checked_class(message_class, omnimessage.priority)
    deferred_to = window_opening(smsq, omnimessage.to, kind, now_ms if due_ms is None else due_ms)
    if deferred_to is not None:  # outside its send window: held in smsq's schedule until it opens
        due_ms, scheduled = deferred_to, True

    message_id = str(uuid.uuid4())
    fields = record_fields(message_id, omnimessage, now_ms, "scheduled" if scheduled else "queued")
    fields.update(shared_fields(kind, key_id, test, sms))
    if deferred_to is not None:
        fields[SCHEDULED_FOR_MS] = deferred_to
        fields[WINDOW_DEFERRED] = "1"
    if idempotency_key:
        fields[IDEMPOTENCY_KEY] = idempotency_key
    outbox_ms = due_ms if scheduled and due_ms is not None else now_ms + PUBLISH_GRACE_MS
    lane = names.LANE_FOR_PRIORITY[omnimessage.priority]
    found = charges(smsq, omnimessage.to, omnimessage.priority, sms, key_id=key_id, now_s=now_ms / 1000)
    return Prepared(message_id, fields, idempotency_key, outbox_ms, scheduled, lane, sms, found, deferred_to)


def shared_fields(kind: str, key_id: str | None, test: bool, sms: Segments | None) -> dict[str, str | int]:
    """The record fields that come from the message's class, the accepting key and its SMS part."""
    fields: dict[str, str | int] = {MESSAGE_CLASS: kind}
    if key_id:
        fields[KEY_ID] = key_id
    if test:
        fields[TEST] = "1"
    if sms is not None:
        fields.update(
            {SMS_ENCODING: sms.encoding, SMS_SEGMENTS: sms.segments, SMS_CHARACTERS: sms.characters}
        )
    if trace := tracing.traceparent():  # the trace it was accepted in, for its callbacks
        fields[TRACEPARENT] = trace
    return fields


def when_due(smsq: Smsq, message: Omnimessage, now_ms: int) -> tuple[int | None, bool]:
    """(its time_to_send in ms or None, whether smsq holds it in its schedule); InvalidInput past the
    schedule's horizon."""
    due_ms = None if message.time_to_send is None else to_ms(message.time_to_send.timestamp())
    horizon_ms = now_ms + int(smsq.schedule_horizon.total_seconds() * 1000)
    if due_ms is not None and due_ms > horizon_ms:
        days = smsq.schedule_horizon.total_seconds() / 86400
        raise InvalidInput([("time_to_send", f"is more than {days:g} days ahead")])
    return due_ms, due_ms is not None and due_ms > now_ms and not smsq.schedule_at_provider


def window_opening(smsq: Smsq, to: str, kind: str, at_ms: int) -> int | None:
    """When a marketing message due at ``at_ms`` may go instead (ms), or None: it may go then."""
    windows = smsq.cost.windows
    if kind != MARKETING or not (smsq.cost.enabled and windows.enabled):
        return None
    decision = decide(to, datetime.fromtimestamp(at_ms / 1000, UTC), windows.rules)
    if decision.allowed:
        return None
    if decision.opens_at is None:
        raise InvalidInput([("to", f"its marketing send window stays shut for 14 days ({decision.why})")])
    return to_ms(decision.opens_at.timestamp())


def charges(
    smsq: Smsq, to: str, priority: str, sms: Segments | None, *, key_id: str | None, now_s: float
) -> list[Charge]:
    """The caps and pumping-guard counters accepting this message charges (none without SMS); a
    country the pumping guard does not allow raises PumpingGuard here."""
    cost = smsq.cost
    if sms is None or not cost.enabled:
        return []
    price = smsq.prices.price(smsq.sms_provider, country_of(to)) if smsq.prices.priced else None
    cost_micros = round(price * sms.segments * MICROS) if price else 0
    keys = smsq.store.keys
    return [
        *pumping_charges(cost.pumping, keys, to=to, priority=priority, now_s=now_s),
        *cap_charges(cost, keys, key_id=key_id, segments=sms.segments, cost_micros=cost_micros, now_s=now_s),
    ]


def sms_segments(smsq: Smsq, message: Omnimessage, limits: LimitSettings | None = None) -> Segments | None:
    """The SMS part's encoding and parts (None without one), refused past the parts limit (a
    message built as an Omnimessage skipped that validation)."""
    part = message.sms
    if part is None:
        return None
    segments = part.segments(smsq.cost.auto_replace)
    try:
        check_segments(segments, (limits or smsq.limits).text.sms_segments)
    except ValueError as error:
        index = message.channels.index("sms")
        raise InvalidInput([(f"messages.{index}.text", str(error))]) from None
    return segments


def checked_class(message_class: str | None, priority: str) -> str:
    """The message's class: given, else transactional (a single message; campaigns are marketing)."""
    if message_class is None:
        return TRANSACTIONAL
    if message_class not in (MARKETING, TRANSACTIONAL):
        raise InvalidInput(
            [("message_class", f"must be {TRANSACTIONAL} or {MARKETING}, not {message_class!r}")]
        )
    return message_class


def with_max_segments(limits: LimitSettings, max_segments: int | None) -> LimitSettings:
    """``limits`` with one message's own limit on SMS parts (1-255: a UDH counts at most 255)."""
    if max_segments is None:
        return limits
    if isinstance(max_segments, bool) or not isinstance(max_segments, int) or not 1 <= max_segments <= 255:
        raise InvalidInput([("max_segments", f"must be a whole number 1-255, not {max_segments!r}")])
    text = limits.text.model_copy(update={"sms_segments": max_segments})
    return limits.model_copy(update={"text": text})
