"""One blacklist sync run: lock, read every provider's whole list, plan (``workers.blacklist_plan``),
apply the plan locally and at each provider, record what each provider now lists, report.

Safety: one run at a time (a Redis lock with expiry, renewed while it runs); a provider that fails to
be read, or fails call after call, is left out and retried by a later run with backoff, while the
others go on; a provider whose list shrank past the mass-delete limit is left untouched unless the run
is forced; "already listed" (409) and "not listed" (404) count as done, so a second run changes
nothing. Plain functions; the Celery tasks are in ``workers.blacklist_tasks``."""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Literal, TypeVar

from config.settings import BlacklistSettings
from producers.blacklist import Blacklist, NewEntry, mask_number
from producers.blacklist_sync import MAX_PROBLEMS, Problem, ProviderReport, SyncReport, Trigger
from producers.errors import SmsqError
from workers.blacklist_plan import Plan, ProviderPlan, ProviderView, mass_delete, plan_sync
from workers.blacklist_records import ProviderState, SyncLock, SyncRecords
from workers.providers.base import BlacklistEntry, BlacklistProvider
from workers.providers.errors import RateLimited, TransientError
from workers.providers.smsapi_blacklist import SmsapiBlacklistApi

log = logging.getLogger(__name__)
T = TypeVar("T")
Action = Literal["add", "remove"]
Sleep = Callable[[float], None]
PLAN_SAMPLE = 20  # numbers per list shown by a dry run


@dataclass(frozen=True)
class SyncOptions:
    providers: list[str] | None = None  # None: every enabled provider
    dry_run: bool = False
    force: bool = False
    trigger: Trigger = "demand"
    task_id: str | None = None


def with_retries(
    call: Callable[[], T], *, attempts: int, sleep: Sleep, base: float = 0.5, cap: float = 8.0
) -> T:
    """Call, retrying transient failures with jittered exponential backoff (a 429 waits its Retry-After)."""
    attempt = 1
    while True:
        try:
            return call()
        except TransientError as error:
            if attempt >= attempts:
                raise
            if isinstance(error, RateLimited) and error.retry_after is not None:
                delay = min(error.retry_after, 60.0)
            else:
                delay = min(cap, base * 2 ** (attempt - 1)) * random.uniform(0.5, 1.0)
            sleep(delay)
            attempt += 1


def add_at(provider: BlacklistProvider, entry: NewEntry) -> bool:
    """Only SMSAPI keeps an expiry; elsewhere the sync removes the number when it expires."""
    if entry.expires_ms is not None and isinstance(provider, SmsapiBlacklistApi):
        # SMSAPI blocks through the whole expire_at day: the day of the last blocked millisecond.
        last_day = datetime.fromtimestamp((entry.expires_ms - 1) / 1000, tz=UTC).date()
        return provider.blacklist_add(entry.number, expire_at=last_day)
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
            with_retries(call, attempts=settings.call_attempts, sleep=sleep)
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


def read_view(
    provider: BlacklistProvider,
    records: SyncRecords,
    settings: BlacklistSettings,
    sleep: Sleep,
    clock: Callable[[], float],
) -> ProviderView:
    state = records.state(provider.name)
    read_ms = int(clock() * 1000)
    entries = with_retries(provider.blacklist, attempts=settings.call_attempts, sleep=sleep)
    listed = {entry.phone: entry for entry in entries}
    return ProviderView(provider.name, listed, records.previous(provider.name), read_ms, state.read_ms)


def run_sync(
    blacklist: Blacklist,
    providers: Mapping[str, BlacklistProvider],
    settings: BlacklistSettings,
    options: SyncOptions,
    *,
    sleep: Sleep = time.sleep,
) -> SyncReport:
    clock = blacklist.clock
    records = SyncRecords(blacklist.redis, blacklist.keys)
    report = SyncReport(
        task_id=options.task_id,
        status="ok",
        trigger=options.trigger,
        dry_run=options.dry_run,
        forced=options.force,
        started_at=datetime.fromtimestamp(clock(), tz=UTC),
    )
    wanted = options.providers or list(providers)
    for name in wanted:
        if name not in providers:
            report.providers[name] = ProviderReport(
                status="failed", reason="not enabled in the worker's settings"
            )
    selected = {name: providers[name] for name in wanted if name in providers}

    lock = SyncLock(blacklist.redis, blacklist.keys.sync_lock, settings.lock_seconds)
    if not options.dry_run and not lock.acquire():
        report.status, report.detail = "skipped", "another blacklist sync is running"
        report.finished_at = datetime.fromtimestamp(clock(), tz=UTC)
        return report
    try:
        _sync(blacklist, selected, settings, options, records, report, lock, sleep)
    finally:
        if not options.dry_run:
            lock.release()
    report.finished_at = datetime.fromtimestamp(clock(), tz=UTC)
    statuses = [part.status for part in report.providers.values()]
    if statuses and all(status == "failed" for status in statuses):
        report.status = "failed"
    elif any(status != "ok" for status in statuses):
        report.status = "partial"
    if options.task_id and not options.dry_run:
        records.record_run(options.task_id)
    log.info(
        "blacklist sync %s: %s; local +%d -%d; %s",
        options.task_id or "(no task)",
        report.status,
        report.local.added,
        report.local.removed,
        ", ".join(f"{n} {p.status} +{p.added} -{p.removed} !{p.failed}" for n, p in report.providers.items()),
    )
    return report


