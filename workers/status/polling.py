"""One status-poll task: ask the provider for each message's delivery status and settle it, or
reschedule its next poll. Plain functions; the Celery task only decodes its payload and calls
``poll_messages``."""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from config.status_settings import PollingSettings
from producers.store import MessageStore, to_ms
from workers.providers import messente
from workers.providers.base import ChannelStatus, DeliveryStatus
from workers.providers.errors import PermanentError, ProviderError, RateLimited
from workers.status.schedule import PollSchedule, gave_up, next_poll_ms, poll_base_ms
from workers.status.settle import Settler

log = logging.getLogger(__name__)

RATE_TIER = "status"  # below every send lane in the provider's rate limit
DEFAULT_RATE_LIMIT_WAIT = 1.0


class StatusSource(Protocol):
    def status(self, provider_message_id: str) -> DeliveryStatus: ...


class Limiter(Protocol):
    def acquire(self, provider: str, tier: str = ..., cost: int = ...) -> float: ...

    def pause(self, provider: str, seconds: float) -> None: ...


@dataclass
class Poller:
    """Everything a poll needs, passed in (no global settings are read here)."""

    store: MessageStore
    providers: Mapping[str, object]  # provider name -> client; those with .status() can be polled
    polling: PollingSettings
    limiter: Limiter | None = None
    max_inline_wait: float = 0.5  # a token wait up to this long is slept; longer defers the rest
    sleep: Callable[[float], None] = time.sleep


@dataclass
class PollReport:
    polled: int = 0  # provider status calls answered
    settled: Counter[str] = field(default_factory=Counter)  # message status reached -> count
    rescheduled: int = 0
    deferred: int = 0  # put back unpolled: the rate limit said wait
    dropped: int = 0  # no longer `sent` (settled meanwhile, or expired): out of the schedule
    errors: int = 0


def poll_messages(message_ids: Sequence[str], poller: Poller) -> PollReport:
    store, polling = poller.store, poller.polling
    schedule = PollSchedule(store, polling)
    settler = Settler(store)
    report = PollReport()
    records = store.get_many(message_ids)
    for index, (message_id, record) in enumerate(zip(message_ids, records, strict=True)):
        if record is None or record.get("status") != "sent":
            schedule.drop(message_id)
            report.dropped += 1
            continue
        provider = record.get("provider", "")
        source = _source(poller, provider)
        base, now = poll_base_ms(record), store.now_ms()
        channels: Sequence[ChannelStatus] = ()
        if source is not None and record.get("provider_message_id"):
            wait = take_token(poller, provider)
            if wait > 0:
                _defer(schedule, message_ids[index:], store.now_ms() + to_ms(wait), report)
                break
            try:
                channels = source.status(record["provider_message_id"]).channels
                report.polled += 1
            except RateLimited as exc:
                wait = exc.retry_after if exc.retry_after is not None else DEFAULT_RATE_LIMIT_WAIT
                if poller.limiter is not None:
                    poller.limiter.pause(provider, wait)
                _defer(schedule, message_ids[index:], store.now_ms() + to_ms(wait), report)
                break
            except PermanentError as exc:
                moved = messente.is_not_found(exc) and _settle_not_found(
                    store, message_id, record, now, polling
                )
                if moved:
                    report.settled[moved] += 1
                    continue
                report.errors += 1
                log.warning("message %s: status poll refused: %s", message_id, exc)
            except ProviderError as exc:
                report.errors += 1
                log.warning("message %s: status poll failed: %s", message_id, exc)
        now = store.now_ms()
        settled = settler.settle(
            message_id, provider, channels, via="poll", gave_up=gave_up(base, now, polling)
        )
        if settled.moved_to:
            report.settled[settled.moved_to] += 1
        elif settled.status != "sent":
            schedule.drop(message_id)
            report.dropped += 1
        else:
            schedule.reschedule([message_id], next_poll_ms(base, now, polling))
            report.rescheduled += 1
    return report


def _source(poller: Poller, provider: str) -> StatusSource | None:
    if provider not in poller.polling.providers:
        return None
    client = poller.providers.get(provider)
    return client if client is not None and callable(getattr(client, "status", None)) else None  # type: ignore[return-value]


def take_token(poller: Poller, provider: str) -> float:
    """Seconds still to wait after waiting inline up to ``max_inline_wait``; 0 = go."""
    if poller.limiter is None:
        return 0.0
    waited = 0.0
    wait = poller.limiter.acquire(provider, RATE_TIER)
    while wait > 0 and waited + wait <= poller.max_inline_wait:
        poller.sleep(wait)
        waited += wait
        wait = poller.limiter.acquire(provider, RATE_TIER)
    return wait


def _defer(schedule: PollSchedule, message_ids: Sequence[str], at_ms: int, report: PollReport) -> None:
    """Put the rest of the batch back for later instead of holding a worker in a long sleep."""
    schedule.reschedule(message_ids, at_ms)
    report.deferred += len(message_ids)


def _settle_not_found(
    store: MessageStore, message_id: str, record: Mapping[str, str], now_ms: int, polling: PollingSettings
) -> str | None:
    """Messente answers 404 for an omnimessage it does not have. One it held for a later time_to_send
    and no longer has was cancelled there (DELETE). Any other stays `sent` for ``not_found_grace``
    (the provider may not know it yet), then ends `unknown`. Returns the status it moved to, if any."""
    if record.get("provider_scheduled") == "1":
        to, detail = "cancelled", "the provider no longer holds this scheduled message"
    elif now_ms - poll_base_ms(record) >= to_ms(polling.not_found_grace):
        to, detail = "unknown", "the provider does not know this message"
    else:
        return None
    fields = {"last_error_code": messente.NOT_FOUND, "last_error_detail": detail}
    return to if store.transition(message_id, to, allowed_from={"sent"}, fields=fields).ok else None
