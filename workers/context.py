"""Per-process resources of a worker: built lazily on first use (so after the prefork pool forks),
closed on process shutdown. Tasks get everything from here; nothing else reads settings."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass

import redis
from celery import Celery

from config.settings import Settings
from producers.client import Smsq
from producers.publisher import CeleryPublisher
from producers.store import MessageStore
from workers.providers.base import Provider
from workers.providers.messente import MessenteClient
from workers.sending import Sender


@dataclass
class WorkerContext:
    settings: Settings
    redis: redis.Redis
    store: MessageStore
    providers: dict[str, Provider]
    sender: Sender
    producer: Smsq

    def close(self) -> None:
        for provider in self.providers.values():
            provider.close()
        self.redis.close()


def build_providers(settings: Settings) -> dict[str, Provider]:
    providers: dict[str, Provider] = {}
    if settings.messente.enabled:
        providers["messente"] = MessenteClient.from_settings(settings.messente)
    return providers


def build_context(settings: Settings, app: Celery) -> WorkerContext:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    store = MessageStore(
        client, prefix=settings.key_prefix, retention_seconds=int(settings.retention_days * 86400)
    )
    providers = build_providers(settings)
    sender = Sender(
        store=store,
        providers=providers,
        routing=settings.routing,
        retry=settings.retry,
        lease_seconds=settings.lanes.lease_seconds,
        rng=random.Random(),
    )
    producer = Smsq(store, CeleryPublisher(app))
    return WorkerContext(settings, client, store, providers, sender, producer)


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