def _sync(
    blacklist: Blacklist,
    providers: Mapping[str, BlacklistProvider],
    settings: BlacklistSettings,
    options: SyncOptions,
    records: SyncRecords,
    report: SyncReport,
    lock: SyncLock,
    sleep: Sleep,
) -> None:
    clock = blacklist.clock
    if not options.dry_run:
        report.local.expired = len(blacklist.expire_due())
        report.local.tombstones_pruned = blacklist.prune_tombstones(settings.tombstone_days * 86400)
    snapshot = blacklist.snapshot()
    report.local.expired += len(snapshot.expired)

    views: list[ProviderView] = []
    with ThreadPoolExecutor(max(1, len(providers)), thread_name_prefix="sync-read") as pool:
        reads = {
            name: pool.submit(read_view, p, records, settings, sleep, clock) for name, p in providers.items()
        }
    for name, future in reads.items():
        try:
            view = future.result()
        except Exception as error:  # any failure to read leaves this provider out of this run
            _failed(records, settings, report, name, f"cannot read its blacklist: {error}", clock())
            continue
        guard = (
            None
            if options.force
            else mass_delete(view, fraction=settings.mass_delete_fraction, minimum=settings.mass_delete_min)
        )
        if guard:
            report.providers[name] = ProviderReport(status="guarded", listed=len(view.listed), reason=guard)
            log.warning("blacklist sync: %s: %s", name, guard)
            continue
        views.append(view)

    plan = plan_sync(snapshot, views, int(clock() * 1000))
    if options.dry_run:
        _dry_run_report(report, plan, views)
        return

    added = blacklist.add_each(plan.local_add, unless_removed_after_ms=snapshot.taken_ms)
    report.local.added = sum(added)
    for source, numbers in plan.local_remove.items():
        report.local.removed += sum(
            blacklist.remove_each(
                numbers, source=source, reason=f"removed at {source}", unless_added_after_ms=snapshot.taken_ms
            )
        )

    with ThreadPoolExecutor(max(1, len(views)), thread_name_prefix="sync-apply") as pool:
        parts = {
            view.name: pool.submit(
                apply_part, providers[view.name], plan.providers[view.name], settings, sleep, lock.lost
            )
            for view in views
        }
    for view in views:
        try:
            outcome = parts[view.name].result()
        except Exception as error:  # a bug or surprise in one provider's part must not stop the others
            log.exception("blacklist sync: %s failed", view.name)
            _failed(records, settings, report, view.name, f"{type(error).__name__}: {error}", clock())
            continue
        _record(records, settings, report, view, plan.providers[view.name], outcome, clock())
    report.local.listed = len(blacklist.active_numbers())


def _record(
    records: SyncRecords,
    settings: BlacklistSettings,
    report: SyncReport,
    view: ProviderView,
    plan: ProviderPlan,
    outcome: PartOutcome,
    now: float,
) -> None:
    """What the provider lists now is what it listed when read, plus what was added, minus what was removed:
    the next run tells later changes there from ours by diffing against this."""
    listed = (set(view.listed) | outcome.added) - outcome.removed
    part = ProviderReport(
        status="ok" if not outcome.failed else ("failed" if outcome.stopped else "partial"),
        listed=len(view.listed),
        added=len(outcome.added),
        removed=len(outcome.removed),
        unchanged=plan.unchanged,
        failed=outcome.failed,
        reason=outcome.stopped,
        problems=outcome.problems,
    )
    state = ProviderState(read_ms=view.read_ms, last_status=part.status, last_error=outcome.stopped)
    if outcome.transient_failures:
        previous = records.state(view.name)
        state.failures = previous.failures + 1
        state.retry_due_ms = _retry_due_ms(settings, state.failures, now)
        part.retry_at = datetime.fromtimestamp(state.retry_due_ms / 1000, tz=UTC)
    records.save(view.name, listed, state)
    report.providers[view.name] = part


def _failed(
    records: SyncRecords, settings: BlacklistSettings, report: SyncReport, name: str, reason: str, now: float
) -> None:
    """The provider's part failed as a whole: keep its previous record (nothing is known about it now)."""
    log.warning("blacklist sync: %s failed: %s", name, reason)
    state = records.state(name)
    state.failures += 1
    state.retry_due_ms = _retry_due_ms(settings, state.failures, now)
    state.last_status, state.last_error = "failed", reason[:500]
    records.save_state(name, state)
    retry_at = datetime.fromtimestamp(state.retry_due_ms / 1000, tz=UTC)
    report.providers[name] = ProviderReport(
        status="failed",
        reason=reason,
        retry_at=retry_at,
        problems=[Problem(action="read", error=reason[:500])],
    )


def _retry_due_ms(settings: BlacklistSettings, failures: int, now: float) -> int:
    delay = min(settings.retry_max_delay, settings.retry_base_delay * 2 ** (failures - 1))
    return int((now + delay) * 1000)


def _dry_run_report(report: SyncReport, plan: Plan, views: list[ProviderView]) -> None:
    report.local.added = len(plan.local_add)
    report.local.removed = plan.local_remove_count
    removals = sorted(number for numbers in plan.local_remove.values() for number in numbers)
    report.plan = {
        "local": {"add": [e.number for e in plan.local_add[:PLAN_SAMPLE]], "remove": removals[:PLAN_SAMPLE]}
    }
    for view in views:
        part = plan.providers[view.name]
        report.providers[view.name] = ProviderReport(
            listed=len(view.listed), added=len(part.add), removed=len(part.remove), unchanged=part.unchanged
        )
        report.plan[view.name] = {
            "add": [entry.number for entry in part.add[:PLAN_SAMPLE]],
            "remove": [entry.phone for entry in part.remove[:PLAN_SAMPLE]],
        }
