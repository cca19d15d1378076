"""The poll claimer: a thread of `smsq beat` that claims due entries of the poll schedule in batches
and queues status-poll tasks on the `status` queue.

Why a loop in beat and not a beat-fired task: claiming is one Lua call and publishing is cheap, so
it needs no worker; a periodic task would add a hop, queue no-op tasks behind sends when nothing is
due, and could not look at the queue it feeds. Why not inside the release loop: that loop runs every
0.2 s for sends; polls are due at second resolution and must not slow it down.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from celery import Celery

from smsq.config import contract as names
from smsq.config.settings import Settings
from smsq.config.status_settings import PollingSettings
from smsq.producers.core.connection import state_client
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import CeleryPublisher, Publisher
from smsq.workers.status.schedule import PollSchedule

log = logging.getLogger(__name__)


def release_polls(
    schedule: PollSchedule,
    publisher: Publisher,
    polling: PollingSettings,
    *,
    queued_tasks: Callable[[], int] = lambda: 0,
) -> int:
    """Claim due entries and queue them in tasks of ``batch_size``; returns how many were claimed.
    Nothing is claimed while the status queue already holds ``max_queued_tasks`` (back-pressure:
    entries wait in the schedule, where they cost nothing, instead of piling up as tasks)."""
    room = polling.max_queued_tasks - queued_tasks()
    if room <= 0:
        return 0
    claimed = schedule.claim(min(polling.claim_batch, room * polling.batch_size))
    for start in range(0, len(claimed), polling.batch_size):
        batch = claimed[start : start + polling.batch_size]
        try:
            payload = names.StatusPollPayload(message_ids=batch)
            publisher.publish(names.STATUS_POLL_TASK, payload, names.STATUS)
        except Exception:
            # Due again at once instead of after the claim lease; the next pass retries.
            schedule.reschedule(claimed[start:], schedule.store.now_ms())
            raise
    return len(claimed)


def run_poll_claimer(
    schedule: PollSchedule,
    publisher: Publisher,
    polling: PollingSettings,
    *,
    queued_tasks: Callable[[], int],
    stop: threading.Event,
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Until ``stop`` is set. A full claim means more is due: go again at once, otherwise wait.
    ``active``: false while another beat holds the lease (smsq.workers.lease)."""
    while not stop.is_set():
        if not active():
            stop.wait(polling.claim_interval)
            continue
        try:
            claimed = release_polls(schedule, publisher, polling, queued_tasks=queued_tasks)
        except Exception:  # a Redis or broker blip must not kill the loop
            log.exception("poll claim pass failed")
            claimed = 0
        if claimed < polling.claim_batch:
            stop.wait(polling.claim_interval)


def start_poll_claimer(
    app: Celery, settings: Settings, stop: threading.Event, *, active: Callable[[], bool] = lambda: True
) -> threading.Thread:
    client = state_client(settings)
    store = MessageStore(
        client, prefix=settings.key_prefix, retention_seconds=int(settings.retention_days * 86400)
    )
    publisher = CeleryPublisher(app)

    def queued_tasks() -> int:
        return publisher.queue_depth(names.STATUS)

    thread = threading.Thread(
        target=run_poll_claimer,
        name="smsq-poll-claimer",
        args=(PollSchedule(store, settings.polling), publisher, settings.polling),
        kwargs={"queued_tasks": queued_tasks, "stop": stop, "active": active},
        daemon=True,
    )
    thread.start()
    return thread
