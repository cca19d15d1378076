"""Poison messages: whatever bytes arrive on a smsq queue, the message is taken off the queue,
dead-lettered with its raw body (cut to SMSQ_LIMITS__DEAD_LETTER_BODY_CHARS) and a readable reason,
acknowledged, and the worker goes on.

Two depths: ``transport`` checks kombu's Redis envelope as it is popped (raw bytes on a lane never
become a message); ``consumer`` checks the Celery task message before Celery's strategy reads it
(a body of ``42`` stopped the worker there, and came back after every restart). ``checks`` holds
the rules, ``letters`` writes the dead letters. ``install`` wires both into a worker app.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from smsq.config.settings import Settings
from smsq.workers.poison.letters import DeadLetters

CONSUMER = "smsq.workers.poison.consumer:PoisonSafeConsumer"
TRANSPORT = "smsq.workers.poison.transport:PoisonSafeTransport"
LETTERS_OPTION = "smsq_dead_letters"  # the broker transport option carrying the DeadLetters writer


def install(app: Celery, settings: Settings) -> DeadLetters:
    """Consume through the poison-safe consumer and Redis transport; dead letters go to the state
    store's list (``<prefix>:dead``), which ``smsq dead-letters`` shows."""
    letters = DeadLetters.from_settings(settings)
    app.conf.worker_consumer = CONSUMER
    if settings.broker_is_redis:
        # RabbitMQ delivers only what a publisher sent as a message: the consumer's checks suffice.
        app.conf.broker_transport = TRANSPORT
    options: dict[str, Any] = dict(app.conf.broker_transport_options or {})
    options[LETTERS_OPTION] = letters
    app.conf.broker_transport_options = options
    app.smsq_dead_letters = letters  # type: ignore[attr-defined]
    return letters
