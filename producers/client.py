"""The producer API other applications call: validate, store, enqueue; read results; cancel."""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Any

from smsq.config import contract as names
from smsq.config.celery import make_celery
from smsq.config.cost_settings import CostSettings
from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.config.settings import CampaignSettings, RecoverySettings, Settings
from smsq.producers import batch
from smsq.producers.accept import PUBLISH_GRACE_MS, Receipt, prepare
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.core import queries
from smsq.producers.core.connection import state_client, store_client
from smsq.producers.core.records import PROVIDER_SCHEDULED, STATUS
from smsq.producers.core.results import MessageResult
from smsq.producers.core.store import Clock, MessageStore
from smsq.producers.cost.prices import load_prices
from smsq.producers.errors import CannotCancel, InvalidInput, MessageNotFound, PolicyRefused
from smsq.producers.messages.models import Omnimessage
from smsq.producers.messages.record import checked_message_id
from smsq.producers.outbox import publish_one
from smsq.producers.publisher import CeleryPublisher, Publisher
from smsq.producers.two_factor import TwoFactor
from smsq.telemetry import tracing

__all__ = ["PUBLISH_GRACE_MS", "Receipt", "Smsq"]


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
        ready = prepare(self, message, idempotency_key, key_id, test, max_segments, message_class)
        tracing.annotate({tracing.MESSAGE_ID: ready.message_id})
        created, message_id = self.store.create(
            ready.message_id, ready.fields, idempotency_key=ready.idempotency_key, due_ms=ready.outbox_ms,
            charges=ready.charges, warn_at=self.cost.warn_at,
        )  # fmt: skip
        if not created:
            existing = self.store.get(message_id)
            return Receipt(message_id, existing[STATUS] if existing else "unknown", duplicate=True)
        if not ready.scheduled:
            publish_one(self, message_id, ready.lane, ready.outbox_ms)
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
        for either), in order. Each distinct body (all but ``to``) is validated once; the records are
        stored in one round trip and the messages due now published to their lanes in groups (one task
        per ``SEND_GROUP``). See ``smsq.producers.batch``."""
        return batch.send_many(
            self, messages, idempotency_keys=idempotency_keys, key_id=key_id, test=test,
            message_classes=message_classes,
        )  # fmt: skip

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
