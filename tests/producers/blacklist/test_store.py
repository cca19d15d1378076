from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta

import pytest
import redis

from smsq.producers.blacklist.csv_files import export_csv, import_csv
from smsq.producers.blacklist.store import Blacklist, NewEntry, mask_number
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from tests.support.fakes import FakeClock, RecordingPublisher

A, B, C = "+37251234501", "+37251234502", "+37251234503"


@pytest.fixture
def blacklist(redis_client: redis.Redis, clock: FakeClock) -> Blacklist:
    return Blacklist(redis_client, prefix="t", clock=clock)


def stored_keys(client: redis.Redis) -> list[str]:
    return sorted(str(key) for key in client.keys("t:blacklist:*"))


def test_an_added_number_is_blocked_with_its_source_reason_and_time(
    blacklist: Blacklist, clock: FakeClock
) -> None:
    assert blacklist.add("+372 5123 4501", source="cli", reason="asked by phone") is True
    assert blacklist.check(A) and blacklist.is_blocked(A)
    entry = blacklist.get("37251234501")
    assert entry is not None
    assert (entry.number, entry.source, entry.reason, entry.expires_at) == (A, "cli", "asked by phone", None)
    assert entry.added_at == datetime.fromtimestamp(clock.now, tz=UTC)
    assert not blacklist.check(B) and blacklist.get(B) is None


def test_adding_a_listed_number_again_keeps_the_first_entry(blacklist: Blacklist) -> None:
    assert blacklist.add(A, reason="first") is True
    assert blacklist.add(A, reason="second", source="csv") is False
    entry = blacklist.get(A)
    assert entry is not None and (entry.source, entry.reason) == ("api", "first")


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"number": "+372123"}, "number"),
        ({"number": "hello"}, "number"),
        ({"number": A, "source": "fax"}, "source"),
        ({"number": A, "reason": "x" * 501}, "reason"),
        ({"number": A, "reason": "two\nlines"}, "reason"),
        ({"number": A, "expires_at": "next tuesday"}, "expires_at"),
        ({"number": A, "expires_at": "2001-01-01T00:00:00Z"}, "expires_at"),
    ],
)
def test_bad_input_names_the_field_and_stores_nothing(
    blacklist: Blacklist, redis_client: redis.Redis, fields: dict[str, str], field: str
) -> None:
    number = fields.pop("number")
    with pytest.raises(InvalidInput) as caught:
        blacklist.add(number, **fields)  # type: ignore[arg-type]
    assert [name for name, _ in caught.value.problems] == [field]
    assert stored_keys(redis_client) == []


@pytest.mark.parametrize("call", ["check", "remove", "get"])
def test_every_entry_point_refuses_a_bad_number(
    blacklist: Blacklist, redis_client: redis.Redis, call: str
) -> None:
    with pytest.raises(InvalidInput, match="number: 'nope' is not a phone number"):
        getattr(blacklist, call)("nope")
    assert stored_keys(redis_client) == []


def test_an_entry_stops_blocking_when_it_expires_and_becomes_a_tombstone(
    blacklist: Blacklist, clock: FakeClock
) -> None:
    expires = datetime.fromtimestamp(clock.now + 60, tz=UTC)
    blacklist.add(A, expires_at=expires.isoformat())
    assert blacklist.check(A)
    entry = blacklist.get(A)
    assert entry is not None and entry.expires_at == expires
    clock.advance(60)
    assert not blacklist.check(A) and blacklist.get(A) is None
    assert blacklist.list_numbers().total == 0
    assert blacklist.expire_due() == [A]
    assert blacklist.tombstones() == {A: int((clock.now) * 1000)}
    assert blacklist.expire_due() == []


def test_removal_leaves_a_tombstone_even_for_a_number_not_listed_here(
    blacklist: Blacklist, clock: FakeClock
) -> None:
    blacklist.add(A)
    clock.advance(5)
    assert blacklist.remove(A, source="cli", reason="consent given") is True
    assert not blacklist.check(A)
    assert blacklist.remove(B) is False  # it may be listed at a provider: the sync removes it there
    assert blacklist.tombstones() == {A: int(clock.now * 1000), B: int(clock.now * 1000)}
    assert blacklist.add(A) is True  # blacklisting again clears the tombstone
    assert set(blacklist.tombstones()) == {B}


def test_blocked_among_checks_many_numbers_in_one_go(blacklist: Blacklist, clock: FakeClock) -> None:
    numbers = [f"+3725{n:07d}" for n in range(2500)]
    blacklist.add_many(NewEntry(n, "csv") for n in numbers[::7])
    blacklist.add_many([NewEntry(numbers[1], "csv", expires_ms=int(clock.now * 1000) + 1000)])
    assert blacklist.blocked_among(numbers) == set(numbers[::7]) | {numbers[1]}
    clock.advance(1)
    assert blacklist.blocked_among(numbers) == set(numbers[::7])
    assert blacklist.blocked_among([]) == set()


