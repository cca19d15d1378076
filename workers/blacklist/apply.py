"""Calling the providers for a blacklist sync: retries with backoff, the shared rate limit, and one
provider's adds and removals applied with several calls in flight (``apply_part``)."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

from smsq.config.settings import BlacklistSettings
from smsq.producers.blacklist.store import NewEntry, mask_number
from smsq.producers.blacklist.sync import MAX_PROBLEMS, Problem
from smsq.producers.errors import SmsqError
from smsq.workers.blacklist.plan import ProviderPlan
from smsq.workers.limits.ratelimit import RateLimiter
from smsq.workers.providers.base import BlacklistEntry, BlacklistProvider, ExpiringBlacklistProvider
from smsq.workers.providers.errors import RateLimited, TransientError

T = TypeVar("T")
Sleep = Callable[[float], None]
Action = Literal["add", "remove"]


def with_retries(
    call: Callable[[], T],
    *,
    attempts: int,
    sleep: Sleep,
    base: float = 0.5,
    cap: float = 8.0,
    gate: Gate | None = None,
) -> T:
    """Call, retrying transient failures with jittered exponential backoff (a 429 waits its Retry-After).
    ``gate`` is asked before every try (the provider's global rate limit)."""
    attempt = 1
    while True:
        try:
            if gate is not None:
                gate.take()
            return call()
        except TransientError as error:
            if isinstance(error, RateLimited) and gate is not None:
                gate.paused(error.retry_after)
            if attempt >= attempts:
                raise
            if isinstance(error, RateLimited) and error.retry_after is not None:
                delay = min(error.retry_after, 60.0)
            else:
                delay = min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            sleep(delay)
            attempt += 1


@dataclass(frozen=True)
class Gate:
    """A provider's global rate limit (shared with the send path). The sync takes its tokens at the
    `status` tier, the lowest, so sends always come first. A token that does not come within
    ``max_wait`` seconds fails the call as transient, so a limiter that never grants cannot hang a run."""

    limiter: RateLimiter
    provider: str
    sleep: Sleep
    tier: str = "status"
    max_wait: float = 30.0

    def take(self) -> None:
        waited, deadline = 0.0, time.monotonic() + self.max_wait  # waits asked for, and real time
        while (wait := self.limiter.acquire(self.provider, self.tier)) > 0:
            if waited + wait > self.max_wait or time.monotonic() > deadline:
                raise TransientError(
                    self.provider, f"no rate-limit token within {self.max_wait:g} s", code="rate"
                )
            self.sleep(wait)
            waited += wait

    def paused(self, retry_after: float | None) -> None:
        """The provider said 429: hold every worker's calls to it, sends included."""
        self.limiter.pause(self.provider, retry_after if retry_after is not None else 1.0)


def add_at(provider: BlacklistProvider, entry: NewEntry) -> bool:
    """Only a provider that keeps an expiry itself (SMSAPI) is told it; elsewhere the sync removes the
    number when it expires."""
    if entry.expires_ms is not None and isinstance(provider, ExpiringBlacklistProvider):
        # Listed through the whole last day: the day of the last blocked millisecond.
        last_day = datetime.fromtimestamp((entry.expires_ms - 1) / 1000, tz=UTC).date()
        return provider.blacklist_add_until(entry.number, last_day)
    return provider.blacklist_add(entry.number)


@dataclass
class PartOutcome:
    """What happened at one provider while applying its plan."""

    added: set[str] = field(default_factory=set)  # now listed there (added, or already there: 409)
    removed: set[str] = field(default_factory=set)  # no longer listed there (removed, or 404)
    failed: int = 0
    transient_failures: int = 0
    problems: list[Problem] = field(default_factory=list)
    stopped: str = ""  # why the part stopped early (an outage, a lost lock)


def apply_part(
    provider: BlacklistProvider,
    plan: ProviderPlan,
    settings: BlacklistSettings,
    sleep: Sleep,
    lost: threading.Event,
    gate: Gate | None = None,
) -> PartOutcome:
    """Apply one provider's adds and removals with ``settings.concurrency`` calls in flight. After
    ``outage_after`` failed calls in a row the rest are skipped: the provider is down, not the numbers."""
    outcome = PartOutcome()
    guard = threading.Lock()
    stop = threading.Event()
    in_a_row = 0

    def run(action: Action, number: str, call: Callable[[], bool]) -> None:
        nonlocal in_a_row
        if stop.is_set() or lost.is_set():
            return
        try:
            with_retries(call, attempts=settings.call_attempts, sleep=sleep, gate=gate)
        except SmsqError as error:  # provider errors, and numbers a provider module refuses to send
            with guard:
                outcome.failed += 1
                in_a_row += 1
                if isinstance(error, TransientError):
                    outcome.transient_failures += 1
                if len(outcome.problems) < MAX_PROBLEMS:
                    outcome.problems.append(
                        Problem(number=mask_number(number), action=action, error=str(error))
                    )
                if in_a_row >= settings.outage_after and not stop.is_set():
                    outcome.stopped = f"stopped after {in_a_row} failed calls in a row; last: {error}"
                    stop.set()
            return
        with guard:
            in_a_row = 0
            (outcome.added if action == "add" else outcome.removed).add(number)

    def add(entry: NewEntry) -> None:
        run("add", entry.number, lambda: add_at(provider, entry))

    def remove(entry: BlacklistEntry) -> None:
        run("remove", entry.phone, lambda: provider.blacklist_remove(entry))

    with ThreadPoolExecutor(settings.concurrency, thread_name_prefix=f"sync-{provider.name}") as pool:
        futures = [pool.submit(add, entry) for entry in plan.add]
        futures += [pool.submit(remove, entry) for entry in plan.remove]
        for future in futures:
            future.result()
    not_done = len(plan.add) + len(plan.remove) - len(outcome.added) - len(outcome.removed) - outcome.failed
    if not_done:
        outcome.failed += not_done
        outcome.stopped = outcome.stopped or "stopped: the sync lock was lost to another run"
        outcome.transient_failures += not_done
    return outcome
