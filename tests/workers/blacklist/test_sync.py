"""Sync runs against the sandbox (in a thread, over loopback) with the real provider clients."""

from __future__ import annotations

import httpx
import redis

from smsq.producers.blacklist.store import Blacklist
from smsq.workers.blacklist.records import SyncLock, SyncRecords
from smsq.workers.providers.base import BlacklistProvider
from tests.support.fakes import FakeClock
from tests.support.sandbox import blacklists
from tests.workers.blacklist.conftest import ADMIN_NAMES, Syncer, X, Y, Z, counts, writes


def test_a_number_added_at_smsapi_reaches_messente_dm_and_local(
    sync: Syncer, providers: dict[str, BlacklistProvider], blacklist: Blacklist, admin: httpx.Client
) -> None:
    providers["smsapi"].blacklist_add(X)
    report = sync()
    assert report.status == "ok"
    assert blacklist.check(X)
    entry = blacklist.get(X)
    assert entry is not None and (entry.source, entry.reason) == ("smsapi", "listed at smsapi")
    assert blacklists(admin) == {"messente": {X}, "smsapi": {X}, "direct_messenger": {X}}
    assert counts(report) == {
        "local": ("-", 1, 0, 0),
        "messente": ("ok", 1, 0, 0),
        "smsapi": ("ok", 0, 0, 0),
        "direct_messenger": ("ok", 1, 0, 0),
    }
    assert report.providers["smsapi"].unchanged == 1


def test_a_repeated_sync_is_a_no_op(
    sync: Syncer, providers: dict[str, BlacklistProvider], blacklist: Blacklist, admin: httpx.Client
) -> None:
    blacklist.add(X)
    providers["direct_messenger"].blacklist_add(Y)
    providers["messente"].blacklist_add(Z)
    sync()
    before = blacklists(admin)
    admin.delete("/_admin/requests")
    report = sync()
    assert all(tuple(change) == (0, 0, 0) for _, *change in counts(report).values())
    assert writes(admin) == []
    assert blacklists(admin) == before == {name: {X, Y, Z} for name in ADMIN_NAMES}
    assert report.local.listed == 3 and report.providers["messente"].unchanged == 3


def test_a_local_removal_reaches_all_three(sync: Syncer, blacklist: Blacklist, admin: httpx.Client) -> None:
    blacklist.add(X)
    blacklist.add(Y)
    sync()
    blacklist.remove(X, source="cli", reason="consent")
    report = sync()
    assert blacklists(admin) == {name: {Y} for name in ADMIN_NAMES}
    assert {name: part.removed for name, part in report.providers.items()} == dict.fromkeys(ADMIN_NAMES, 1)
    # SMSAPI and Direct Messenger delete by id: taken from the list the sync had just read
    assert any(w.startswith("DELETE /smsapi/blacklist/phone_numbers/") for w in writes(admin))
    assert any(w.startswith("POST /dm/api/blacklist/delete/") for w in writes(admin))


def test_a_removal_at_one_provider_reaches_local_and_the_others(
    sync: Syncer, providers: dict[str, BlacklistProvider], blacklist: Blacklist, admin: httpx.Client
) -> None:
    blacklist.add(X)
    blacklist.add(Y)
    sync()
    (entry,) = [e for e in providers["direct_messenger"].blacklist() if e.phone == X]
    providers["direct_messenger"].blacklist_remove(entry)
    report = sync()
    assert not blacklist.check(X) and blacklist.check(Y)
    assert blacklists(admin) == {name: {Y} for name in ADMIN_NAMES}
    assert report.local.removed == 1
    assert blacklist.tombstones().keys() == {X}


def test_an_expiring_entry_goes_to_smsapi_with_its_day_and_is_removed_everywhere_when_it_expires(
    sync: Syncer, blacklist: Blacklist, clock: FakeClock, admin: httpx.Client
) -> None:
    blacklist.add(X, expires_at="2027-03-01T12:00:00Z")
    sync()
    (smsapi_entry,) = admin.get("/_admin/blacklists").json()["smsapi"]
    assert smsapi_entry["expire_at"] == "2027-03-01"
    clock.now = 1_803_000_000  # 2027-02-20: still listed
    assert sync().local.expired == 0 and blacklists(admin)["messente"] == {X}
    clock.now = 1_804_000_000  # 2027-03-04: expired
    report = sync()
    assert report.local.expired == 1 and not blacklist.check(X)
    assert blacklists(admin) == {name: set() for name in ADMIN_NAMES}


def test_a_dry_run_reports_the_plan_and_changes_nothing(
    sync: Syncer, providers: dict[str, BlacklistProvider], blacklist: Blacklist, redis_client: redis.Redis,
    admin: httpx.Client,
) -> None:  # fmt: skip
    blacklist.add(X)
    providers["smsapi"].blacklist_add(Y)
    keys_before = sorted(redis_client.keys("*"))
    report = sync(dry_run=True)
    assert report.dry_run and report.plan is not None
    assert report.plan["local"] == {"add": [Y], "remove": []}
    assert report.local.listed == 1
    assert report.plan["messente"] == {"add": [X, Y], "remove": []}
    assert report.plan["smsapi"] == {"add": [X], "remove": []}
    assert counts(report)["direct_messenger"] == ("ok", 2, 0, 0)
    assert blacklists(admin) == {"messente": set(), "smsapi": {Y}, "direct_messenger": set()}
    assert not blacklist.check(Y)
    assert sorted(redis_client.keys("*")) == keys_before  # no record, no state, no run id


def test_a_sync_keeps_out_while_another_holds_the_lock(
    sync: Syncer, blacklist: Blacklist, redis_client: redis.Redis, admin: httpx.Client
) -> None:
    blacklist.add(X)
    other = SyncLock(redis_client, blacklist.keys.sync_lock, ttl_seconds=30)
    assert other.acquire()
    try:
        report = sync()
        assert (report.status, report.detail) == ("skipped", "another blacklist sync is running")
        assert blacklists(admin)["messente"] == set()
    finally:
        other.release()
    assert sync().status == "ok" and blacklists(admin)["messente"] == {X}


def test_run_ids_are_recorded_newest_first_for_reports(sync: Syncer, redis_client: redis.Redis) -> None:
    sync(task_id="11111111-1111-1111-1111-111111111111")
    sync(task_id="22222222-2222-2222-2222-222222222222", dry_run=True)  # a plan is no run
    sync(task_id="33333333-3333-3333-3333-333333333333")
    records = SyncRecords(redis_client, Blacklist(redis_client, prefix="t").keys)
    assert redis_client.lrange(records.keys.sync_runs, 0, -1) == [
        "33333333-3333-3333-3333-333333333333",
        "11111111-1111-1111-1111-111111111111",
    ]


def test_only_the_named_provider_is_synced(
    sync: Syncer, providers: dict[str, BlacklistProvider], blacklist: Blacklist, admin: httpx.Client
) -> None:
    providers["smsapi"].blacklist_add(X)
    report = sync(providers=["smsapi", "messente"])
    assert set(report.providers) == {"smsapi", "messente"}
    assert blacklist.check(X) and blacklists(admin) == {
        "messente": {X},
        "smsapi": {X},
        "direct_messenger": set(),
    }
