"""What a blacklist sync should change: a pure function of the local list, each provider's list now,
and each provider's list as the previous sync left it. No I/O here.

For each number the plan decides one thing, "blocked" or not, then makes every place agree:

- fresh additions: a number a provider lists now but did not list after the previous sync (or that
  provider was never synced) was blacklisted there since; it is blocked.
- removals: a local tombstone, or a number a provider listed after the previous sync and lists no
  more (removed there since). A local entry added after that provider was read is not "removed".
- blocked = fresh additions + (everything listed anywhere, locally or at a provider, - removals).
  A fresh addition beats a removal made in the same interval: when in doubt, do not send.

Then: local gets every blocked number it lacks and loses every one it holds that is not blocked;
each provider likewise. A provider whose list lost more than the mass-delete limit since the previous
sync is not trusted (``mass_delete``): its part is skipped, unless the sync is forced."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from smsq.producers.blacklist.store import LocalSnapshot, NewEntry
from smsq.workers.providers.base import BlacklistEntry


@dataclass(frozen=True)
class ProviderView:
    """One provider's list as just read, and the record the previous sync left."""

    name: str
    listed: Mapping[str, BlacklistEntry]  # number (E.164) -> entry (with the id removals need)
    previous: frozenset[str] | None  # None: never synced
    read_ms: int  # when it was read
    previous_read_ms: int | None = None  # when the previous sync read it


@dataclass
class ProviderPlan:
    add: list[NewEntry] = field(default_factory=list)  # with the expiry, for providers that keep one
    remove: list[BlacklistEntry] = field(default_factory=list)
    unchanged: int = 0


@dataclass
class Plan:
    local_add: list[NewEntry] = field(default_factory=list)  # source: the provider it was found at
    local_remove: dict[str, list[str]] = field(default_factory=dict)  # source -> numbers
    providers: dict[str, ProviderPlan] = field(default_factory=dict)

    @property
    def local_remove_count(self) -> int:
        return sum(len(numbers) for numbers in self.local_remove.values())


def expires_ms(value: str | None) -> int | None:
    """A provider's expiry (SMSAPI ``expire_at``: a date or an ISO-8601 time) in ms. A bare date blocks
    through that whole day (as SMSAPI applies it); an unreadable one counts as forever (the safe side)."""
    if not value:
        return None
    try:
        if len(value) == 10:
            end = datetime.combine(date.fromisoformat(value), datetime.min.time(), UTC) + timedelta(days=1)
            return int(end.timestamp() * 1000)
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def mass_delete(view: ProviderView, *, fraction: float, minimum: int) -> str | None:
    """Why this provider's list is not trusted (it lost too many numbers since the previous sync)."""
    if not view.previous:
        return None
    gone = sum(1 for number in view.previous if number not in view.listed)
    limit = max(minimum, fraction * len(view.previous))
    if gone <= limit:
        return None
    return (
        f"mass-delete guard: {gone} of the {len(view.previous)} numbers listed at the previous sync are gone "
        f"({gone / len(view.previous):.0%}, limit {fraction:.0%} and {minimum}); "
        "nothing changed there or because of it; run a forced sync (--force) if the removals are real"
    )


def plan_sync(local: LocalSnapshot, views: Sequence[ProviderView], now_ms: int) -> Plan:
    # Entries whose time is up count as removed, even before they are turned into tombstones.
    removed_locally = set(local.tombstones) | local.expired
    live: dict[str, dict[str, BlacklistEntry]] = {
        view.name: {n: e for n, e in view.listed.items() if (expires_ms(e.expires_at) or now_ms + 1) > now_ms}
        for view in views
    }

    fresh: set[str] = set()
    removed: dict[str, str] = {number: "local" for number in removed_locally}
    for view in views:
        previous = view.previous or frozenset()
        fresh.update(number for number in live[view.name] if number not in previous)
        if view.previous is None:
            continue
        for number in view.previous:
            if number in view.listed or number in removed:
                continue
            added_ms = local.added_ms.get(number) if number in local.active else None
            read_ms = view.previous_read_ms or 0
            if added_ms is not None and added_ms > read_ms:
                continue  # blacklisted here again after that provider was read: not a removal
            removed[number] = view.name

    listed_anywhere = set(local.active).union(*(live[view.name] for view in views))
    blocked = fresh | {number for number in listed_anywhere if number not in removed}

    plan = Plan()
    for number in sorted(blocked - set(local.active)):
        plan.local_add.append(_found_entry(number, views, live))
    for number in sorted(set(local.active) - blocked):
        plan.local_remove.setdefault(removed.get(number, "local"), []).append(number)

    for view in views:
        provider_plan = ProviderPlan()
        for number in sorted(blocked - set(view.listed)):
            source = local.active.get(number) or _found_entry(number, views, live)
            provider_plan.add.append(source)
        for number in sorted(set(view.listed) - blocked):
            provider_plan.remove.append(view.listed[number])
        provider_plan.unchanged = len(view.listed) - len(provider_plan.remove)
        plan.providers[view.name] = provider_plan
    return plan


def _found_entry(
    number: str, views: Sequence[ProviderView], live: Mapping[str, Mapping[str, BlacklistEntry]]
) -> NewEntry:
    """A number to add, as the first provider listing it has it."""
    for view in views:
        entry = live[view.name].get(number)
        if entry is not None:
            return NewEntry(number, view.name, f"listed at {view.name}", expires_ms(entry.expires_at))
    raise AssertionError(f"{number} is blocked but listed nowhere")
