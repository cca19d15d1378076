"""Celery tasks of delivery-status follow-up: thin, like ``smsq.workers.sending.tasks``. A payload that
does not decode goes to the dead-letter list with its error."""

from __future__ import annotations

import logging
import uuid
from typing import Any

from celery import Celery, Task
from pydantic import BaseModel, ConfigDict, Field

from smsq.config import contract as names
from smsq.producers.errors import InvalidInput
from smsq.workers.context import WorkerContext, context_for
from smsq.workers.payloads import decode
from smsq.workers.status.polling import Poller, poll_messages
from smsq.workers.status.reports import DeliveryReport, apply_report

log = logging.getLogger(__name__)


class StatusPollPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    message_ids: list[uuid.UUID] = Field(min_length=1, max_length=500)


def poller_for(context: WorkerContext) -> Poller:
    return Poller(
        store=context.store,
        providers=context.providers,
        polling=context.settings.polling,
        limiter=context.sender.limiter,
        max_inline_wait=context.settings.lanes.max_inline_wait,
    )


def register_status_tasks(app: Celery) -> None:
    @app.task(name=names.STATUS_POLL_TASK, bind=True, ignore_result=True, shared=False)
    def status_poll(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            payload = decode(StatusPollPayload, args, kwargs)
        except InvalidInput as error:
            context.store.dead_letter(names.STATUS_POLL_TASK, {"args": args, "kwargs": kwargs}, str(error))
            log.error("dead-lettered a %s task: %s", names.STATUS_POLL_TASK, error)
            return
        report = poll_messages([str(i) for i in payload.message_ids], poller_for(context))
        log.info(
            "status poll: %d polled, settled %s, %d rescheduled, %d deferred, %d dropped, %d errors",
            report.polled, dict(report.settled), report.rescheduled, report.deferred, report.dropped,
            report.errors,
        )  # fmt: skip

    @app.task(name=names.DELIVERY_REPORT_TASK, bind=True, ignore_result=True, shared=False)
    def delivery_report(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            report = decode(DeliveryReport, args, kwargs)
        except InvalidInput as error:
            context.store.dead_letter(
                names.DELIVERY_REPORT_TASK, {"args": args, "kwargs": kwargs}, str(error)
            )
            log.error("dead-lettered a %s task: %s", names.DELIVERY_REPORT_TASK, error)
            return
        outcome = apply_report(report, context.store, context.settings.polling)
        log.info("delivery report for %s: %s %s", report.message_id, outcome.result, outcome.status or "")