def test_listing_is_in_number_order_paged_and_searchable(blacklist: Blacklist) -> None:
    for number in (C, A, B, "+4915112345678"):
        blacklist.add(number)
    page = blacklist.list_numbers(offset=1, limit=2)
    assert page.total == 4 and [e.number for e in page.entries] == [B, C]
    found = blacklist.list_numbers(search="12345")
    assert found.total == 4
    assert [e.number for e in blacklist.list_numbers(search="+49").entries] == ["+4915112345678"]
    assert [e.number for e in blacklist.list_numbers(search="4503").entries] == [C]


def test_listing_refuses_bad_paging_naming_each_field(blacklist: Blacklist) -> None:
    with pytest.raises(InvalidInput) as caught:
        blacklist.list_numbers(search="abc", offset=-1, limit=0)
    assert [field for field, _ in caught.value.problems] == ["search", "offset", "limit"]


def test_sync_cutoffs_never_undo_a_change_made_after_the_snapshot(
    blacklist: Blacklist, clock: FakeClock
) -> None:
    snapshot_ms = int(clock.now * 1000)
    clock.advance(1)
    blacklist.remove(A)  # removed while a sync was running
    blacklist.add(B)  # added while a sync was running
    assert blacklist.add_each([NewEntry(A, "smsapi")], unless_removed_after_ms=snapshot_ms) == [False]
    assert blacklist.remove_each([B], source="smsapi", unless_added_after_ms=snapshot_ms) == [False]
    assert not blacklist.check(A) and blacklist.check(B)
    assert blacklist.add_each([NewEntry(A, "smsapi")]) == [True]


def test_old_tombstones_are_pruned(blacklist: Blacklist, clock: FakeClock) -> None:
    blacklist.remove(A)
    clock.advance(100)
    blacklist.remove(B)
    assert blacklist.prune_tombstones(older_than_seconds=50) == 1
    assert set(blacklist.tombstones()) == {B}


def test_the_snapshot_holds_active_entries_tombstones_and_due_expiries(
    blacklist: Blacklist, clock: FakeClock
) -> None:
    blacklist.add(A, source="cli")
    blacklist.add(B, expires_at=datetime.fromtimestamp(clock.now + 1, tz=UTC))
    blacklist.remove(C)
    clock.advance(2)
    snapshot = blacklist.snapshot()
    assert set(snapshot.active) == {A} and snapshot.active[A].source == "cli"
    assert snapshot.expired == {B} and set(snapshot.tombstones) == {C}


def test_csv_import_reports_bad_lines_by_number_and_imports_the_good_ones(
    blacklist: Blacklist, clock: FakeClock
) -> None:
    tomorrow = (datetime.fromtimestamp(clock.now, tz=UTC) + timedelta(days=1)).date().isoformat()
    text = (
        "number,reason,expires_at\n"
        f"{A},stop,\n"
        "+372123,typo,\n"
        "\n"
        f"{B},,{tomorrow}\n"
        f"{C},,2001-01-01\n"
        f"{A},twice,\n"
    )
    report = import_csv(blacklist, text)
    assert (report.imported, report.already_listed) == (2, 1)
    assert [line for line, _ in report.problems] == [3, 6]
    assert (
        "number: '+372123'" in report.problems[0][1] and "expires_at: is in the past" in report.problems[1][1]
    )
    entry = blacklist.get(A)
    assert entry is not None and (entry.source, entry.reason) == ("csv", "stop")
    entry = blacklist.get(B)
    assert (
        entry is not None and entry.expires_at is not None and entry.expires_at.date().isoformat() == tomorrow
    )


def test_csv_import_without_a_header_takes_columns_in_order_and_reads_smsapi_exports(
    blacklist: Blacklist,
) -> None:
    assert import_csv(blacklist, f"{A},spam\n{B}\n").imported == 2
    smsapi_export = "phone_number,expire_at,created_at\n37251234503,,2024-01-01T00:00:00+00:00\n"
    assert import_csv(blacklist, smsapi_export).imported == 1
    assert blacklist.blocked_among([A, B, C]) == {A, B, C}


def test_csv_export_imports_back_the_same_entries(
    blacklist: Blacklist, redis_client: redis.Redis, clock: FakeClock
) -> None:
    blacklist.add(B, reason="stop, please", expires_at=datetime.fromtimestamp(clock.now + 3600, tz=UTC))
    blacklist.add(A, source="cli")
    out = io.StringIO()
    assert export_csv(blacklist, out) == 2
    lines = out.getvalue().splitlines()
    assert lines[0] == "number,source,reason,added_at,expires_at"
    assert [line.split(",")[0] for line in lines[1:]] == [A, B]
    copy = Blacklist(redis_client, prefix="copy", clock=clock)
    assert import_csv(copy, out.getvalue()).imported == 2
    original, copied = blacklist.get(B), copy.get(B)
    assert original is not None and copied is not None
    assert (copied.reason, copied.expires_at) == ("stop, please", original.expires_at)


def test_the_producer_api_exposes_the_blacklist(store: MessageStore) -> None:
    smsq = Smsq(store, RecordingPublisher())
    smsq.blacklist.add(A)
    assert smsq.blacklist.check(A)
    assert Blacklist(store.redis, prefix="t").check(A)


def test_logged_numbers_are_masked() -> None:
    assert mask_number(A) == "+372*****501"
