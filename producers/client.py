"""The producer API other applications call: validate, store, enqueue; read results; cancel."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from smsq.config import contract as names
from smsq.config.celery import make_celery
from smsq.config.cost_settings import CostSettings
from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.config.settings import CampaignSettings, RecoverySettings, Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.core import queries
from smsq.producers.core.connection import state_client, store_client
from smsq.producers.core.records import (
    IDEMPOTENCY_KEY,
    KEY_ID,
    MESSAGE_CLASS,
    PROVIDER_SCHEDULED,
    SCHEDULED_FOR_MS,
    SMS_CHARACTERS,
    SMS_ENCODING,
    SMS_SEGMENTS,
    STATUS,
    TEST,
    TRACEPARENT,
    WINDOW_DEFERRED,
)
from smsq.producers.core.results import MessageResult
from smsq.producers.core.store import Clock, MessageStore, to_ms
from smsq.producers.cost.caps import Charge, cap_charges
from smsq.producers.cost.prices import MICROS, country_of, load_prices
from smsq.producers.cost.pumping import pumping_charges
from smsq.producers.errors import CannotCancel, InvalidInput, MessageNotFound, PolicyRefused
from smsq.producers.messages.idempotency import checked_idempotency_key
from smsq.producers.messages.models import Omnimessage, check_segments, parse_omnimessage
from smsq.producers.messages.record import checked_message_id, record_fields
from smsq.producers.messages.segments import Segments
from smsq.producers.publisher import CeleryPublisher, Publisher
from smsq.producers.two_factor import TwoFactor
from smsq.producers.windows.check import MARKETING, TRANSACTIONAL, decide
from smsq.telemetry import tracing

# A message published straight to its lane also gets a schedule entry this far ahead, removed once
# the publish succeeds; if the producer dies in between, the release loop publishes it instead.
PUBLISH_GRACE_MS = 10_000

log = logging.getLogger(__name__)


# Messages published due now per SEND_MANY task by send_many: what the release loop hands a worker.
SEND_GROUP = 50


@dataclass(frozen=True)
class Prepared:
    """A validated message and the record to store for it (``Smsq._prepare``)."""

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


class Smsq:
    """Thread-safe once built; build one per process with ``Smsq.from_settings``."""

    def __init__(
        self,
        store: MessageStore,
        publisher: Publisher,
        *,
        schedule_horizon: timedelta = timedelta(days=90),
        schedule_at_provider: bool = False,
        cancel_timeout: float = 15.0,
        campaign_settings: CampaignSettings | None = None,
        recovery: RecoverySettings | None = None,
        limits: LimitSettings = DEFAULT_LIMITS,
        cost: CostSettings | None = None,
        sms_provider: str | None = None,
    ) -> None:
        self.store = store
        self.cost = cost or CostSettings()
        self.prices = load_prices(self.cost.prices_file)
        # Whose prices estimate an SMS: the first enabled provider of the SMS route.
        self.sms_provider = sms_provider
        self.publisher = publisher
        # Recovery limits per lane: a published message unclaimed this long is checked for a lost worker.
        self.recovery = recovery or RecoverySettings()
        self.schedule_horizon = schedule_horizon
        # True: a future time_to_send is handed to the provider at once instead of held here.
        self.schedule_at_provider = schedule_at_provider
        self.cancel_timeout = cancel_timeout
        self.campaign_settings = campaign_settings
        self.limits = limits

    @classmethod
    def from_settings(cls, settings: Settings, *, clock: Clock = time.time) -> Smsq:
        # Tracing, when on: this process's set-up, unless the application set up its own provider.
        tracing.install(settings.tracing, "producer")
        # Bounded timeouts: with Redis unreachable every call raises StoreUnavailable, never hangs.
        client = state_client(settings, bounded=True)
        store = MessageStore(
            client,
            prefix=settings.key_prefix,
            clock=clock,
            retention_seconds=int(settings.retention_days * 86400),
        )
        broker = (
            store_client(settings.effective_broker_url, settings.redis_client, decode_responses=False)
            if settings.broker_is_redis
            else None  # RabbitMQ: the publisher's own confirm-mode channel (smsq.producers.amqp_lanes)
        )
        publisher = CeleryPublisher(make_celery(settings), broker=broker, clock=clock)
        return cls(
            store,
            publisher,
            schedule_horizon=timedelta(days=settings.schedule.horizon_days),
            schedule_at_provider=settings.schedule.at_provider,
            campaign_settings=settings.campaigns,
            recovery=settings.recovery,
            limits=settings.limits,
            cost=settings.cost,
            sms_provider=next((p for p in settings.routing.sms if getattr(settings, p).enabled), None),
        )

    def send(
        self,
        message: Omnimessage | Mapping[str, Any],
        *,
        idempotency_key: str | None = None,
        key_id: str | None = None,
        test: bool = False,
        max_segments: int | None = None,
        message_class: str | None = None,
    ) -> Receipt:
        """Validate and accept one message. Raises InvalidInput (nothing stored or queued) on bad input.

        ``message_class``: ``transactional`` (the default) or ``marketing``: a marketing message
        outside the recipient's send window is deferred through the schedule to the next opening
        (``Receipt.deferred_to``).

        With ``idempotency_key``, a second call with the same key returns the first message's id and
        queues nothing. ``max_segments`` overrides SMSQ_LIMITS__TEXT__SMS_SEGMENTS for this message.
        ``key_id`` and ``test`` are the HTTP API's: the key that accepted it (only that key reads or
        cancels it there) and whether it is a test key's (the simulated provider sends it)."""
        if tracing.installed() is None:
            return self._send(message, idempotency_key, key_id, test, max_segments, message_class)
        # The producer call's span: the record keeps its traceparent (for the message's callbacks).
        with tracing.span("smsq send"):
            return self._send(message, idempotency_key, key_id, test, max_segments, message_class)

    def _send(
        self,
        message: Omnimessage | Mapping[str, Any],
        idempotency_key: str | None,
        key_id: str | None,
        test: bool,
        max_segments: int | None,
        message_class: str | None,
    ) -> Receipt:
        ready = self._prepare(message, idempotency_key, key_id, test, max_segments, message_class)
        tracing.annotate({tracing.MESSAGE_ID: ready.message_id})
        created, message_id = self.store.create(
            ready.message_id, ready.fields, idempotency_key=ready.idempotency_key, due_ms=ready.outbox_ms,
            charges=ready.charges, warn_at=self.cost.warn_at,
        )  # fmt: skip
        if not created:
            existing = self.store.get(message_id)
            return Receipt(message_id, existing[STATUS] if existing else "unknown", duplicate=True)
        if not ready.scheduled:
            self._publish(message_id, ready.lane, ready.outbox_ms)
        deferred = (
            None if ready.deferred_to is None else datetime.fromtimestamp(ready.deferred_to / 1000, UTC)
        )
        return Receipt(
            message_id, str(ready.fields[STATUS]), duplicate=False, sms=ready.sms, deferred_to=deferred
        )

    def send_many(
        self,
        messages: Sequence[Omnimessage | Mapping[str, Any]],
        *,
        idempotency_keys: Sequence[str | None] | None = None,
        key_id: str | None = None,
        test: bool = False,
        message_classes: Sequence[str | None] | None = None,
    ) -> list[Receipt | InvalidInput | PolicyRefused]:
        """``send`` for many, each on its own: a Receipt for each accepted message, the InvalidInput of
        each refused one, or the PolicyRefused of one a cap or the pumping guard refuses (nothing stored
        for either), in order. The records are stored in one round trip and
        the messages due now published to their lanes in groups (one task per ``SEND_GROUP``)."""
        keys = list(idempotency_keys or [None] * len(messages))
        classes = list(message_classes or [None] * len(messages))  # each message's, as ``send`` takes it
        answers: list[Receipt | InvalidInput | PolicyRefused] = []
        ready: list[tuple[int, Prepared]] = []
        for index, (message, idempotency_key) in enumerate(zip(messages, keys, strict=True)):
            try:
                ready.append(
                    (index, self._prepare(message, idempotency_key, key_id, test, None, classes[index]))
                )
                answers.append(Receipt("", "", duplicate=False))  # replaced below
            except (InvalidInput, PolicyRefused) as refused:
                answers.append(refused)
        stored = self.store.create_many(
            [(item.message_id, item.fields, item.idempotency_key, item.outbox_ms) for _, item in ready],
            [item.charges for _, item in ready],
            self.cost.warn_at,
        )
        due: list[Prepared] = []
        for (index, item), outcome in zip(ready, stored, strict=True):
            if isinstance(outcome, PolicyRefused):
                answers[index] = outcome
                continue
            created, message_id = outcome
            if created:
                answers[index] = Receipt(message_id, str(item.fields[STATUS]), duplicate=False, sms=item.sms)
                due += [] if item.scheduled else [item]
            else:
                existing = self.store.get(message_id)
                answers[index] = Receipt(
                    message_id, existing[STATUS] if existing else "unknown", duplicate=True
                )
        self._publish_many(due)
        return answers

    def _prepare(
        self,
        message: Omnimessage | Mapping[str, Any],
        idempotency_key: str | None,
        key_id: str | None,
        test: bool,
        max_segments: int | None,
        message_class: str | None = None,
    ) -> Prepared:
        """Validate one message and build its record; InvalidInput, with nothing stored, if it is bad."""
        limits = with_max_segments(self.limits, max_segments)
        omnimessage = parse_omnimessage(message, limits, self.cost.auto_replace)
        sms = self.sms_segments(omnimessage, limits)
        idempotency_key = checked_idempotency_key(idempotency_key, self.limits)
        now_ms = self.store.now_ms()
        due_ms = None if omnimessage.time_to_send is None else to_ms(omnimessage.time_to_send.timestamp())
        horizon_ms = now_ms + int(self.schedule_horizon.total_seconds() * 1000)
        if due_ms is not None and due_ms > horizon_ms:
            days = self.schedule_horizon.total_seconds() / 86400
            raise InvalidInput([("time_to_send", f"is more than {days:g} days ahead")])
        scheduled = due_ms is not None and due_ms > now_ms and not self.schedule_at_provider
        kind = checked_class(message_class, omnimessage.priority)
        deferred_to = self._window_opening(omnimessage, kind, now_ms if due_ms is None else due_ms)
        if deferred_to is not None:  # outside its send window: held in smsq's schedule until it opens
            due_ms, scheduled = deferred_to, True

        message_id = str(uuid.uuid4())
        fields = record_fields(message_id, omnimessage, now_ms, "scheduled" if scheduled else "queued")
        fields[MESSAGE_CLASS] = kind
        if deferred_to is not None:
            fields[SCHEDULED_FOR_MS] = deferred_to
            fields[WINDOW_DEFERRED] = "1"
        if idempotency_key:
            fields[IDEMPOTENCY_KEY] = idempotency_key
        if key_id:
            fields[KEY_ID] = key_id
        if test:
            fields[TEST] = "1"
        if sms is not None:
            fields.update(
                {SMS_ENCODING: sms.encoding, SMS_SEGMENTS: sms.segments, SMS_CHARACTERS: sms.characters}
            )
        if trace := tracing.traceparent():
            fields[TRACEPARENT] = trace
        outbox_ms = due_ms if scheduled else now_ms + PUBLISH_GRACE_MS
        assert outbox_ms is not None
        lane = names.LANE_FOR_PRIORITY[omnimessage.priority]
        charges = self.charges(omnimessage, sms, key_id=key_id, now_s=now_ms / 1000)
        return Prepared(
            message_id, fields, idempotency_key, outbox_ms, scheduled, lane, sms, charges, deferred_to
        )

    def _window_opening(self, message: Omnimessage, kind: str, at_ms: int) -> int | None:
        """When a marketing message due at ``at_ms`` may go instead (ms), or None: it may go then."""
        windows = self.cost.windows
        if kind != MARKETING or not (self.cost.enabled and windows.enabled):
            return None
        decision = decide(message.to, datetime.fromtimestamp(at_ms / 1000, UTC), windows.rules)
        if decision.allowed:
            return None
        if decision.opens_at is None:
            raise InvalidInput([("to", f"its marketing send window stays shut for 14 days ({decision.why})")])
        return to_ms(decision.opens_at.timestamp())

    def _publish_many(self, due: Sequence[Prepared]) -> None:
        """Publish stored messages in groups per lane (SEND_MANY), then turn their outbox entries into
        watches, as ``_publish`` does for one; a failed publish leaves them to the release loop."""
        if not due:
            return
        by_lane: dict[str, list[Prepared]] = {}
        for item in due:
            by_lane.setdefault(item.lane, []).append(item)
        try:
            self.publisher.publish_many(
                [
                    (
                        names.SEND_MANY_TASK,
                        names.SendManyPayload(message_ids=[i.message_id for i in group]),
                        lane,
                    )
                    for lane, items in by_lane.items()
                    for group in (
                        items[start : start + SEND_GROUP] for start in range(0, len(items), SEND_GROUP)
                    )
                ]
            )
            published_ms = self.store.now_ms()
            self.store.mark_published(
                [
                    (i.message_id, i.outbox_ms, published_ms + int(self.recovery.limit_for(i.lane) * 1000))
                    for i in due
                ],
                published_ms,
            )
        except Exception as error:  # the records and their outbox entries are already durable
            log.warning(
                "%d messages are stored; their publish failed (%s): the release loop does it", len(due), error
            )

    def charges(
        self, message: Omnimessage, sms: Segments | None, *, key_id: str | None, now_s: float
    ) -> list[Charge]:
        """The caps and pumping-guard counters accepting this message charges (none without SMS); a
        country the pumping guard does not allow raises PumpingGuard here."""
        if sms is None or not self.cost.enabled:
            return []
        price = self.prices.price(self.sms_provider, country_of(message.to)) if self.prices.priced else None
        cost_micros = round(price * sms.segments * MICROS) if price else 0
        keys = self.store.keys
        return [
            *pumping_charges(self.cost.pumping, keys, to=message.to, priority=message.priority, now_s=now_s),
            *cap_charges(
                self.cost, keys, key_id=key_id, segments=sms.segments, cost_micros=cost_micros, now_s=now_s
            ),
        ]

    def sms_segments(self, message: Omnimessage, limits: LimitSettings | None = None) -> Segments | None:
        """The SMS part's encoding and parts (None without one), refused past the parts limit (a
        message built as an Omnimessage skipped that validation)."""
        part = message.sms
        if part is None:
            return None
        segments = part.segments(self.cost.auto_replace)
        try:
            check_segments(segments, (limits or self.limits).text.sms_segments)
        except ValueError as error:
            index = message.channels.index("sms")
            raise InvalidInput([(f"messages.{index}.text", str(error))]) from None
        return segments

    def _publish(self, message_id: str, lane: str, outbox_ms: int) -> None:
        """Publish a stored message; its outbox entry becomes its watch (the recovery deadline). The
        record is stored whatever happens here: if the publish fails (Redis went away a moment ago),
        the release loop publishes it from the outbox, so the message is accepted all the same."""
        try:
            self.publisher.publish(names.SEND_TASK, names.SendPayload(message_id=message_id), lane)
            published_ms = self.store.now_ms()  # after the publish: never earlier than the task's stamp
            deadline_ms = published_ms + int(self.recovery.limit_for(lane) * 1000)
            self.store.mark_published([(message_id, outbox_ms, deadline_ms)], published_ms)
        except Exception as error:  # the record and its outbox entry are already durable
            log.warning(
                "message %s is stored; its publish failed (%s): the release loop does it", message_id, error
            )

    @cached_property
    def campaigns(self) -> Campaigns:
        """Campaigns: create (list, CSV, phonebook groups), progress, pause, resume, cancel."""
        options = self.campaign_settings or CampaignSettings()
        return Campaigns(
            self.store,
            self.publisher,
            self.blacklist,
            batch_size=options.batch_size,
            max_queued_batches=options.max_queued_batches,
            workers=options.expansion_workers,
            recovery=self.recovery,
            limits=self.limits,
            cost=self.cost,
            prices=self.prices,
            sms_provider=self.sms_provider,
        )

    @cached_property
    def two_factor(self) -> TwoFactor:
        """Two-factor PINs through Direct Messenger 2FA: send_code, verify (see smsq.producers.two_factor)."""
        return TwoFactor(self.publisher, timeout=self.cancel_timeout)

    @cached_property
    def blacklist(self) -> Blacklist:
        """The local blacklist: add, remove, check, list, import/export (smsq.producers.blacklist)."""
        return Blacklist(self.store.redis, prefix=self.store.keys.prefix, clock=self.store.clock)

    def result(self, message_id: str) -> MessageResult:
        record = self.store.get(checked_message_id(message_id))
        if record is None:
            raise MessageNotFound(message_id)
        return MessageResult.from_record(record)

    def results(self, message_ids: Sequence[str]) -> dict[str, MessageResult | None]:
        """Many at once, in one round trip; an unknown (or expired) id maps to None."""
        checked = [checked_message_id(message_id) for message_id in message_ids]
        records = self.store.get_many(checked)
        return {
            message_id: MessageResult.from_record(record) if record else None
            for message_id, record in zip(checked, records, strict=True)
        }

    def summary(self, since: datetime | str, until: datetime | str) -> queries.StatusSummary:
        """Messages created in [since, until) counted by their status now, in whole UTC hours.
        Times are aware datetimes or ISO-8601 text (no zone = UTC); a bad range raises InvalidInput."""
        return queries.summary(self.store, since, until)

    def campaign_counts(self, campaign_id: str) -> dict[str, int]:
        """A campaign's messages counted by status; CampaignNotFound when nothing is counted for it."""
        return queries.campaign_counts(self.store, campaign_id)

    def cancel(self, message_id: str) -> MessageResult:
        """Cancel a scheduled message: one smsq holds, or one a provider holds until its time_to_send
        (then the provider is asked, and the answer awaited). Raises CannotCancel, saying why, for a
        message already released or sent."""
        outcome = self.store.transition(
            checked_message_id(message_id), "cancelled", allowed_from={"scheduled"}, unschedule=True
        )
        if outcome.previous is None:
            raise MessageNotFound(message_id)
        if outcome.ok:
            return self.result(message_id)
        record = self.store.get(message_id) or {}
        if outcome.previous == "sent" and record.get(PROVIDER_SCHEDULED) == "1":
            answer = self.publisher.call(
                names.CANCEL_AT_PROVIDER_TASK,
                names.CancelAtProviderPayload(message_id=message_id),
                names.HIGH,
                self.cancel_timeout,
            )
            if answer.get("cancelled"):
                return self.result(message_id)
            raise CannotCancel(message_id, answer.get("status", "sent"), answer.get("reason") or None)
        raise CannotCancel(message_id, outcome.previous)


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
