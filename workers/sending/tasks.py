"""Celery tasks of sending: thin. Each decodes its payload (``smsq.workers.tasks``), calls a plain
function and logs the outcome; a payload that does not decode is dead-lettered, never retried."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery

from smsq.config import contract as names
from smsq.config.contract import CancelAtProviderPayload, SendManyPayload, SendPayload, SubmitPayload
from smsq.producers.errors import InvalidInput
from smsq.workers.campaigns.tasks import async_http_for
from smsq.workers.context import WorkerContext
from smsq.workers.sending.batch import BatchOptions, BatchOutcome, send_chunk, send_pool
from smsq.workers.sending.cancelling import cancel_at_provider
from smsq.workers.sending.single import send_message
from smsq.workers.tasks import smsq_task

log = logging.getLogger(__name__)


def register_tasks(app: Celery) -> None:
    @smsq_task(app, names.SEND_TASK)
    def send(context: WorkerContext, payload: SendPayload) -> None:
        outcome = send_message(str(payload.message_id), context.sender)
        log.info("message %s: %s %s", payload.message_id, outcome.status, outcome.detail)

    def cannot_cancel(error: InvalidInput, task_id: str) -> dict[str, Any]:
        return {"cancelled": False, "status": "invalid", "reason": str(error)}

    @smsq_task(app, names.CANCEL_AT_PROVIDER_TASK, invalid=cannot_cancel)
    def cancel_at_provider_task(context: WorkerContext, payload: CancelAtProviderPayload) -> dict[str, Any]:
        return cancel_at_provider(str(payload.message_id), context.store, context.providers)

    @smsq_task(app, names.SEND_MANY_TASK)
    def send_many(context: WorkerContext, payload: SendManyPayload) -> None:
        settings = context.settings.campaigns
        # Singles through the process's paced event loop, as a campaign batch sends them: these are
        # often a batch's own messages that came back to wait for the rate limit, and the thread pool
        # let its threads' requests leave in clumps a far-end limiter refuses (bench/far_end).
        options = BatchOptions(
            chunk=settings.chunk,
            use_bulk=settings.use_bulk,
            bulk_size=settings.bulk_size,
            concurrency=settings.concurrency,
            async_http=async_http_for(context),
            windows=context.windows,
        )
        outcome = BatchOutcome()
        ids = [str(message_id) for message_id in payload.message_ids]
        for start in range(0, len(ids), options.chunk):
            send_chunk(
                ids[start : start + options.chunk],
                context.sender,
                options,
                send_pool(settings.concurrency),
                outcome,
            )
        log.info("%d due messages: %s", len(ids), outcome.statuses)

    # The omnimessage inside is validated by the producer API: what it refuses is dead-lettered too.
    @smsq_task(app, names.SUBMIT_TASK, call_checks_input=True)
    def submit(context: WorkerContext, payload: SubmitPayload) -> None:
        """For apps that do not import smsq: a whole omnimessage as JSON, validated here."""
        receipt = context.producer.send(payload.message, idempotency_key=payload.idempotency_key)
        log.info("submitted message %s (%s)", receipt.message_id, receipt.status)
