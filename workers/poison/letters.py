"""Writing dead letters for messages refused before any task ran (see smsq.workers.poison)."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from functools import partial
from typing import Any

import redis

from smsq.config.contract import SECRET_FIELDS
from smsq.config.limits import LimitSettings
from smsq.config.settings import Settings
from smsq.producers.core.connection import state_client
from smsq.producers.core.keys import Keys
from smsq.workers.poison.checks import shown_body

log = logging.getLogger("smsq.workers.poison")


def _masked(body: object) -> object:
    """A body whose kwargs hold a secret (a 2FA PIN) with that value masked, as every other dead
    letter and kwargsrepr has it; any other body as it came."""
    raw = body if isinstance(body, bytes | str) else None
    if raw is None or len(raw) > 1_000_000:
        return body
    try:
        decoded = json.loads(raw)
    except (ValueError, RecursionError):
        return body
    if isinstance(decoded, list) and len(decoded) > 1 and isinstance(decoded[1], dict):
        kwargs = decoded[1]
        if any(name in SECRET_FIELDS for name in kwargs):
            decoded[1] = {name: "***" if name in SECRET_FIELDS else value for name, value in kwargs.items()}
            return json.dumps(decoded)
    return body


class DeadLetters:
    """Appends to the state store's dead-letter list, keeping the newest ``limits.dead_letters_kept``.
    The Redis client is made on first use (in the process that writes: the consumer's)."""

    def __init__(
        self,
        redis_url: str,
        key: str,
        limits: LimitSettings,
        retention_seconds: int = 30 * 86400,
        connect: Callable[[], redis.Redis] | None = None,
    ) -> None:
        self.redis_url = redis_url
        self.connect = connect or partial(redis.Redis.from_url, redis_url)  # Sentinel: state_client
        self.key = key
        self.limits = limits
        self.retention_seconds = retention_seconds
        self._client: redis.Redis | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> DeadLetters:
        retention = int(settings.retention_days * 86400)
        connect = partial(state_client, settings, decode_responses=False)
        return cls(
            settings.redis_url, Keys(settings.key_prefix).dead_letters, settings.limits, retention, connect
        )

    def __repr__(self) -> str:  # shown in Celery's config dumps: no URL (it may hold a password)
        return f"DeadLetters({self.key!r})"

    def write(self, task: str, body: object, reason: str, **about: Any) -> None:
        """One entry: the task name (or what stood for it), the body cut to the limit, the reason."""
        text, size = shown_body(_masked(body), self.limits.dead_letter_body_chars)
        entry = {"task": task[:200], "payload": text, "error": reason, "at_ms": int(time.time() * 1000),
                 "size": size, **about}  # fmt: skip
        log.error("dead-lettered a broker message (%s): %s", task[:200], reason)
        try:
            client = self._client or self.connect()
            self._client = client
            with client.pipeline(transaction=False) as pipe:
                pipe.rpush(self.key, json.dumps(entry, default=repr))
                pipe.ltrim(self.key, -self.limits.dead_letters_kept, -1)
                pipe.expire(self.key, self.retention_seconds)  # as the store's own dead letters
                pipe.execute()
        except redis.RedisError:
            # The message is still refused (never run, never retried); only its record is lost.
            log.exception("could not store the dead letter for a refused %s message", task[:200])
