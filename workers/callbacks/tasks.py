"""The callback task: thin, as every task (decode, call ``delivery.deliver``)."""

from __future__ import annotations

import random
import time

from celery import Celery

from smsq.config import contract as names
from smsq.config.contract import CallbackDeliverPayload
from smsq.producers.callbacks.events import CallbackEvents
from smsq.workers.callbacks.delivery import Deliverer, client_for, start_delivery, stop_delivering
from smsq.workers.callbacks.queue import CallbackQueue, Claimed, Finished
from smsq.workers.context import WorkerContext
from smsq.workers.tasks import smsq_task

DAY = 86400


_deliverers: dict[int, Deliverer] = {}


def deliverer_for(context: WorkerContext) -> Deliverer:
    """The process's deliverer, built on first use from its worker context (after the fork)."""
    deliverer = _deliverers.get(id(context))
    if deliverer is None:
        settings = context.settings.callbacks
        keys = context.store.keys
        deliverer = Deliverer(
            events=CallbackEvents(context.redis, keys, keep_seconds=settings.keep_days * DAY),
            queue=CallbackQueue(context.redis, keys, settings),
            client=client_for(settings),
            settings=settings,
            clock=time.time,
            rng=random.Random(),
        )
        _deliverers.clear()  # a context made again (after a fork or reset) replaces the old one
        _deliverers[id(context)] = deliverer
    return deliverer


def stop_deliveries() -> int:
    """On the pool process's way out (a warm shutdown, a pool restart): finish or hand back its
    callback requests in flight, within ``SMSQ_CALLBACKS__SHUTDOWN_WAIT``. Returns how many were
    handed back."""
    handed = 0
    for deliverer in list(_deliverers.values()):
        handed += stop_delivering(deliverer, deliverer.settings.shutdown_wait)
    _deliverers.clear()
    return handed


def register_callback_tasks(app: Celery) -> None:
    @smsq_task(app, names.CALLBACK_DELIVER_TASK)
    def callback_deliver(context: WorkerContext, payload: CallbackDeliverPayload) -> None:
        claimed = [Claimed(event.id, event.claim, event.url_id) for event in payload.events]
        telemetry = context.telemetry

        def count(finished: list[Finished]) -> None:  # each attempt's outcome (smsq.telemetry)
            for one in finished:
                telemetry.callback(one.outcome)  # delivered, retry or dead

        start_delivery(deliverer_for(context), claimed, count)
