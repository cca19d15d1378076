"""One status-poll task: ask the provider for each message's delivery status and settle it, or
reschedule its next poll. Plain functions; the Celery task only decodes its payload and calls
``poll_messages``."""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

from smsq.config.status_settings import PollingSettings
from smsq.producers.core.records import (
    LAST_ERROR_CODE,
    LAST_ERROR_DETAIL,
    PROVIDER,
    PROVIDER_MESSAGE_ID,
    PROVIDER_SCHEDULED,
    STATUS,
)
from smsq.producers.core.store import MessageStore, to_ms
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.workers.limits.ratelimit import wait_for_token
from smsq.workers.providers import registry
from smsq.workers.providers.base import ChannelStatus, Provider, StatusProvider
from smsq.workers.providers.errors import ProviderError, RateLimited, UnknownToProvider
from smsq.workers.status.schedule import PollSchedule, gave_up, next_poll_ms, poll_base_ms
from smsq.workers.status.settle import Settler

log = logging.getLogger(__name__)

RATE_TIER = "status"  # below every send lane in the provider's rate limit
DEFAULT_RATE_LIMIT_WAIT = 1.0


class Limiter(Protocol):
    def acquire(self, provider: str, tier: str = ..., cost: int = ...) -> float: ...

    def pause(self, provider: str, seconds: float) -> None: ...


@dataclass
class Poller:
    """Everything a poll needs, passed in (no global settings are read here)."""

    store: MessageStore
    providers: Mapping[str, Provider]  # provider name -> client; the StatusProviders can be polled
    polling: PollingSettings
    limiter: Limiter | None = None
    max_inline_wait: float = 0.5  # a token wait up to this long is slept; longer defers the rest
    sleep: Callable[[float], None] = time.sleep
    telemetry: Telemetry = OFF  # counts what the polls settle (smsq.telemetry)


@dataclass
class PollReport:
    polled: int = 0  # provider status calls answered
    settled: Counter[str] = field(default_factory=Counter)  # message status reached -> count
    rescheduled: int = 0
    deferred: int = 0  # put back unpolled: the rate limit said wait
    dropped: int = 0  # no longer `sent` (settled meanwhile, or expired): out of the schedule
    errors: int = 0


def poll_messages(message_ids: Sequence[str], poller: Poller) -> PollReport:
    """Poll each message (``polling.concurrency`` provider calls in flight, on threads: the calls wait
    on the network, and a task must not hold its worker for batch x latency)."""
    records = poller.store.get_many(message_ids)
    run = _Run(poller)
    work = list(zip(message_ids, records, strict=True))
    threads = min(poller.polling.concurrency, len(work))
    if threads <= 1:
        for message_id, record in work:
            run.one(message_id, record)
    else:
        with ThreadPoolExecutor(max_workers=threads, thread_name_prefix="smsq-poll") as pool:
            list(pool.map(lambda item: run.one(*item), work))
    return run.report


class _Run:
    """One task's polls. Once the limiter (or a 429) says wait, the messages not yet asked about are
    put back for later instead of holding the worker in a long sleep."""

    def __init__(self, poller: Poller) -> None:
        self.poller = poller
        self.store = poller.store
        self.schedule = PollSchedule(poller.store, poller.polling)
        self.settler = Settler(poller.store, poller.telemetry)
        self.report = PollReport()
        self.held_until_ms: int | None = None
        self._lock = threading.Lock()

    def one(self, message_id: str, record: Mapping[str, str] | None) -> None:
        polling = self.poller.polling
        if record is None or record.get(STATUS) != "sent":
            self.schedule.drop(message_id)
            self._count("dropped")
            return
        if self.held_until_ms is not None:
            self._defer(message_id, self.held_until_ms)
            return
        provider = record.get(PROVIDER, "")
        source = _source(self.poller, provider)
        base = poll_base_ms(record)
        channels: Sequence[ChannelStatus] = ()
        if source is not None and record.get(PROVIDER_MESSAGE_ID):
            wait = _take_token(self.poller, provider)
            if wait > 0:
                self._defer(message_id, self._hold(wait))
                return
            try:
                channels = source.status(record[PROVIDER_MESSAGE_ID]).channels
                self._count("polled")
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RATE_LIMIT_WAIT
                if self.poller.limiter is not None:
                    self.poller.limiter.pause(provider, wait)
                self._defer(message_id, self._hold(wait))
                return
            except UnknownToProvider as exc:
                moved = _settle_not_found(self.store, message_id, record, self.store.now_ms(), polling, exc)
                if moved:
                    self._count("settled", moved)
                    return
                self._count("errors")
                log.warning("message %s: status poll refused: %s", message_id, exc)
            except ProviderError as exc:
                self._count("errors")
                log.warning("message %s: status poll failed: %s", message_id, exc)
        now = self.store.now_ms()
        settled = self.settler.settle(
            message_id, provider, channels, via="poll", gave_up=gave_up(base, now, polling)
        )
        if settled.moved_to:
            self._count("settled", settled.moved_to)
        elif settled.status != "sent":
            self.schedule.drop(message_id)
            self._count("dropped")
        else:
            self.schedule.reschedule([message_id], next_poll_ms(base, now, polling))
            self._count("rescheduled")

    def _hold(self, wait: float) -> int:
        with self._lock:
            until = self.store.now_ms() + to_ms(wait)
            self.held_until_ms = max(self.held_until_ms or 0, until)
            return self.held_until_ms

    def _defer(self, message_id: str, at_ms: int) -> None:
        self.schedule.reschedule([message_id], at_ms)
        self._count("deferred")

    def _count(self, what: str, status: str | None = None) -> None:
        with self._lock:
            if status is not None:
                self.report.settled[status] += 1
            else:
                setattr(self.report, what, getattr(self.report, what) + 1)


def _source(poller: Poller, provider: str) -> StatusProvider | None:
    if not registry.polled(provider, poller.polling):
        return None
    client = poller.providers.get(provider)
    return client if isinstance(client, StatusProvider) else None


def _take_token(poller: Poller, provider: str) -> float:
    """Seconds still to wait after waiting inline up to ``max_inline_wait``; 0 = go."""
    if poller.limiter is None:
        return 0.0
    return wait_for_token(poller.limiter, provider, RATE_TIER, poller.max_inline_wait, poller.sleep)


def _settle_not_found(
    store: MessageStore,
    message_id: str,
    record: Mapping[str, str],
    now_ms: int,
    polling: PollingSettings,
    error: UnknownToProvider,
) -> str | None:
    """The provider does not have the message (Messente's 404 for an omnimessage). One it held for a
    later time_to_send and no longer has was cancelled there (DELETE). Any other stays `sent` for
    ``not_found_grace`` (the provider may not know it yet), then ends `unknown`. Returns the status
    it moved to, if any."""
    if record.get(PROVIDER_SCHEDULED) == "1":
        to, detail = "cancelled", "the provider no longer holds this scheduled message"
    elif now_ms - poll_base_ms(record) >= to_ms(polling.not_found_grace):
        to, detail = "unknown", "the provider does not know this message"
    else:
        return None
    fields = {LAST_ERROR_CODE: error.code or "not-found", LAST_ERROR_DETAIL: detail}
    return to if store.transition(message_id, to, allowed_from={"sent"}, fields=fields).ok else None
