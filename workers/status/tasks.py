"""Celery tasks of delivery-status follow-up: thin, decoded by ``smsq.workers.tasks``. A payload that
does not decode goes to the dead-letter list with its error."""

from __future__ import annotations

import logging

from celery import Celery

from smsq.config import contract as names
from smsq.config.contract import DeliveryReport, StatusPollPayload
from smsq.workers.context import WorkerContext
from smsq.workers.status.polling import Poller, poll_messages
from smsq.workers.status.reports import apply_report
from smsq.workers.tasks import smsq_task

log = logging.getLogger(__name__)


def poller_for(context: WorkerContext) -> Poller:
    return Poller(
        store=context.store,
        providers=context.providers,
        polling=context.settings.polling,
        limiter=context.sender.limiter,
        max_inline_wait=context.settings.lanes.max_inline_wait,
        telemetry=context.telemetry,
    )


def register_status_tasks(app: Celery) -> None:
    @smsq_task(app, names.STATUS_POLL_TASK)
    def status_poll(context: WorkerContext, payload: StatusPollPayload) -> None:
        report = poll_messages([str(i) for i in payload.message_ids], poller_for(context))
        log.info(
            "status poll: %d polled, settled %s, %d rescheduled, %d deferred, %d dropped, %d errors",
            report.polled, dict(report.settled), report.rescheduled, report.deferred, report.dropped,
            report.errors,
        )  # fmt: skip

    @smsq_task(app, names.DELIVERY_REPORT_TASK)
    def delivery_report(context: WorkerContext, report: DeliveryReport) -> None:
        outcome = apply_report(report, context.store, context.settings.polling, context.telemetry)
        log.info("delivery report for %s: %s %s", report.message_id, outcome.result, outcome.status or "")
