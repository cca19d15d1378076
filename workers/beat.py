"""`smsq beat`: Celery beat for periodic jobs, plus smsq's release loop (sub-second resolution, which
beat's ticks cannot give) and the status-poll claimer (workers/status/claimer.py), each in a thread of
the same process."""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

import redis
from celery import Celery

from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import CeleryPublisher
from smsq.workers.sending.release import run_release_loop
from smsq.workers.status.claimer import start_poll_claimer

log = logging.getLogger(__name__)


def start_release_thread(app: Celery, settings: Settings, stop: threading.Event) -> threading.Thread:
    client = redis.Redis.from_url(settings.redis_url, decode_responses=True)
    store = MessageStore(
        client, prefix=settings.key_prefix, retention_seconds=int(settings.retention_days * 86400)
    )
    publisher = CeleryPublisher(app)
    campaigns = Campaigns(store, publisher, Blacklist(client, prefix=settings.key_prefix))
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
            "stop": stop,
            "also": [campaigns.release_due],
        },
        daemon=True,
    )
    thread.start()
    return thread


def run_beat(app: Celery, settings: Settings, *, loglevel: str = "INFO") -> None:
    stop = threading.Event()
    threads = [start_release_thread(app, settings, stop), start_poll_claimer(app, settings, stop)]
    schedule_file = Path(tempfile.gettempdir()) / f"smsq-beat-{settings.key_prefix}"
    try:
        app.Beat(loglevel=loglevel, schedule=str(schedule_file)).run()
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=5)
