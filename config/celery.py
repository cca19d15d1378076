"""Celery configuration shared by producers (to publish) and workers (to consume).

Building a Celery app here imports no worker code: producers use it only to publish by task name.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from kombu import Queue

from smsq.config import contract as names
from smsq.config.settings import Settings


def queue_arguments(settings: Settings) -> dict[str, Any] | None:
    """The lanes' declaration arguments: a quorum queue on RabbitMQ unless told otherwise. Workers and
    publishers declare with the same arguments (RabbitMQ refuses a redeclaration that differs)."""
    if settings.broker_is_redis or settings.amqp.queue_type == "classic":
        return None
    return {"x-queue-type": "quorum"}


# On RabbitMQ a worker that consumes only the high lane does so at this consumer priority (others at
# 0): RabbitMQ gives a high task to a lower-priority consumer only while every higher one is busy.
# Without it a general worker's high consumer (prefetch 1, no global QoS on quorum queues) held an
# OTP while its process sent a bulk batch: OTP p99 1.0-1.7 s on quorum lanes (README "Scaling out").
DEDICATED_HIGH_PRIORITY = 10


def worker_queues(settings: Settings, lanes: list[str]) -> list[Queue]:
    """The queues a worker with these lanes consumes, declared as every publisher declares them."""
    arguments = queue_arguments(settings)
    dedicated = lanes == [names.HIGH] and not settings.broker_is_redis
    return [
        Queue(
            lane,
            routing_key=lane,
            queue_arguments=arguments,
            consumer_arguments={"x-priority": DEDICATED_HIGH_PRIORITY} if dedicated else None,
        )
        for lane in lanes
    ]


def broker_config(settings: Settings) -> dict[str, Any]:
    if settings.broker_is_redis:
        return {
            "broker_transport_options": {
                # BRPOP the lane queues in the order given, so high always wins (not round-robin).
                "queue_order_strategy": "priority",
                # Unacked (acks_late) tasks come back after this; it must exceed every task's run time.
                # Long waits never use ETA/countdown (kombu#337): they go through smsq's own schedule.
                "visibility_timeout": settings.visibility_timeout,
            },
        }
    return {
        # Celery's own publishes (beat's periodic tasks, `call`) wait for RabbitMQ's confirm; smsq's
        # lane publishes confirm in batches (smsq.producers.amqp_lanes).
        "broker_transport_options": {"confirm_publish": True},
        # RabbitMQ hands a lost consumer's unacked tasks back when its connection closes: at once for
        # a killed process, within the heartbeat for a vanished host.
        "broker_heartbeat": settings.amqp.heartbeat,
        "broker_connection_timeout": settings.amqp.connect_timeout,
        # Quorum queues have no global QoS: prefetch is per consumer (per lane), so a high task never
        # waits behind prefetched bulk; Celery detects them and says so at start-up.
        "worker_detect_quorum_queues": True,
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    arguments = queue_arguments(settings)
    return {
        "broker_url": settings.effective_broker_url,
        "result_backend": settings.effective_result_backend,
        **broker_config(settings),
        "result_backend_transport_options": {"visibility_timeout": settings.visibility_timeout},
        "task_queues": [Queue(name, routing_key=name, queue_arguments=arguments) for name in names.LANES],
        "task_default_queue": names.REGULAR,
        "task_routes": names.TASK_ROUTES,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "worker_prefetch_multiplier": 1,
        "task_ignore_result": True,
        "result_expires": 7 * 24 * 3600,
        # A broker outage is ridden out, however long: the worker keeps retrying (every few seconds,
        # smsq.workers.reconnect) and goes on consuming when the broker is back. 100 retries (Celery's
        # default) would end a worker after about an hour without Redis.
        "broker_connection_retry": True,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,
        # Celery's choice, made explicit: a task running when the broker
        # connection breaks is not terminated. A send in flight would be cut mid-request and could end
        # `unknown`; it finishes instead, and its copy redelivered later finds it claimed (CAS).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_hijack_root_logger": False,
        "worker_send_task_events": False,
        "task_send_sent_event": False,
        "enable_utc": True,
        "timezone": "UTC",
        "beat_schedule": {**blacklist_beat_schedule(settings)},
    }


def blacklist_beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    """The periodic blacklist sync, and the check that queues due retries of a failed provider's part.
    A periodic task that waited past its own interval (no worker up) is dropped: the next one comes."""
    if not settings.blacklist.periodic_sync:
        return {}
    block = settings.blacklist
    return {
        "blacklist-sync": {
            "task": names.BLACKLIST_SYNC_TASK,
            "schedule": block.sync_interval,
            "kwargs": {"trigger": "beat"},
            "options": {"queue": names.SYNC, "expires": block.sync_interval},
        },
        "blacklist-sync-retry": {
            "task": names.BLACKLIST_SYNC_RETRY_TASK,
            "schedule": block.retry_check_interval,
            "options": {"queue": names.SYNC, "expires": block.retry_check_interval},
        },
    }


def make_celery(settings: Settings, main: str = "smsq") -> Celery:
    app = Celery(main, set_as_current=False)
    app.conf.update(celery_config(settings))
    # smsq's publishers read the broker's and the state store's settings from the app: on RabbitMQ
    # they count what they publish into each lane in the state store (smsq.producers.amqp_lanes).
    app.smsq_settings = settings  # type: ignore[attr-defined]
    return app
