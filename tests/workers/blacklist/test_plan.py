"""The sync's decisions as a pure function: local list + each provider now + the previous record."""

from __future__ import annotations

from collections.abc import Iterable

import pytest

from smsq.producers.blacklist.store import LocalSnapshot, NewEntry
from smsq.workers.blacklist.plan import Plan, ProviderView, expires_ms, mass_delete, plan_sync
from smsq.workers.providers.base import BlacklistEntry

NOW = 1_800_000_000_000
X, Y, Z = "+37251000001", "+37251000002", "+37251000003"


def local(
    active: Iterable[str] = (), *, tombstones: Iterable[str] = (), added_ms: int = NOW - 10_000
) -> LocalSnapshot:
    numbers = list(active)
    return LocalSnapshot(
        taken_ms=NOW,
        active={n: NewEntry(n, "api") for n in numbers},
        added_ms=dict.fromkeys(numbers, added_ms),
        tombstones=dict.fromkeys(tombstones, NOW - 5),
        expired=set(),
    )


def view(
    name: str, listed: Iterable[str], previous: Iterable[str] | None = None, *, expire_at: str | None = None
) -> ProviderView:
    entries = {n: BlacklistEntry(n, provider_id=f"id-{n}", expires_at=expire_at) for n in listed}
    return ProviderView(name, entries, None if previous is None else frozenset(previous), NOW, NOW - 1000)


def changes(plan: Plan) -> dict[str, tuple[list[str], list[str]]]:
    result = {
        "local": (
            [e.number for e in plan.local_add],
            sorted(n for ns in plan.local_remove.values() for n in ns),
        )
    }
    for name, part in plan.providers.items():
        result[name] = ([e.number for e in part.add], [e.phone for e in part.remove])
    return result


def test_a_first_sync_unites_every_list() -> None:
    plan = plan_sync(local([X]), [view("smsapi", [Y]), view("messente", [Z])], NOW)
    assert changes(plan) == {"local": ([Y, Z], []), "smsapi": ([X, Z], []), "messente": ([X, Y], [])}
    assert [(e.number, e.source) for e in plan.local_add] == [(Y, "smsapi"), (Z, "messente")]


def test_in_step_lists_change_nothing() -> None:
    plan = plan_sync(local([X, Y]), [view("smsapi", [X, Y], [X, Y]), view("messente", [X, Y], [X, Y])], NOW)
    assert changes(plan) == {"local": ([], []), "smsapi": ([], []), "messente": ([], [])}
    assert plan.providers["smsapi"].unchanged == 2


def test_a_number_added_at_one_provider_since_the_last_sync_goes_everywhere() -> None:
    plan = plan_sync(local([X]), [view("smsapi", [X, Y], [X]), view("messente", [X], [X])], NOW)
    assert changes(plan) == {"local": ([Y], []), "smsapi": ([], []), "messente": ([Y], [])}


def test_a_local_removal_is_carried_to_every_provider_that_had_the_number() -> None:
    plan = plan_sync(
        local([Y], tombstones=[X]), [view("smsapi", [X, Y], [X, Y]), view("dm", [X, Y], [X, Y])], NOW
    )
    assert changes(plan) == {"local": ([], []), "smsapi": ([], [X]), "dm": ([], [X])}
    assert plan.providers["dm"].remove[0].provider_id == f"id-{X}"  # the id SMSAPI and DM delete by


def test_a_removal_at_one_provider_is_carried_to_local_and_the_others() -> None:
    plan = plan_sync(local([X, Y]), [view("smsapi", [Y], [X, Y]), view("dm", [X, Y], [X, Y])], NOW)
    assert changes(plan) == {"local": ([], [X]), "smsapi": ([], []), "dm": ([], [X])}
    assert plan.local_remove == {"smsapi": [X]}


def test_a_fresh_addition_beats_a_removal_made_in_the_same_interval() -> None:
    # removed locally, but blacklisted at DM since the last sync: when in doubt, do not send
    plan = plan_sync(local([], tombstones=[X]), [view("smsapi", [X], [X]), view("dm", [X], [])], NOW)
    assert changes(plan) == {"local": ([X], []), "smsapi": ([], []), "dm": ([], [])}


def test_a_local_entry_added_after_the_provider_was_read_is_not_removed() -> None:
    # gone at SMSAPI since the last sync, but blacklisted here again after that sync read SMSAPI
    plan = plan_sync(local([X], added_ms=NOW - 1), [view("smsapi", [], [X])], NOW)
    assert changes(plan) == {"local": ([], []), "smsapi": ([X], [])}


def test_an_expired_local_entry_is_removed_everywhere() -> None:
    snapshot = local([])
    snapshot.expired.add(X)
    plan = plan_sync(snapshot, [view("smsapi", [X], [X]), view("messente", [X], [X])], NOW)
    assert changes(plan) == {"local": ([], []), "smsapi": ([], [X]), "messente": ([], [X])}


def test_an_entry_expired_at_the_provider_is_no_source_of_additions() -> None:
    plan = plan_sync(local([]), [view("smsapi", [X], [], expire_at="2001-01-01"), view("dm", [], [])], NOW)
    assert changes(plan) == {"local": ([], []), "smsapi": ([], [X]), "dm": ([], [])}


def test_a_provider_expiry_travels_with_the_number() -> None:
    plan = plan_sync(local([]), [view("smsapi", [X], [], expire_at="2030-01-31"), view("dm", [], [])], NOW)
    assert plan.local_add[0].expires_ms == expires_ms("2030-02-01T00:00:00Z")
    assert plan.providers["dm"].add[0].expires_ms == plan.local_add[0].expires_ms


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("2030-01-31", 1896134400000),  # a bare date blocks through that day
        ("2030-01-31T10:00:00+00:00", 1896084000000),
        ("2030-01-31T10:00:00", 1896084000000),
        ("soon", None),  # unreadable: forever, the safe side
    ],
)
def test_provider_expiry_values(value: str | None, expected: int | None) -> None:
    assert expires_ms(value) == expected


@pytest.mark.parametrize(
    ("previous", "now", "tripped"),
    [
        (100, 100, False),
        (100, 80, False),  # 20 gone: exactly the 20 % limit
        (100, 79, True),
        (100, 0, True),  # the provider suddenly answers an empty list
        (12, 0, True),
        (10, 0, False),  # below the absolute minimum: small lists may empty out
        (0, 0, False),
    ],
)
def test_the_mass_delete_guard(previous: int, now: int, tripped: bool) -> None:
    numbers = [f"+3725100{n:04d}" for n in range(previous)]
    reason = mass_delete(view("smsapi", numbers[:now], numbers), fraction=0.2, minimum=10)
    assert (reason is not None) is tripped
    if reason:
        assert f"{previous - now} of the {previous} numbers" in reason and "--force" in reason


def test_a_never_synced_provider_is_never_guarded() -> None:
    assert mass_delete(view("smsapi", [], None), fraction=0.2, minimum=0) is None
