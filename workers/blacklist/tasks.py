"""Celery tasks of the blacklist sync: thin. Decoded by ``smsq.workers.tasks``; they call
``smsq.workers.blacklist.sync``.

``smsq.blacklist_sync`` keeps its result (the run's report) in the result backend (it is one of the
contract's RESULT_TASKS). ``smsq.blacklist_sync_retry`` is fired by beat and only queues a sync for
the providers whose retry after a failure is due, so retries never use Celery countdowns (kombu#337)."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import httpx
import redis
from celery import Celery

from smsq.config import contract as names
from smsq.config.contract import BlacklistSyncPayload, NoPayload
from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.blacklist.sync import SyncReport
from smsq.producers.core.store import Clock
from smsq.producers.errors import InvalidInput
from smsq.producers.publisher import Publisher
from smsq.workers.blacklist.records import SyncRecords
from smsq.workers.blacklist.sync import SyncOptions, run_sync
from smsq.workers.context import WorkerContext, build_limiter
from smsq.workers.providers import registry
from smsq.workers.providers.base import BlacklistProvider
from smsq.workers.tasks import smsq_task

log = logging.getLogger(__name__)


@contextlib.contextmanager
def blacklist_providers(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> Iterator[dict[str, BlacklistProvider]]:
    """Blacklist clients of every enabled provider, for one run. Their own connection pools: a run
    holds many calls in flight and must not crowd the send path's connections."""
    clients = registry.build_blacklist_clients(settings, transport=transport)
    try:
        yield dict(clients)
    finally:
        registry.close_all(clients.values())


def sync_blacklists(
    settings: Settings,
    client: redis.Redis,
    options: SyncOptions,
    *,
    transport: httpx.BaseTransport | None = None,
) -> SyncReport:
    blacklist = Blacklist(client, prefix=settings.key_prefix)
    with blacklist_providers(settings, transport=transport) as providers:
        return run_sync(
            blacklist, providers, settings.blacklist, options, limiter=build_limiter(settings, client)
        )


def register_blacklist_tasks(app: Celery) -> None:
    def invalid_report(error: InvalidInput, task_id: str) -> dict[str, Any]:
        return SyncReport(task_id=task_id, status="invalid", detail=str(error)).model_dump(mode="json")

    @smsq_task(app, names.BLACKLIST_SYNC_TASK, invalid=invalid_report, task_id=True)
    def blacklist_sync(context: WorkerContext, payload: BlacklistSyncPayload, task_id: str) -> dict[str, Any]:
        options = SyncOptions(
            providers=list(payload.providers) if payload.providers is not None else None,
            dry_run=payload.dry_run,
            force=payload.force,
            trigger=payload.trigger,
            task_id=task_id,
        )
        return sync_blacklists(context.settings, context.redis, options).model_dump(mode="json")

    @smsq_task(app, names.BLACKLIST_SYNC_RETRY_TASK)
    def blacklist_sync_retry(context: WorkerContext, payload: NoPayload) -> None:
        queue_due_retries(context.settings, context.redis, context.producer.publisher)


def queue_due_retries(
    settings: Settings, client: redis.Redis, publisher: Publisher, *, clock: Clock = time.time
) -> list[str]:
    """Queue one sync for every provider whose retry is due; returns their names."""
    blacklist = Blacklist(client, prefix=settings.key_prefix, clock=clock)
    records = SyncRecords(client, blacklist.keys)
    now_ms = blacklist.now_ms()
    due = [name for name in records.due_retries(now_ms) if _keeps_blacklist(settings, name)]
    if due:
        # Claimed until the lock could have expired: a retry lost on the way is queued again after that.
        records.postpone_retries(due, now_ms + int(settings.blacklist.lock_seconds * 1000))
        payload = BlacklistSyncPayload(providers=due, trigger="retry")
        publisher.publish(names.BLACKLIST_SYNC_TASK, payload, names.SYNC)
        log.info("queued a blacklist sync retry for %s", ", ".join(due))
    return due


def _keeps_blacklist(settings: Settings, name: str) -> bool:
    """A retry recorded for a provider since disabled (or removed) is not queued."""
    entry = registry.find(name)
    return entry is not None and entry.blacklist is not None and entry.enabled(settings)
