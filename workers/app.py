"""The Celery application of the workers."""

from __future__ import annotations

import logging
from typing import Any

from billiard.process import active_children
from celery import Celery, signals

from smsq.config.celery import make_celery
from smsq.config.settings import Settings
from smsq.telemetry import tracing
from smsq.telemetry.logs import bind_task, configure_logging, unbind_task
from smsq.workers import poison, shutdown
from smsq.workers.blacklist.tasks import register_blacklist_tasks
from smsq.workers.callbacks.tasks import register_callback_tasks, stop_deliveries
from smsq.workers.campaigns.tasks import register_campaign_tasks
from smsq.workers.context import reset_contexts
from smsq.workers.sending.tasks import register_tasks
from smsq.workers.status.tasks import register_status_tasks
from smsq.workers.two_factor.tasks import register_two_factor_tasks

log = logging.getLogger(__name__)


def create_app(settings: Settings) -> Celery:
    # httpx logs every request URL at INFO; a provider's query string may carry a token.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    tracing.check(settings.tracing)  # turned on without the extra: refused here, not in each child
    app = make_celery(settings, main="smsq")
    app.smsq_settings = settings  # type: ignore[attr-defined]
    register_tasks(app)
    register_blacklist_tasks(app)
    register_campaign_tasks(app)
    register_status_tasks(app)
    register_two_factor_tasks(app)
    register_callback_tasks(app)
    _connect_signals(app)
    # Messages no task can be given (wrong shapes, raw bytes, unknown tasks) are refused at the
    # consumer and the transport: dead-lettered, acknowledged, and the worker goes on.
    poison.install(app, settings)
    return app


def _connect_signals(app: Celery) -> None:
    settings: Settings = app.smsq_settings  # type: ignore[attr-defined]

    # A receiver here means Celery leaves logging alone: its own lines go through smsq's handler,
    # in the format SMSQ_LOG__FORMAT names (smsq.telemetry.logs).
    @signals.setup_logging.connect(weak=False)
    def _logging(**_: Any) -> None:
        configure_logging(settings.log)

    @signals.worker_process_init.connect(weak=False)
    def _after_fork(**_: Any) -> None:
        reset_contexts(close=False)
        # Here, not before the fork: the span exporter's thread does not survive it.
        tracing.install(settings.tracing, "worker")

    # billiard sets its own SIGTERM handler after worker_process_init: ours goes in before a task.
    @signals.task_prerun.connect(weak=False)
    def _before_task(
        task_id: str = "", task: Any = None, kwargs: dict[str, Any] | None = None, **_: Any
    ) -> None:
        shutdown.install_in_pool_process()
        info = getattr(getattr(task, "request", None), "delivery_info", None) or {}
        bind_task(getattr(task, "name", ""), task_id, info.get("routing_key"), kwargs)

    @signals.task_postrun.connect(weak=False)
    def _after_task(**_: Any) -> None:
        unbind_task()

    @signals.worker_shutting_down.connect(weak=False)
    def _shutting_down(how: str | None = None, **_: Any) -> None:
        # A warm shutdown waits for the running tasks: tell them to wind down (workers/shutdown.py).
        if how == "Warm":
            shutdown.forward_to_pool([int(child.pid) for child in active_children() if child.pid])

    @signals.worker_process_shutdown.connect(weak=False)
    def _on_shutdown(**_: Any) -> None:
        stop_deliveries()  # callback requests in flight: answered, or handed back (bounded)
        reset_contexts(close=True)
        tracing.flush()  # a pool process leaves with os._exit: atexit would not export its last spans
