"""What every route is given: the producer API, the key store and the settings, built once per
process (``Services.from_settings``) and passed in, so a test builds its own."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request

from smsq.api.idempotency import IdempotencyStore
from smsq.config.settings import Settings
from smsq.producers.blacklist.sync import BlacklistSyncs
from smsq.producers.client import Smsq
from smsq.producers.keys.limits import KeyLimiter
from smsq.producers.keys.store import KeyStore
from smsq.telemetry import tracing

# Lane -> the worker nodes consuming it now (for /readyz); raises or answers {} when none answer.
LaneProbe = Callable[[], dict[str, list[str]]]
# The Celery probe waits for replies (ready_worker_seconds); its answer is reused this long, so a load
# balancer polling every second does not flood the workers' control queues.
LANES_CACHE_SECONDS = 5.0


@dataclass
class Services:
    settings: Settings
    smsq: Smsq
    keys: KeyStore
    lanes: LaneProbe
    limiter: KeyLimiter
    idempotency: IdempotencyStore
    syncs: BlacklistSyncs

    @classmethod
    def from_settings(cls, settings: Settings, *, lanes: LaneProbe | None = None) -> Services:
        tracing.install(settings.tracing, "api")  # before the producer's: this process is the API
        smsq = Smsq.from_settings(settings)
        client, prefix = smsq.store.redis, settings.key_prefix
        keys = KeyStore(client, prefix=prefix, clock=smsq.store.clock)
        probe = lanes or cached(celery_lanes(smsq, settings.api.ready_worker_seconds), LANES_CACHE_SECONDS)
        limiter = KeyLimiter(client, prefix=prefix)
        idempotency = IdempotencyStore(client, settings.api, prefix=prefix)
        app = getattr(smsq.publisher, "app", None)  # the Celery app: its result backend holds sync reports
        syncs = BlacklistSyncs(app, client, prefix=prefix, publisher=smsq.publisher)  # type: ignore[arg-type]
        return cls(settings, smsq, keys, probe, limiter, idempotency, syncs)


def cached(probe: LaneProbe, seconds: float) -> LaneProbe:
    lock = threading.Lock()
    last: list[tuple[float, dict[str, list[str]]]] = []

    def answer() -> dict[str, list[str]]:
        with lock:
            if last and time.monotonic() - last[0][0] < seconds:
                return last[0][1]
            lanes = probe()
            last[:] = [(time.monotonic(), lanes)]
            return lanes

    return answer


def celery_lanes(smsq: Smsq, timeout: float) -> LaneProbe:
    def probe() -> dict[str, list[str]]:
        app = getattr(smsq.publisher, "app", None)
        if app is None:
            return {}
        replies = app.control.inspect(timeout=timeout).active_queues() or {}
        served: dict[str, list[str]] = {}
        for node, queues in replies.items():
            for queue in queues or []:
                served.setdefault(str(queue.get("name")), []).append(node)
        return served

    return probe


def services(request: Request) -> Services:
    found = request.app.state.services
    assert isinstance(found, Services)
    return found
