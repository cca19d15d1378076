"""Per-process resources of a worker: built lazily on first use (so after the prefork pool forks),
closed on process shutdown. Tasks get everything from here; nothing else reads settings."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass
from datetime import timedelta

import httpx
import redis
from celery import Celery

from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.client import Smsq
from smsq.producers.core.connection import state_client
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import CeleryPublisher
from smsq.telemetry.hooks import Telemetry, build_telemetry
from smsq.workers.campaigns.messages import CampaignTemplates
from smsq.workers.limits.health import HealthPolicy, ProviderHealth
from smsq.workers.limits.ratelimit import Adapt, Limit, RateLimiter
from smsq.workers.providers import registry
from smsq.workers.providers.base import Provider
from smsq.workers.sending.single import Sender
from smsq.workers.sending.windows import SendWindows
from smsq.workers.status.followup import Followup


@dataclass
class WorkerContext:
    settings: Settings
    redis: redis.Redis
    store: MessageStore
    providers: dict[str, Provider]
    sender: Sender
    producer: Smsq
    telemetry: Telemetry
    windows: SendWindows | None = None  # marketing send windows, checked at send time

    def close(self) -> None:
        self.telemetry.close()  # the last counts, before the connection goes
        for provider in self.providers.values():
            provider.close()
        self.redis.close()


def build_providers(
    settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> dict[str, Provider]:
    """One client per enabled provider (smsq.workers.providers.registry), each with its own
    connection pool and explicit timeouts."""
    return registry.build_clients(settings, transport=transport)


def build_limiter(settings: Settings, client: redis.Redis) -> RateLimiter:
    """One limit per provider account, shared through Redis by every worker process."""
    reserve, pacing = settings.lanes.high_reserve, settings.pacing
    limits = {
        entry.name: Limit(
            block.rate_per_second, burst=block.burst, high_reserve=reserve, margin=pacing.margin
        )
        for entry in registry.ENTRIES
        for block in (entry.settings(settings),)
    }
    adapt = Adapt(pacing.decrease, pacing.recover, pacing.floor, pacing.hold_seconds)
    return RateLimiter(client, limits, prefix=settings.key_prefix, adapt=adapt)


def build_context(settings: Settings, app: Celery) -> WorkerContext:
    client = state_client(settings)
    store = MessageStore(
        client, prefix=settings.key_prefix, retention_seconds=int(settings.retention_days * 86400)
    )
    providers = build_providers(settings)
    blacklist = Blacklist(client, prefix=settings.key_prefix)
    telemetry = build_telemetry(settings.metrics, client, settings.key_prefix)
    sender = Sender(
        store=store,
        providers=providers,
        routing=settings.routing,
        retry=settings.retry,
        lease_seconds=settings.lanes.lease_seconds,
        rng=random.Random(),
        limiter=build_limiter(settings, client),
        health=ProviderHealth(
            client, HealthPolicy(**settings.health.model_dump()), prefix=settings.key_prefix
        ),
        max_inline_wait=settings.lanes.max_inline_wait,
        schedule_at_provider=settings.schedule.at_provider,
        followup=Followup(settings.polling, settings.webhooks),
        # Checked at send time, so a number blacklisted while its message waited is never sent.
        is_blacklisted=blacklist.is_blocked,
        blocked_among=blacklist.blocked_among,
        templates=CampaignTemplates(client, store.keys, limits=settings.limits),
        telemetry=telemetry,
    )
    producer = Smsq(
        store,
        CeleryPublisher(app),
        schedule_horizon=timedelta(days=settings.schedule.horizon_days),
        schedule_at_provider=settings.schedule.at_provider,
        limits=settings.limits,
    )
    windows = SendWindows.from_settings(settings.cost)
    return WorkerContext(settings, client, store, providers, sender, producer, telemetry, windows)


_lock = threading.Lock()
_contexts: dict[int, WorkerContext] = {}


def context_for(app: Celery) -> WorkerContext:
    """The calling process's context for ``app`` (whose ``smsq_settings`` were set by create_app)."""
    key = id(app)
    with _lock:
        if key not in _contexts:
            _contexts[key] = build_context(app.smsq_settings, app)  # type: ignore[attr-defined]
        return _contexts[key]


def reset_contexts(*, close: bool) -> None:
    """Forget every context. After fork (close=False) the child must not reuse, or close, the
    parent's sockets; on shutdown (close=True) connections are closed cleanly."""
    with _lock:
        if close:
            for context in _contexts.values():
                context.close()
        _contexts.clear()
