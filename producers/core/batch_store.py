"""Storing many single messages in few round trips: records.lua's ``create_many`` takes a chunk of
records as one JSON argument (the fields a body shape shares sent once), so a 1,000-message batch is
a couple of script calls in one pipeline instead of 1,000 calls of thirty arguments each. Each record
still goes through the create path's steps on its own: its idempotency key, its charges (caps, the
pumping guard) in the same script as its record and its outbox entry."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smsq.producers.core.states import INITIAL
from smsq.producers.core.store import IDEMPOTENCY_EXTRA_SECONDS, MessageStore
from smsq.producers.cost.caps import Charge, settle, warn
from smsq.producers.errors import PolicyRefused

# Records per create_many call: each call holds Redis for its duration (about 5 us a record), so a
# chunk stays a few milliseconds and an OTP from another client is not held up behind a batch.
CHUNK = 500


@dataclass(slots=True)
class NewMessage:
    """One record of a batch: its own fields beside its shape's (``shapes[shape]``)."""

    message_id: str
    status: str  # scheduled or queued
    shape: int  # index into the shapes list
    fields: list[str]  # its own field, value pairs, flat (``flat``)
    idempotency_key: str | None = None
    due_ms: int | None = None  # its outbox (or schedule) entry
    charges: Sequence[Charge] = ()


@dataclass(slots=True)
class Stored:
    created: bool  # False: its idempotency key was taken; nothing new stored
    message_id: str  # the existing message's id when not created
    status: str  # its status now


def create_batch(
    store: MessageStore,
    created_ms: int,
    shapes: Sequence[Mapping[str, str | int]],
    messages: Sequence[NewMessage],
    warn_at: float,
) -> list[Stored | PolicyRefused]:
    """Store ``messages`` (all created at ``created_ms``), in order, each on its own: one a charge
    refuses is its PolicyRefused in the answer, and nothing is written for it."""
    if not messages:
        return []
    shape_json = json.dumps([flat(shape) for shape in shapes], separators=(",", ":"))
    replies: list[Any] = []
    with store.redis.pipeline(transaction=False) as pipe:
        for start in range(0, len(messages), CHUNK):
            keys, args = _call(store, created_ms, shape_json, messages[start : start + CHUNK])
            store.records_script(keys=keys, args=args, client=pipe)
        for chunk in pipe.execute():
            replies.extend(chunk)
    answers: list[Stored | PolicyRefused] = []
    for reply, message in zip(replies, messages, strict=True):
        kind = int(reply[0])
        if kind == 0:
            answers.append(Stored(False, str(reply[1]), str(reply[2]) or "unknown"))
            continue
        try:
            if kind == -1:
                settle(message.charges, reply[1:], warn_at)  # raises the refusal
            if message.charges:
                warn(message.charges, [int(value) for value in reply[2]], warn_at)
        except PolicyRefused as refused:
            answers.append(refused)
            continue
        answers.append(Stored(True, message.message_id, message.status))
    return answers


def _call(
    store: MessageStore, created_ms: int, shape_json: str, messages: Sequence[NewMessage]
) -> tuple[list[str], list[Any]]:
    counter_at: dict[str, int] = {}  # counter key -> its index among KEYS after the schedule
    rows: list[list[Any]] = []
    for message in messages:
        if message.status not in INITIAL:
            raise ValueError(f"a new record must start in one of {sorted(INITIAL)}")
        charged: list[Any] = []
        for item in message.charges:
            at = counter_at.setdefault(item.key, len(counter_at) + 1)
            charged.extend((at, str(item.amount), str(item.limit), str(item.expire_at)))
        idem_key, idem_ttl = "", 0
        if message.idempotency_key:
            idem_key = store.keys.idempotency(message.idempotency_key)
            wait = max(0, (message.due_ms or 0) - created_ms) // 1000
            idem_ttl = wait + store.retention_seconds + IDEMPOTENCY_EXTRA_SECONDS
        due = "" if message.due_ms is None else str(message.due_ms)
        row = [message.message_id, idem_key, idem_ttl, due, message.status, message.shape + 1, charged]
        row.extend(message.fields)
        rows.append(row)
    args: list[Any] = ["create_many", store.keys.record_prefix, store.keys.stats_prefix]
    args.extend((store.stats_ttl_seconds, created_ms, shape_json, json.dumps(rows, separators=(",", ":"))))
    return [store.keys.schedule, *counter_at], args


def flat(fields: Mapping[str, str | int]) -> list[str]:
    """Field, value pairs as strings (cjson would turn a number into a float: 1.7e+12)."""
    flat: list[str] = []
    for name, value in fields.items():
        flat.extend((name, str(value)))
    return flat
