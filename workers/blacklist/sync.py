"""One blacklist sync run: lock, read every provider's whole list, plan (``smsq.workers.blacklist.plan``),
apply the plan locally and at each provider, record what each provider now lists, report.

Safety: one run at a time (a Redis lock with expiry, renewed while it runs); every provider call takes
a token from that provider's global rate limit, at the lowest tier; a provider that fails to
be read, or fails call after call, is left out and retried by a later run with backoff, while the
others go on; a provider whose list shrank past the mass-delete limit is left untouched unless the run
is forced; "already listed" (409) and "not listed" (404) count as done, so a second run changes
nothing. Plain functions; the Celery tasks are in ``smsq.workers.blacklist.tasks``."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from smsq.config.contract import Trigger
from smsq.config.settings import BlacklistSettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.blacklist.sync import Problem, ProviderReport, SyncReport
from smsq.workers.blacklist.apply import Gate, PartOutcome, Sleep, apply_part, with_retries
from smsq.workers.blacklist.plan import Plan, ProviderPlan, ProviderView, mass_delete, plan_sync
from smsq.workers.blacklist.records import ProviderState, SyncLock, SyncRecords
from smsq.workers.limits.ratelimit import RateLimiter
from smsq.workers.providers.base import BlacklistProvider

log = logging.getLogger(__name__)
PLAN_SAMPLE = 20  # numbers per list shown by a dry run


@dataclass(frozen=True)
class SyncOptions:
    providers: list[str] | None = None  # None: every enabled provider
    dry_run: bool = False
    force: bool = False
    trigger: Trigger = "demand"
    task_id: str | None = None


def read_view(
    provider: BlacklistProvider,
    records: SyncRecords,
    settings: BlacklistSettings,
    sleep: Sleep,
    clock: Callable[[], float],
    gate: Gate | None = None,
) -> ProviderView:
    state = records.state(provider.name)
    read_ms = int(clock() * 1000)
    entries = with_retries(provider.blacklist, attempts=settings.call_attempts, sleep=sleep, gate=gate)
    listed = {entry.phone: entry for entry in entries}
    return ProviderView(provider.name, listed, records.previous(provider.name), read_ms, state.read_ms)


def run_sync(
    blacklist: Blacklist,
    providers: Mapping[str, BlacklistProvider],
    settings: BlacklistSettings,
    options: SyncOptions,
    *,
    sleep: Sleep = time.sleep,
    limiter: RateLimiter | None = None,
) -> SyncReport:
    """One run. With ``limiter``, every provider call first takes a token from that provider's global
    rate limit, so a big sync cannot starve the send path."""
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
        gates = {name: Gate(limiter, name, sleep) for name in selected} if limiter is not None else {}
        _sync(blacklist, selected, settings, options, records, report, lock, sleep, gates)
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
    gates: Mapping[str, Gate],
) -> None:
    clock = blacklist.clock
    if not options.dry_run:
        report.local.expired = len(blacklist.expire_due())
        report.local.tombstones_pruned = blacklist.prune_tombstones(settings.tombstone_days * 86400)
    snapshot = blacklist.snapshot()
    report.local.expired += len(snapshot.expired)
    report.local.listed = len(snapshot.active)  # a real run counts again at the end

    views: list[ProviderView] = []
    with ThreadPoolExecutor(max(1, len(providers)), thread_name_prefix="sync-read") as pool:
        reads = {
            name: pool.submit(read_view, p, records, settings, sleep, clock, gates.get(name))
            for name, p in providers.items()
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
                apply_part,
                providers[view.name],
                plan.providers[view.name],
                settings,
                sleep,
                lock.lost,
                gates.get(view.name),
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
