"""kombu's Redis transport, with each popped item checked before kombu builds a message from it.

kombu decodes what BRPOP returns as its JSON envelope and hands it to the consumer: raw bytes
(``LPUSH regular "\\x00\\xffgarbage"``), JSON that is not an object, or an envelope without its
properties raised inside the event loop and stopped the worker. The item is already off the list
(BRPOP took it; it is not yet in the unacked set), so a refused one is dead-lettered here and the
read goes on.

``_brpop_read`` and ``_get`` follow kombu's own (kombu/transport/redis.py, 5.5-5.7) with that one
check added; the integration test pushes raw garbage through a real worker to keep them honest.
"""

from __future__ import annotations

from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport.virtual import Empty
from kombu.utils.encoding import bytes_to_str
from kombu.utils.json import loads

from smsq.config.limits import DEFAULT_LIMITS
from smsq.workers.poison.checks import envelope_problem
from smsq.workers.poison.letters import DeadLetters
from smsq.workers.reconnect import ReconnectingChannel

LETTERS_OPTION = "smsq_dead_letters"
# kombu's stubs do not know the Redis transport's internals this class uses.
_RedisTransport: Any = kombu_redis.Transport


class PoisonSafeChannel(ReconnectingChannel):  # and one that survives a broken connection
    def _letters(self) -> DeadLetters | None:
        letters = self.connection.client.transport_options.get(LETTERS_OPTION)
        return letters if isinstance(letters, DeadLetters) else None

    def _accepted(self, item: bytes | str, queue: str) -> dict[str, Any] | None:
        """The envelope when kombu can use it; else dead-letter the raw item and return None."""
        letters = self._letters()
        envelope, problem = envelope_problem(item, letters.limits if letters else DEFAULT_LIMITS, loads)
        if problem is None:
            return envelope
        if letters is not None:
            letters.write("(not a task message)", item, problem, queue=queue)
        return None

    def _brpop_read(self, **options: Any) -> bool:
        try:
            try:
                dest__item = self.client.parse_response(self.client.connection, "BRPOP", **options)
            except self.connection_errors:
                # As kombu does: disconnect so the next iteration reconnects.
                self.client.connection.disconnect()
                raise
            if not dest__item:
                raise Empty()
            dest, item = dest__item
            dest = bytes_to_str(dest).rsplit(self.sep, 1)[0]
            self._queue_cycle.rotate(dest)
            envelope = self._accepted(item, dest)
            if envelope is not None:
                self.connection._deliver(envelope, dest)
            return True
        finally:
            self._in_poll = None
            flush = getattr(self, "_flush_brpop_reauth", None)  # kombu 5.6+
            if flush is not None:
                flush()

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        with self.conn_or_acquire() as client:
            for pri in self.priority_steps:
                while item := client.rpop(self._q_for_pri(queue, pri)):
                    envelope = self._accepted(item, queue)
                    if envelope is not None:
                        self._touch_expiry(client, queue)
                        return envelope
            self._touch_expiry(client, queue)
            raise Empty()

    def _touch_expiry(self, client: Any, queue: str) -> None:
        update = getattr(self, "_maybe_update_queues_expire", None)  # kombu 5.3+
        if update is not None:
            update(client, queue)


class PoisonSafeTransport(_RedisTransport):
    Channel = PoisonSafeChannel
