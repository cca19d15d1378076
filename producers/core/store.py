"""The state store: one Redis hash per message, moved only through atomic Lua transitions."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import redis

from smsq.producers.core import lua
from smsq.producers.core.keys import HOUR_MS, CallbackKeys, Keys
from smsq.producers.core.records import CREATED_MS, FINAL_MS, ID, STATUS, stamp
from smsq.producers.core.states import FINAL, INITIAL, sources_of
from smsq.producers.cost.caps import Charge, charge_args, settle, warn
from smsq.producers.errors import PolicyRefused
from smsq.telemetry.names import DEAD_LETTERS_TOTAL

Clock = Callable[[], float]
Fields = Mapping[str, str | int | float]
NewRecord = tuple[str, Fields, str | None, int | None]  # message id, fields, idempotency key, due ms


@dataclass(frozen=True)
class Transition:
    ok: bool
    previous: str | None  # None: no such record
    record: dict[str, str] | None = None


@dataclass(frozen=True)
class Released:
    message_id: str
    priority: str
    claim_score: int
    recovered: bool = False  # published again: its task left the queue and nobody claimed it


@dataclass(frozen=True)
class Watch:
    """What ``claim_due`` needs to tell a message lost with its worker from one still waiting in its
    queue: per lane (high, regular, low), the publish time of the oldest task still waiting there
    (``NOTHING_WAITING`` when the queue is empty) and the recovery limit."""

    oldest_waiting_ms: Mapping[str, int]
    limits_ms: Mapping[str, int]


NOTHING_WAITING = 10**15  # later than any publish time: every task published so far has left the queue
WATCHED_LANES = ("high", "regular", "low")


# Transitions per records.lua call: each call holds Redis for its duration, so keep it short.
MANY_AT_ONCE = 200


def to_ms(seconds: float) -> int:
    return int(seconds * 1000)


# Hourly status counts outlive the records they count by the longest a message can wait in the
# schedule (the 90-day horizon) plus a margin, so a late change never lands in an expired hour.
STATS_EXTRA_SECONDS = 120 * 86400
# An idempotency key lives until its message is due, plus this, plus the retention: longer than any
# message stays unfinished once due (the 72 h poll give-up, retries), so it never outlives its purpose.
IDEMPOTENCY_EXTRA_SECONDS = 7 * 86400
# Dead letters kept at most (the oldest are dropped), and the list expires this long after the last one.
DEAD_LETTERS_KEPT = 10_000


class MessageStore:
    def __init__(
        self, client: redis.Redis, *, prefix: str = "smsq", clock: Clock = time.time, retention_seconds: int
    ) -> None:
        self.redis = client
        self.keys = Keys(prefix)
        self.clock = clock
        self.retention_seconds = retention_seconds
        self.stats_ttl_seconds = retention_seconds + STATS_EXTRA_SECONDS
        # records.lua: create, store_campaign, transition, claim_due, uncount (ARGV[1] names which).
        self.records_script = client.register_script(lua.RECORDS)
        self._remove_if_score = client.register_script(lua.REMOVE_IF_SCORE)
        self._mark_published = client.register_script(lua.MARK_PUBLISHED)
        self._mark_calling = client.register_script(lua.MARK_CALLING)
        self._claim_leases = client.register_script(lua.CLAIM_EXPIRED_LEASES)

    def now_ms(self) -> int:
        return to_ms(self.clock())

    # -- records --------------------------------------------------------------------------------

    def create(
        self,
        message_id: str,
        fields: Fields,
        *,
        idempotency_key: str | None,
        due_ms: int | None,
        charges: Sequence[Charge] = (),
        warn_at: float = 0.8,
    ) -> tuple[bool, str]:
        """Store a new record (and, with ``due_ms``, its schedule entry) unless the idempotency key is
        taken. Returns (created, message id): the existing id when the key was seen before. With
        ``charges`` (caps, velocity limits), they are charged in the same script: a refusal raises
        the charge's error (CapExceeded, PumpingGuard) and nothing is written."""
        keys, args = self._create_call(message_id, fields, idempotency_key, due_ms, charges)
        return _created(self.records_script(keys=keys, args=args), charges, warn_at)

    def create_many(
        self,
        records: Sequence[NewRecord],
        charges: Sequence[Sequence[Charge]] | None = None,
        warn_at: float = 0.8,
    ) -> list[tuple[bool, str] | PolicyRefused]:
        """``create`` for many (message id, fields, idempotency key, due ms), in one round trip; each
        is created (or found by its idempotency key) on its own, with its own ``charges``: one a
        charge refuses is its PolicyRefused in the answer, and nothing is written for it."""
        each = list(charges) if charges is not None else [()] * len(records)
        calls = [self._create_call(*record, item) for record, item in zip(records, each, strict=True)]
        with self.redis.pipeline(transaction=False) as pipe:
            for keys, args in calls:
                self.records_script(keys=keys, args=args, client=pipe)
            replies = pipe.execute()
        answers: list[tuple[bool, str] | PolicyRefused] = []
        for reply, item in zip(replies, each, strict=True):
            try:
                answers.append(_created(reply, item, warn_at))
            except PolicyRefused as refused:
                answers.append(refused)
        return answers

    def _create_call(
        self,
        message_id: str,
        fields: Fields,
        idempotency_key: str | None,
        due_ms: int | None,
        charges: Sequence[Charge] = (),
    ) -> tuple[list[str], list[Any]]:
        if fields.get(STATUS) not in INITIAL:
            raise ValueError(f"a new record must start in one of {sorted(INITIAL)}")
        record_key = self.keys.record(message_id)
        idem_key = self.keys.idempotency(idempotency_key) if idempotency_key else record_key
        idem_ttl = 0  # the key's lifetime (0: no key)
        if idempotency_key:
            wait = max(0, (due_ms or 0) - self.now_ms()) // 1000
            idem_ttl = wait + self.retention_seconds + IDEMPOTENCY_EXTRA_SECONDS
        args: list[Any] = ["create", message_id, idem_ttl]
        args.extend(("" if due_ms is None else due_ms, self.keys.stats_prefix, self.stats_ttl_seconds))
        args.append(self.retention_seconds if fields[STATUS] in FINAL else "")
        charge_keys, charge_values = charge_args(charges)
        args.append(len(charges))
        args.extend(charge_values)
        args.extend(_flatten(fields))
        return [record_key, idem_key, self.keys.schedule, *charge_keys], args

    def get(self, message_id: str) -> dict[str, str] | None:
        record: dict[str, str] = self.redis.hgetall(self.keys.record(message_id))  # type: ignore[assignment]
        return _with_id(message_id, record)

    def get_many(self, message_ids: Sequence[str]) -> list[dict[str, str] | None]:
        with self.redis.pipeline(transaction=False) as pipe:
            for message_id in message_ids:
                pipe.hgetall(self.keys.record(message_id))
            return [_with_id(i, record) for i, record in zip(message_ids, pipe.execute(), strict=True)]

    def transition(self, message_id: str, to: str, **options: Any) -> Transition:
        """Move a record to ``to`` if the state machine allows it from its current status (and, with
        ``lease_token``, only if the caller still holds the lease). Atomic with its side effects.
        Options: see ``_transition_args``."""
        return self.transition_many([(message_id, to, options)])[0]

    def transition_many(self, requests: Sequence[tuple[str, str, dict[str, Any]]]) -> list[Transition]:
        """Several (message id, to, options) transitions in one command, up to MANY_AT_ONCE per call;
        each is checked and applied on its own, as ``transition`` does."""
        results: list[Transition] = []
        for start in range(0, len(requests), MANY_AT_ONCE):
            args: list[Any] = ["transition", *self._record_prefixes()]
            for message_id, to, options in requests[start : start + MANY_AT_ONCE]:
                call_args = self._transition_args(message_id, to, **options)
                args.append(len(call_args))
                args.extend(call_args)
            replies = self.records_script(keys=self._schedules(), args=args)
            results.extend(_as_transition(reply) for reply in replies)
        return results

    def _record_prefixes(self) -> list[Any]:
        """The arguments records.lua's transition and claim_due take first (after the operation)."""
        keys = self.keys
        return [keys.record_prefix, keys.campaign_prefix, keys.stats_prefix, self.stats_ttl_seconds]

    def _schedules(self) -> list[str]:
        """The KEYS of records.lua's transition and claim_due (the last two: callback prefixes)."""
        callbacks = CallbackKeys(self.keys)
        return [
            self.keys.leases,
            self.keys.schedule,
            self.keys.polls,
            callbacks.base,
            callbacks.api_key_prefix,
        ]

    def _transition_args(
        self,
        message_id: str,
        to: str,
        *,
        fields: Fields | None = None,
        lease_token: str | None = None,
        lease_until_ms: int | None = None,
        schedule_at_ms: int | None = None,
        unschedule: bool = False,
        attempt: Mapping[str, Any] | None = None,
        return_record: bool = False,
        allowed_from: Iterable[str] | None = None,
        poll_at_ms: int | None = None,
    ) -> list[Any]:
        """One transition's arguments for records.lua (its ``transition_args``). ``poll_at_ms`` puts
        the message in the status-poll schedule (keeping an earlier entry); any final status takes it
        out."""
        sources = sources_of(to) if allowed_from is None else frozenset(allowed_from) & sources_of(to)
        now = self.now_ms()
        args: list[Any] = [
            message_id,
            to,
            "," + ",".join(sorted(sources)) + ",",
            now,
            self.retention_seconds if to in FINAL else "",
            lease_token or "",
            "" if lease_until_ms is None else lease_until_ms,
            "" if schedule_at_ms is None else schedule_at_ms,
            "1" if unschedule else "0",
            json.dumps(attempt, separators=(",", ":")) if attempt else "",
            "1" if return_record else "0",
            "" if poll_at_ms is None else poll_at_ms,
        ]
        stamped = {FINAL_MS: now} if to in FINAL else {stamp(to): now}
        args.extend(_flatten({**stamped, **(fields or {})}))
        return args

    def uncount(self, records: Iterable[Mapping[str, str]]) -> None:
        """Take records that are about to be deleted out of the hourly status counts."""
        per_hour: dict[str, dict[str, int]] = {}
        for record in records:
            if record.get(STATUS) and record.get(CREATED_MS):
                hour = per_hour.setdefault(self.keys.stats_hour(int(record[CREATED_MS]) // HOUR_MS), {})
                hour[record[STATUS]] = hour.get(record[STATUS], 0) + 1
        for key, counts in per_hour.items():
            self.records_script(keys=[key], args=["uncount", *_flatten(counts)])

    # -- schedule ---------------------------------------------------------------------------------

    def claim_due(self, limit: int, claim_lease_ms: int, watch: Watch | None = None) -> list[Released]:
        """Claim due schedule entries: scheduled ones become queued. Confirm each with
        ``mark_published`` (or ``complete_release``) once it is published; unconfirmed ones come due
        again after the lease. With ``watch``, a due entry of a message already published for this
        queueing is a recovery check (records.lua claim_due); without, it is published again."""
        now = self.now_ms()
        args: list[Any] = ["claim_due", *self._record_prefixes(), now, limit, claim_lease_ms]
        args.append("0" if watch is None else "1")
        if watch is not None:
            args.extend(watch.oldest_waiting_ms.get(lane, 0) for lane in WATCHED_LANES)
            args.extend(watch.limits_ms[lane] for lane in WATCHED_LANES)
        flat = self.records_script(keys=self._schedules(), args=args)
        return [
            Released(str(flat[i]), str(flat[i + 1]), int(flat[i + 2]), str(flat[i + 3]) == "1")
            for i in range(0, len(flat), 4)
        ]

    def mark_published(self, released: Sequence[tuple[str, int, int]], published_ms: int) -> int:
        """(message id, claim score, recovery deadline ms) of messages just published: each entry
        stays as the message's watch until a worker claims it (mark_published.lua)."""
        args: list[Any] = [self.keys.record_prefix, published_ms]
        for message_id, claim_score, deadline_ms in released:
            args.extend((message_id, claim_score, deadline_ms))
        return int(self._mark_published(keys=[self.keys.schedule], args=args)) if released else 0

    def mark_calling(self, message_ids: Sequence[str], lease_token: str, provider: str) -> list[bool]:
        """Note on each record still held with ``lease_token`` that its request to ``provider`` is
        about to leave (mark_calling.lua); one flag per id: False, the lease is no longer ours
        (it expired, the message may be with another worker) and the request must not leave."""
        if not message_ids:
            return []
        marked = self._mark_calling(args=[self.keys.record_prefix, lease_token, provider, *message_ids])
        return marked_of(marked, message_ids)

    def mark_calling_in(
        self, pipe: redis.client.Pipeline, message_ids: Sequence[str], lease_token: str, provider: str
    ) -> None:
        """``mark_calling`` queued on ``pipe`` (a pipeline of this store's client), to go in one round
        trip with other commands; ``marked_of`` reads its reply."""
        self._mark_calling(args=[self.keys.record_prefix, lease_token, provider, *message_ids], client=pipe)

    def complete_release(self, message_id: str, claim_score: int) -> bool:
        return bool(self._remove_if_score(keys=[self.keys.schedule], args=[message_id, claim_score]))

    def complete_releases(self, released: Sequence[tuple[str, int]]) -> None:
        """``complete_release`` for many, in one round trip."""
        with self.redis.pipeline(transaction=False) as pipe:
            for message_id, claim_score in released:
                self._remove_if_score(keys=[self.keys.schedule], args=[message_id, claim_score], client=pipe)
            pipe.execute()

    def scheduled_count(self) -> int:
        return int(self.redis.zcard(self.keys.schedule))

    # -- leases -----------------------------------------------------------------------------------

    def claim_expired_leases(self, limit: int, recheck_after_ms: int) -> list[str]:
        now = self.now_ms()
        ids = self._claim_leases(keys=[self.keys.leases], args=[now, limit, now + recheck_after_ms])
        return [str(message_id) for message_id in ids]

    # -- dead letters -----------------------------------------------------------------------------

    def dead_letter(self, task: str, payload: object, error: str) -> None:
        entry = {"task": task, "payload": _printable(payload), "error": error, "at_ms": self.now_ms()}
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(self.keys.dead_letters, json.dumps(entry, default=repr))
            pipe.ltrim(self.keys.dead_letters, -DEAD_LETTERS_KEPT, -1)
            pipe.expire(self.keys.dead_letters, self.retention_seconds)
            # The list keeps the newest 10,000; this counter says how many were ever written.
            pipe.hincrby(self.keys.metrics(DEAD_LETTERS_TOTAL.name), "", 1)
            pipe.execute()

    def dead_letters(self, limit: int = 100) -> list[dict[str, Any]]:
        raw: list[str] = self.redis.lrange(self.keys.dead_letters, 0, limit - 1)  # type: ignore[assignment]
        return [json.loads(entry) for entry in raw]


def _created(reply: Sequence[Any], charges: Sequence[Charge], warn_at: float) -> tuple[bool, str]:
    """records.lua create's reply: {1, id, counters after}, {0, existing id}, or {-1, refusing charge,
    its value} (raised as the charge's PolicyRefused)."""
    if int(reply[0]) == -1:
        settle(charges, reply[1:], warn_at)  # raises the refusal
    if int(reply[0]) == 1 and charges:
        warn(charges, [int(value) for value in reply[2]], warn_at)
    return int(reply[0]) == 1, str(reply[1])


def _flatten(fields: Fields) -> list[str | int | float]:
    flat: list[str | int | float] = []
    for name, value in fields.items():
        flat.extend((name, value))
    return flat


def _with_id(message_id: str, record: dict[str, str]) -> dict[str, str] | None:
    """Campaign records do not repeat their id inside (it is in the key); every reader gets it."""
    if not record:
        return None
    record.setdefault(ID, message_id)
    return record


def _as_transition(reply: Sequence[Any]) -> Transition:
    record = _pairs(reply[2]) if len(reply) > 2 else None
    return Transition(ok=bool(reply[0]), previous=(reply[1] or None), record=record)


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}


def _printable(payload: object, limit: int = 4000) -> str:
    try:
        text = json.dumps(payload, default=repr)
    except (TypeError, ValueError):
        text = repr(payload)
    return text[:limit]


def marked_of(reply: Sequence[Any], message_ids: Sequence[str]) -> list[bool]:
    """One flag per id from mark_calling.lua's reply (the ids it marked)."""
    ours = {m.decode() if isinstance(m, bytes) else str(m) for m in reply}
    return [message_id in ours for message_id in message_ids]
