"""The status-poll schedule: a Redis sorted set (``<prefix>:polls``, message id -> due ms).

A message enters it atomically with its `sent` transition (``MessageStore.transition(poll_at_ms=)``)
and leaves it atomically with any final transition. Beat claims due entries in batches
(``claim``: their score is pushed out by a claim lease, so a lost poll task loses nothing: the
entry comes due again) and queues status-poll tasks; each task reschedules or drops its entries.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

from smsq.config.status_settings import PollingSettings
from smsq.producers.core.lua import read
from smsq.producers.core.records import PROVIDER_SCHEDULED, SCHEDULED_FOR_MS, SENT_MS, UPDATED_MS
from smsq.producers.core.store import MessageStore, to_ms

CLAIM_POLLS = read(__package__, "claim_polls.lua")


class PollSchedule:
    def __init__(self, store: MessageStore, polling: PollingSettings) -> None:
        self.store = store
        self.polling = polling
        self.key = store.keys.polls
        self._claim = store.redis.register_script(CLAIM_POLLS)

    def claim(self, limit: int) -> list[str]:
        lease_ms = to_ms(self.polling.claim_lease_seconds)
        return [str(i) for i in self._claim(keys=[self.key], args=[self.store.now_ms(), limit, lease_ms])]

    def reschedule(self, message_ids: Iterable[str], at_ms: int) -> None:
        """Move claimed entries to ``at_ms``. XX: an entry a final transition removed meanwhile stays out."""
        mapping = dict.fromkeys(message_ids, at_ms)
        if mapping:
            self.store.redis.zadd(self.key, mapping, xx=True)

    def recheck(self, message_id: str, at_ms: int) -> None:
        """Look at a message again by ``at_ms`` (adds it; never delays an earlier entry)."""
        self.store.redis.zadd(self.key, {message_id: at_ms}, lt=True)

    def drop(self, message_id: str) -> None:
        self.store.redis.zrem(self.key, message_id)

    def size(self) -> int:
        return int(self.store.redis.zcard(self.key))

    def due_count(self) -> int:
        return int(self.store.redis.zcount(self.key, "-inf", self.store.now_ms()))


def poll_base_ms(record: Mapping[str, str]) -> int:
    """When the message went out: its send, or its time_to_send if the provider held it until then."""
    sent = int(record.get(SENT_MS) or record.get(UPDATED_MS) or 0)
    if record.get(PROVIDER_SCHEDULED) == "1":
        return max(sent, int(record.get(SCHEDULED_FOR_MS) or 0))
    return sent


def first_poll_ms(base_ms: int, polling: PollingSettings, *, pollable: bool) -> int:
    """A polled provider's first poll; otherwise only the give-up check, for messages whose delivery
    report never comes."""
    if pollable:
        return base_ms + to_ms(polling.intervals[0])
    return base_ms + to_ms(polling.give_up_after)


def next_poll_ms(base_ms: int, now_ms: int, polling: PollingSettings) -> int:
    """The first poll time after ``now_ms`` on the fixed offsets (30 s, then +1 min, +2, +5, +10, +30,
    then hourly, by default) counted from ``base_ms``, capped at the give-up time. A result <= now
    means: give up now."""
    give_up_ms = base_ms + to_ms(polling.give_up_after)
    due = base_ms
    for interval in polling.intervals:
        due += to_ms(interval)
        if due > now_ms:
            return min(due, give_up_ms)
    every = max(to_ms(polling.then_every), 1)
    steps = math.floor((now_ms - due) / every) + 1
    return min(due + steps * every, give_up_ms)


def gave_up(base_ms: int, now_ms: int, polling: PollingSettings) -> bool:
    return now_ms >= base_ms + to_ms(polling.give_up_after)
