"""The callback claimer: a thread of `smsq beat` (like the poll claimer, workers/status/claimer.py)
that claims due callback events (claim.lua: a lease, and the per-URL cap) and publishes them as
`smsq.callback_deliver` tasks on the `callbacks` queue, one task per ``batch_size`` events of one URL
where it can, so one slow receiver's batch never holds another key's events."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from celery import Celery

from smsq.config import contract as names
from smsq.config.callback_settings import CallbackSettings
from smsq.config.settings import Settings
from smsq.producers.core.connection import state_client
from smsq.producers.core.keys import Keys
from smsq.producers.core.store import to_ms
from smsq.producers.publisher import CeleryPublisher, Publisher
from smsq.workers.callbacks.queue import CallbackQueue, Claimed

log = logging.getLogger(__name__)
TRIM_EVERY = 60.0  # seconds between trims of the list and dead-list indexes


def release_callbacks(
    queue: CallbackQueue,
    publisher: Publisher,
    settings: CallbackSettings,
    *,
    now_ms: int,
    queued_tasks: Callable[[], int] = lambda: 0,
) -> int:
    """Claim due events and publish them; returns how many were claimed. Nothing is claimed while
    the callbacks queue holds ``max_queued_tasks`` (events wait in the due set, where they cost
    nothing, and the claim lease does not start running out in a queue)."""
    room = settings.max_queued_tasks - queued_tasks()
    if room <= 0:
        return 0
    claimed = queue.claim(now_ms, min(settings.claim_batch, room * settings.batch_size))
    by_url: dict[str, list[Claimed]] = {}
    for event in claimed:
        by_url.setdefault(event.url_id, []).append(event)
    tasks = []
    for events in by_url.values():
        for start in range(0, len(events), settings.batch_size):
            batch = events[start : start + settings.batch_size]
            payload = names.CallbackDeliverPayload(
                events=[names.ClaimedCallback(id=e.event_id, claim=e.claim, url_id=e.url_id) for e in batch]
            )
            tasks.append((names.CALLBACK_DELIVER_TASK, payload, names.CALLBACKS))
    # A publish that fails leaves the claims to run out: the events come due again after the lease.
    publisher.publish_many(tasks)
    return len(claimed)


def run_callback_claimer(
    queue: CallbackQueue,
    publisher: Publisher,
    settings: CallbackSettings,
    *,
    queued_tasks: Callable[[], int],
    stop: threading.Event,
    clock: Callable[[], float] = time.time,
    active: Callable[[], bool] = lambda: True,
) -> None:
    """Until ``stop`` is set. A full claim means more is due: go again at once, otherwise wait.
    ``active``: false while another beat holds the lease (smsq.workers.lease)."""
    last_trim = 0.0
    while not stop.is_set():
        if not active():
            stop.wait(settings.claim_interval)
            continue
        try:
            now = clock()
            claimed = release_callbacks(
                queue, publisher, settings, now_ms=to_ms(now), queued_tasks=queued_tasks
            )
            if now - last_trim > TRIM_EVERY:
                queue.trim(to_ms(now))
                last_trim = now
        except Exception:  # a Redis or broker blip must not kill the loop
            log.exception("callback claim pass failed")
            claimed = 0
        if claimed < settings.claim_batch:
            stop.wait(settings.claim_interval)


def start_callback_claimer(
    app: Celery, settings: Settings, stop: threading.Event, *, active: Callable[[], bool] = lambda: True
) -> threading.Thread:
    client = state_client(settings)
    publisher = CeleryPublisher(app)

    def queued_tasks() -> int:
        return publisher.queue_depth(names.CALLBACKS)

    queue = CallbackQueue(client, Keys(settings.key_prefix), settings.callbacks)
    thread = threading.Thread(
        target=run_callback_claimer,
        name="smsq-callback-claimer",
        args=(queue, publisher, settings.callbacks),
        kwargs={"queued_tasks": queued_tasks, "stop": stop, "active": active},
        daemon=True,
    )
    thread.start()
    return thread
