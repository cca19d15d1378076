"""`smsq beat`: Celery beat for periodic jobs, plus smsq's release loop (sub-second resolution, which
beat's ticks cannot give) and the status-poll claimer (workers/status/claimer.py), each in a thread of
the same process. Run as many as wanted: the one holding the lease works (workers/lease.py)."""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from celery import Celery

from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.batches import Batches
from smsq.producers.campaigns.janitor import Tidied, tidy_campaigns
from smsq.producers.core.connection import state_client
from smsq.producers.core.keys import Keys
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import CeleryPublisher
from smsq.telemetry.hooks import build_telemetry
from smsq.workers.callbacks.claimer import start_callback_claimer
from smsq.workers.lease import BeatLease, leased_scheduler, start_lease_thread
from smsq.workers.providers import registry
from smsq.workers.sending.recovery import LaneWatch, release_batches
from smsq.workers.sending.release import run_release_loop
from smsq.workers.status.claimer import start_poll_claimer

log = logging.getLogger(__name__)


def idempotent_providers() -> frozenset[str]:
    """Providers that refuse a repeated send of the same smsq id, so a lost lease can be resent."""
    return frozenset(entry.name for entry in registry.ENTRIES if entry.idempotent_send)


def start_release_thread(
    app: Celery, settings: Settings, stop: threading.Event, *, active: Callable[[], bool] = lambda: True
) -> threading.Thread:
    client = state_client(settings)
    store = MessageStore(
        client, prefix=settings.key_prefix, retention_seconds=int(settings.retention_days * 86400)
    )
    publisher = CeleryPublisher(app)
    campaigns = Campaigns(
        store,
        publisher,
        Blacklist(client, prefix=settings.key_prefix),
        batch_size=settings.campaigns.batch_size,
        max_queued_batches=settings.campaigns.max_queued_batches,
        recovery=settings.recovery,
    )
    # The broker's queues as the publisher sees them: Redis lists, or RabbitMQ's depths and smsq's marks.
    watch = LaneWatch(publisher, settings.recovery)
    batches = Batches(store)
    telemetry = build_telemetry(settings.metrics, client, settings.key_prefix)

    def publish_batches() -> int:
        return release_batches(
            batches, publisher, watch, max_queued=settings.campaigns.max_queued_batches, telemetry=telemetry
        )

    def tidy() -> Tidied:
        return tidy_campaigns(
            store, campaigns.expander, expansion_seconds=settings.recovery.expansion_seconds
        )

    thread = threading.Thread(
        target=run_release_loop,
        name="smsq-release",
        kwargs={
            "store": store,
            "publisher": publisher,
            "interval": settings.schedule.release_interval,
            "batch": settings.schedule.release_batch,
            "claim_lease_ms": int(settings.schedule.claim_lease_seconds * 1000),
            "lease_policy": settings.lanes.on_lease_expiry,
            "watch": watch,
            "idempotent": idempotent_providers(),
            "stop": stop,
            "also": [publish_batches, campaigns.release_due, every(settings.recovery.janitor_interval, tidy)],
            "active": active,
            "telemetry": telemetry,
        },
        daemon=True,
    )
    thread.start()
    return thread


def every(seconds: float, step: Callable[[], object]) -> Callable[[], object]:
    """``step`` at most once every ``seconds`` however often the loop calls it."""
    last = [float("-inf")]

    def maybe() -> object:
        now = time.monotonic()
        if now - last[0] < seconds:
            return None
        last[0] = now
        return step()

    return maybe


def run_beat(app: Celery, settings: Settings, *, loglevel: str = "INFO") -> None:
    """Any number of these may run: the one holding the lease works, the others stand by."""
    stop = threading.Event()
    lease = BeatLease(
        state_client(settings), Keys(settings.key_prefix).beat_lease, seconds=settings.beat.lease_seconds
    )
    threads = [
        start_lease_thread(lease, stop),
        start_release_thread(app, settings, stop, active=lease.held),
        start_poll_claimer(app, settings, stop, active=lease.held),
        start_callback_claimer(app, settings, stop, active=lease.held),
    ]
    # A schedule file of this process's own: beats on one host would share (and break) one shelve, and
    # a new file starts each periodic task one interval on, not with a backlog from an old file.
    schedule_file = Path(tempfile.gettempdir()) / f"smsq-beat-{settings.key_prefix}-{os.getpid()}"
    try:
        scheduler = leased_scheduler(lease)  # Celery takes a class here too (its stubs say only a name)
        # Under JSON logs no banner: every line of output is a log line.
        quiet = settings.log.format == "json"
        app.Beat(loglevel=loglevel, schedule=str(schedule_file), scheduler=scheduler, quiet=quiet).run()  # type: ignore[arg-type]
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
        for leftover in schedule_file.parent.glob(schedule_file.name + "*"):
            leftover.unlink(missing_ok=True)
