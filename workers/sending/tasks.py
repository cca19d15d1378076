"""Celery tasks: thin. Decode the payload, call a plain function, map the outcome. A payload that
does not decode goes to the dead-letter list with its error, never to an endless retry."""

from __future__ import annotations

import logging
from typing import Any

from celery import Celery, Task

from smsq.config import contract as names
from smsq.producers.errors import InvalidInput
from smsq.workers.context import context_for
from smsq.workers.payloads import SendManyPayload, SendPayload, SubmitPayload, decode
from smsq.workers.sending.batch import BatchOptions, BatchOutcome, send_chunk, send_pool
from smsq.workers.sending.cancelling import cancel_at_provider
from smsq.workers.sending.single import send_message

log = logging.getLogger(__name__)


def register_tasks(app: Celery) -> None:
    @app.task(name=names.SEND_TASK, bind=True, ignore_result=True, shared=False)
    def send(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            payload = decode(SendPayload, args, kwargs)
        except InvalidInput as error:
            context.store.dead_letter(names.SEND_TASK, {"args": args, "kwargs": kwargs}, str(error))
            log.error("dead-lettered a %s task: %s", names.SEND_TASK, error)
            return
        outcome = send_message(str(payload.message_id), context.sender)
        log.info("message %s: %s %s", payload.message_id, outcome.status, outcome.detail)

    @app.task(name=names.CANCEL_AT_PROVIDER_TASK, bind=True, ignore_result=False, shared=False)
    def cancel_at_provider_task(self: Task, *args: Any, **kwargs: Any) -> dict[str, Any]:
        context = context_for(self.app)
        try:
            payload = decode(SendPayload, args, kwargs)
        except InvalidInput as error:
            context.store.dead_letter(
                names.CANCEL_AT_PROVIDER_TASK, {"args": args, "kwargs": kwargs}, str(error)
            )
            return {"cancelled": False, "status": "invalid", "reason": str(error)}
        return cancel_at_provider(str(payload.message_id), context.store, context.providers)

    @app.task(name=names.SEND_MANY_TASK, bind=True, ignore_result=True, shared=False)
    def send_many(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            payload = decode(SendManyPayload, args, kwargs)
        except InvalidInput as error:
            context.store.dead_letter(names.SEND_MANY_TASK, {"args": args, "kwargs": kwargs}, str(error))
            log.error("dead-lettered a %s task: %s", names.SEND_MANY_TASK, error)
            return
        settings = context.settings.campaigns
        options = BatchOptions(chunk=settings.chunk, use_bulk=settings.use_bulk, bulk_size=settings.bulk_size)
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

    @app.task(name=names.SUBMIT_TASK, bind=True, ignore_result=True, shared=False)
    def submit(self: Task, *args: Any, **kwargs: Any) -> None:
        """For apps that do not import smsq: a whole omnimessage as JSON, validated here."""
        context = context_for(self.app)
        try:
            payload = decode(SubmitPayload, args, kwargs)
            receipt = context.producer.send(payload.message, idempotency_key=payload.idempotency_key)
        except InvalidInput as error:
            context.store.dead_letter(names.SUBMIT_TASK, {"args": args, "kwargs": kwargs}, str(error))
            log.error("dead-lettered a %s task: %s", names.SUBMIT_TASK, error)
            return
        log.info("submitted message %s (%s)", receipt.message_id, receipt.status)
