"""The worker's consumer, with every task message checked before Celery's strategy reads it.

Celery's own handler trusts the message's shape: a body of ``42`` raised a TypeError in the
strategy, which stops the worker ("Unrecoverable error") and leaves the message unacknowledged, so
every restarted worker died on it again. Here a message that fails ``checks.task_problem`` is
dead-lettered and acknowledged, and anything Celery still raises for a message is caught the same
way. The callbacks Celery uses for undecodable, unknown-format, unknown-task and invalid-task
messages dead-letter too, instead of only logging (their messages used to vanish).
"""

from __future__ import annotations

from typing import Any

from celery.worker.consumer import Consumer
from kombu.message import Message
from vine import promise

from smsq.config.limits import DEFAULT_LIMITS, LimitSettings
from smsq.workers.poison.checks import task_problem
from smsq.workers.poison.letters import DeadLetters, log
from smsq.workers.reconnect import ReconnectingConsumer

# celery-types does not know the consumer's attributes this class uses (strategies, errors).
_Consumer: Any = Consumer


class PoisonSafeConsumer(ReconnectingConsumer):  # and one that reconnects sooner (workers/reconnect.py)
    class Blueprint(_Consumer.Blueprint):
        # smsq never publishes an eta or countdown (the checks refuse one; long waits go through smsq's
        # schedule), so Celery's native delayed delivery for quorum queues (exchanges and queues it
        # declares in the vhost at every start, and a warning per lane) has nothing to do.
        default_steps = [s for s in _Consumer.Blueprint.default_steps if not s.endswith(":DelayedDelivery")]

    @property
    def _letters(self) -> DeadLetters:
        letters: DeadLetters = self.app.smsq_dead_letters
        return letters

    @property
    def _limits(self) -> LimitSettings:
        letters = getattr(self.app, "smsq_dead_letters", None)
        return letters.limits if isinstance(letters, DeadLetters) else DEFAULT_LIMITS

    def create_task_handler(self, promise: Any = promise) -> Any:
        handle = super().create_task_handler(promise)
        broker_errors = tuple(self.connection_errors) + tuple(self.channel_errors)

        def on_task_received(message: Message) -> None:
            problem = task_problem(
                message.headers,
                message.content_type,
                message.content_encoding,
                message.body,
                self.strategies,
                self._limits,
            )
            if problem is not None:
                self.refuse(message, problem)
                return
            try:
                handle(message)
            except broker_errors:
                raise  # the connection is gone: Celery reconnects, the message comes back
            except Exception as error:  # a message Celery cannot take must never stop the worker
                self.refuse(message, f"Celery could not take the message: {error!r}"[:500])

        return on_task_received

    def refuse(self, message: Message, reason: str) -> None:
        """Dead-letter the message with its raw body, then take it off the queue."""
        headers = message.headers if isinstance(message.headers, dict) else {}
        task = headers.get("task")
        info = message.delivery_info if isinstance(message.delivery_info, dict) else {}
        self._letters.write(
            task if isinstance(task, str) else "(no task name)",
            message.body,
            reason,
            queue=str(info.get("routing_key") or ""),
        )
        if not message.acknowledged:
            try:
                message.ack()
            except Exception:  # the channel closed: the message comes back and is refused again
                log.exception("could not acknowledge a refused message")

    # Celery's own callbacks for messages it refuses: dead-letter instead of only logging.

    def on_decode_error(self, message: Message, exc: Exception) -> None:
        self.refuse(message, f"the body cannot be decoded: {exc}"[:500])

    def on_unknown_message(self, body: Any, message: Message) -> None:
        self.refuse(message, "not a Celery task message")

    def on_unknown_task(self, body: Any, message: Message, exc: Exception) -> None:
        self.refuse(message, f"unknown task: {exc}"[:500])

    def on_invalid_task(self, body: Any, message: Message, exc: Exception) -> None:
        self.refuse(message, f"invalid task message: {exc}"[:500])
