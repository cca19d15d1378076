"""The local blacklist: numbers that must never receive a message, whoever blacklisted them.

Redis keys, under the store's prefix (``Keys.blacklist(part)``):

  entries         hash  number -> JSON {source, reason, added_ms, expires_ms}
  active          zset  number -> expires_ms (+inf: forever). The send path reads only this: a number
                  blocks while its score is in the future, so an entry stops blocking the moment it expires.
  tombstones      zset  number -> removed_ms: removals the sync carries to every provider
  tombstone_info  hash  number -> JSON {source, reason, removed_ms}

Every write is one Lua script, so an entry, its score and its tombstone never disagree. Numbers are
E.164 strings; the producer-facing methods validate their input and raise InvalidInput naming the field.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final, Literal

import redis
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from smsq.config.settings import PROVIDER_NAMES, ProviderName
from smsq.producers.blacklist import lua as blacklist_lua
from smsq.producers.core.keys import BlacklistKeys, Keys
from smsq.producers.core.store import Clock, to_ms
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import PhoneNumber, UtcDatetime
from smsq.producers.messages.numbers import search_digits, to_e164

# Who listed a number: smsq's own entry points, or a provider's list (the sync), by the provider's name.
Source = Literal["api", "cli", "csv", ProviderName]  # one Literal (one error when bad)
SOURCES: Final[tuple[str, ...]] = ("api", "cli", "csv", *PROVIDER_NAMES)
EXPIRY: Final = "expiry"  # the source of a removal made because the entry expired
MAX_REASON = 500
MAX_PAGE = 1000
BATCH = 500  # numbers per Lua call: big enough to amortise the round trip, small enough not to block Redis

_SEARCH = re.compile(r"\+?[0-9]{1,15}", re.ASCII)  # fullmatched, after numbers.search_digits
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class BlacklistedNumber:
    number: str  # E.164
    source: str  # api, cli, csv, or the provider it came from
    reason: str
    added_at: datetime
    expires_at: datetime | None = None


@dataclass(frozen=True)
class NewEntry:
    """An already validated number to add (the sync and CSV import add many at once)."""

    number: str
    source: str
    reason: str = ""
    expires_ms: int | None = None


@dataclass(frozen=True)
class BlacklistPage:
    total: int  # entries matching the search, across all pages
    entries: list[BlacklistedNumber]


@dataclass(frozen=True)
class LocalSnapshot:
    """The whole local list at one moment, for the sync."""

    taken_ms: int
    active: dict[str, NewEntry]
    added_ms: dict[str, int]
    tombstones: dict[str, int]  # number -> removed_ms
    expired: set[str]  # entries whose time is up but which are not tombstones yet


class _AddInput(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: PhoneNumber
    source: Source = "api"
    reason: str = Field("", max_length=MAX_REASON)
    expires_at: UtcDatetime | None = None

    @field_validator("reason")
    @classmethod
    def _printable(cls, value: str) -> str:
        if _CONTROL.search(value):
            raise ValueError("must not contain control characters (newlines, tabs...)")
        return value.strip()


def checked_number(value: object, field: str = "number") -> str:
    try:
        return to_e164(value)
    except ValueError as error:
        raise InvalidInput([(field, str(error))]) from None


def mask_number(number: str) -> str:
    """Numbers in logs and stored reports keep the country part and the last three digits."""
    return number if len(number) < 8 else f"{number[:4]}{'*' * (len(number) - 7)}{number[-3:]}"


def from_ms(value: int | float | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1000, tz=UTC)


def _score(expires_ms: int | None) -> str | int:
    return "+inf" if expires_ms is None else expires_ms


def _chunks(items: Sequence[Any], size: int = BATCH) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class Blacklist:
    """The local blacklist over one Redis client. Thread-safe (redis-py pools its connections)."""

    def __init__(self, client: redis.Redis, *, prefix: str = "smsq", clock: Clock = time.time) -> None:
        self.redis = client
        self.keys = BlacklistKeys(Keys(prefix))
        self.clock = clock
        self._write_entries = client.register_script(blacklist_lua.ENTRIES)
        self._expire_due = client.register_script(blacklist_lua.EXPIRE_DUE)
        self._prune = client.register_script(blacklist_lua.PRUNE_TOMBSTONES)

    def now_ms(self) -> int:
        return to_ms(self.clock())

    # -- the producer API: validated input ----------------------------------------------------

    def add(
        self,
        number: str,
        *,
        source: str = "api",
        reason: str = "",
        expires_at: datetime | str | None = None,
    ) -> bool:
        """Blacklist a number. False when it was already listed (the existing entry is kept)."""
        entry = self.validated_entry(number=number, source=source, reason=reason, expires_at=expires_at)
        return self.add_many([entry]) == 1

    def validated_entry(self, **fields: Any) -> NewEntry:
        """Check one entry's fields; raise InvalidInput naming each bad one."""
        try:
            checked = _AddInput.model_validate({k: v for k, v in fields.items() if v is not None})
        except ValidationError as error:
            raise InvalidInput.from_validation_error(error) from None
        expires_ms = None if checked.expires_at is None else to_ms(checked.expires_at.timestamp())
        if expires_ms is not None and expires_ms <= self.now_ms():
            raise InvalidInput([("expires_at", "is in the past")])
        return NewEntry(checked.number, checked.source, checked.reason, expires_ms)

    def remove(self, number: str, *, source: str = "api", reason: str = "") -> bool:
        """Take a number off the list here and, at the next sync, at every provider. False when it was
        not listed here (the removal still reaches the providers)."""
        checked = self.validated_entry(number=number, source=source, reason=reason)
        return self.remove_many([checked.number], source=checked.source, reason=checked.reason) == 1

    def check(self, number: str) -> bool:
        """True when messages to this number are blocked right now."""
        return self.is_blocked(checked_number(number))

    def get(self, number: str) -> BlacklistedNumber | None:
        checked = checked_number(number)
        return self._entries([checked])[0] if self.is_blocked(checked) else None

    def list_numbers(self, *, search: str | None = None, offset: int = 0, limit: int = 50) -> BlacklistPage:
        """Active entries in number order; ``search`` matches any part of the number."""
        problems = []
        part = search_digits(search) if isinstance(search, str) else search
        if part is not None and not (isinstance(part, str) and _SEARCH.fullmatch(part)):
            problems.append(("search", "must be digits (part of a number), optionally starting with +"))
        if offset < 0:
            problems.append(("offset", "must be 0 or more"))
        if not 1 <= limit <= MAX_PAGE:
            problems.append(("limit", f"must be between 1 and {MAX_PAGE}"))
        if problems:
            raise InvalidInput(problems)
        numbers = self.active_numbers()
        if part:
            numbers = [number for number in numbers if part in number]
        page = numbers[offset : offset + limit]
        return BlacklistPage(total=len(numbers), entries=[e for e in self._entries(page) if e is not None])

    def iter_entries(self, batch: int = 1000) -> Iterator[BlacklistedNumber]:
        """Every active entry in number order, read in batches (for exports)."""
        for chunk in _chunks(self.active_numbers(), batch):
            yield from (entry for entry in self._entries(chunk) if entry is not None)

    # -- the send path and campaign expansion: numbers already in E.164 -------------------------

    def is_blocked(self, number: str) -> bool:
        score = self.redis.zscore(self.keys.active, number)
        return score is not None and float(score) > self.now_ms()

    def blocked_among(self, numbers: Sequence[str]) -> set[str]:
        """Which of these numbers are blocked: one round trip per 1000 numbers (ZMSCORE)."""
        if not numbers:
            return set()
        now = self.now_ms()
        chunks = list(_chunks(list(numbers), 1000))
        with self.redis.pipeline(transaction=False) as pipe:
            for chunk in chunks:
                pipe.zmscore(self.keys.active, list(chunk))
            replies = pipe.execute()
        return {
            number
            for chunk, scores in zip(chunks, replies, strict=True)
            for number, score in zip(chunk, scores, strict=True)
            if score is not None and float(score) > now
        }

    # -- bulk operations for import and sync: no validation here -----------------------------

    def add_many(self, entries: Iterable[NewEntry]) -> int:
        """Add what is not already listed; returns how many were added."""
        return sum(self.add_each(list(entries)))

    def add_each(
        self, entries: Sequence[NewEntry], *, unless_removed_after_ms: int | None = None
    ) -> list[bool]:
        """Like add_many, with one flag per entry: True when it was added, False when already listed (or,
        with ``unless_removed_after_ms``, removed after that moment)."""
        now = self.now_ms()
        cutoff = "" if unless_removed_after_ms is None else unless_removed_after_ms
        with self.redis.pipeline(transaction=False) as pipe:
            for chunk in _chunks(entries):
                args: list[Any] = ["add", now, cutoff]
                for entry in chunk:
                    meta = {"source": entry.source, "reason": entry.reason, "added_ms": now,
                            "expires_ms": entry.expires_ms}  # fmt: skip
                    args.extend((entry.number, json.dumps(meta), _score(entry.expires_ms)))
                self._write_entries(keys=self.keys.four, args=args, client=pipe)
            replies = pipe.execute()
        return [bool(flag) for reply in replies for flag in reply]

    def remove_many(self, numbers: Iterable[str], *, source: str, reason: str = "") -> int:
        """Remove and leave tombstones; returns how many were listed here."""
        return sum(self.remove_each(list(numbers), source=source, reason=reason))

    def remove_each(
        self,
        numbers: Sequence[str],
        *,
        source: str,
        reason: str = "",
        unless_added_after_ms: int | None = None,
    ) -> list[bool]:
        """One flag per number: True when it was listed here (and, with ``unless_added_after_ms``, not
        added after that moment, in which case it stays)."""
        now = self.now_ms()
        cutoff = "" if unless_added_after_ms is None else unless_added_after_ms
        info = json.dumps({"source": source, "reason": reason, "removed_ms": now})
        with self.redis.pipeline(transaction=False) as pipe:
            for chunk in _chunks(numbers):
                args: list[Any] = ["remove", now, cutoff]
                for number in chunk:
                    args.extend((number, info))
                self._write_entries(keys=self.keys.four, args=args, client=pipe)
            replies = pipe.execute()
        return [bool(flag) for reply in replies for flag in reply]

    def expire_due(self, limit: int = 10_000) -> list[str]:
        """Turn entries whose time is up into tombstones, so the sync removes them at the providers."""
        expired: list[str] = []
        while True:
            batch = [str(n) for n in self._expire_due(keys=self.keys.four, args=[self.now_ms(), limit])]
            expired.extend(batch)
            if len(batch) < limit:
                return expired

    def prune_tombstones(self, older_than_seconds: float, limit: int = 10_000) -> int:
        cutoff = self.now_ms() - to_ms(older_than_seconds)
        keys = [self.keys.tombstones, self.keys.tombstone_info]
        pruned = 0
        while True:
            count = int(self._prune(keys=keys, args=[cutoff, limit]))
            pruned += count
            if count < limit:
                return pruned

    def active_numbers(self) -> list[str]:
        numbers: list[str] = self.redis.zrangebyscore(self.keys.active, f"({self.now_ms()}", "+inf")  # type: ignore[assignment]
        return sorted(numbers)

    def tombstones(self) -> dict[str, int]:
        pairs: list[tuple[str, float]] = self.redis.zrange(self.keys.tombstones, 0, -1, withscores=True)  # type: ignore[assignment]
        return {str(number): int(score) for number, score in pairs}

    def snapshot(self) -> LocalSnapshot:
        now = self.now_ms()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrangebyscore(self.keys.active, f"({now}", "+inf")
            pipe.zrangebyscore(self.keys.active, "-inf", now)
            pipe.hgetall(self.keys.entries)
            pipe.zrange(self.keys.tombstones, 0, -1, withscores=True)
            numbers, expired, raw_entries, tombstones = pipe.execute()
        active: dict[str, NewEntry] = {}
        added_ms: dict[str, int] = {}
        for number in numbers:
            meta = json.loads(raw_entries.get(number) or "{}")
            active[number] = NewEntry(number, meta.get("source", "api"), meta.get("reason", ""),
                                      meta.get("expires_ms"))  # fmt: skip
            added_ms[number] = int(meta.get("added_ms") or 0)
        tombstoned = {str(number): int(score) for number, score in tombstones}
        return LocalSnapshot(now, active, added_ms, tombstoned, set(expired))

    def _entries(self, numbers: Sequence[str]) -> list[BlacklistedNumber | None]:
        if not numbers:
            return []
        raw: list[str | None] = self.redis.hmget(self.keys.entries, list(numbers))  # type: ignore[assignment]
        return [_entry(number, value) for number, value in zip(numbers, raw, strict=True)]


def _entry(number: str, raw: str | None) -> BlacklistedNumber | None:
    if raw is None:
        return None
    meta = json.loads(raw)
    added_at = from_ms(meta.get("added_ms") or 0)
    assert added_at is not None
    return BlacklistedNumber(
        number=number,
        source=str(meta.get("source", "")),
        reason=str(meta.get("reason", "")),
        added_at=added_at,
        expires_at=from_ms(meta.get("expires_ms")),
    )
