"""Sync safety against the sandbox: outages, refused numbers, rate limits, the mass-delete guard, the lock."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis

from smsq.cli.processes import wait_until
from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.workers.blacklist.apply import Gate, with_retries
from smsq.workers.blacklist.records import SyncLock, SyncRecords
from smsq.workers.blacklist.sync import SyncOptions, run_sync
from smsq.workers.context import build_limiter
from smsq.workers.providers.base import BlacklistProvider
from smsq.workers.providers.errors import RateLimited, TransientError
from smsq.workers.providers.smsapi.sms import SmsapiClient
from tests.support.fakes import FakeClock, FakeLimiter
from tests.support.sandbox import blacklists
from tests.workers.blacklist.conftest import ADMIN_NAMES, Syncer, writes

NUMBERS = [f"+3725200{n:04d}" for n in range(12)]


def fault(admin: httpx.Client, provider: str, endpoint: str, **rule: Any) -> None:
    admin.post(
        "/_admin/faults", json={"provider": provider, "endpoint": endpoint, "kind": "status", **rule}
    ).raise_for_status()


def records(redis_client: redis.Redis) -> SyncRecords:
    return SyncRecords(redis_client, Blacklist(redis_client, prefix="t").keys)


def test_a_provider_that_cannot_be_read_is_left_out_and_retried_later_while_the_others_sync(
    sync: Syncer, blacklist: Blacklist, admin: httpx.Client, redis_client: redis.Redis, clock: FakeClock
) -> None:
    blacklist.add_many([blacklist.validated_entry(number=n) for n in NUMBERS[:3]])
    fault(admin, "messente", "GET /v1/phonebook/blacklist", status=503)
    report = sync()
    messente = report.providers["messente"]
    assert (report.status, messente.status) == ("partial", "failed")
    assert "cannot read its blacklist" in messente.reason and "503" in messente.reason
    assert (
        messente.retry_at is not None and messente.retry_at.timestamp() == clock.now + 60
    )  # retry_base_delay
    assert len(sync.slept) == 2  # three tries within the run, with backoff between them
    assert blacklists(admin) == {
        "messente": set(),
        "smsapi": set(NUMBERS[:3]),
        "direct_messenger": set(NUMBERS[:3]),
    }
    state = records(redis_client).state("messente")
    assert (state.failures, state.read_ms) == (1, None)

    admin.delete("/_admin/faults")
    report = sync(providers=["messente"], trigger="retry")
    assert report.status == "ok" and report.providers["messente"].added == 3
    assert blacklists(admin) == {name: set(NUMBERS[:3]) for name in ADMIN_NAMES}
    state = records(redis_client).state("messente")
    assert (state.failures, state.retry_due_ms) == (0, None)


def test_an_outage_while_applying_stops_that_part_keeps_what_was_done_and_is_retried(
    sync: Syncer, blacklist: Blacklist, admin: httpx.Client, redis_client: redis.Redis
) -> None:
    blacklist.add_many([blacklist.validated_entry(number=n) for n in NUMBERS])
    fault(admin, "dm", "POST /dm/api/blacklist/create", status=503)
    report = sync()
    dm = report.providers["direct_messenger"]
    assert (dm.status, dm.added, dm.failed) == ("failed", 0, 12)
    assert dm.reason.startswith("stopped after 5 failed calls in a row") and dm.retry_at is not None
    attempts = [w for w in writes(admin) if w == "POST /dm/api/blacklist/create"]
    assert 5 * 3 <= len(attempts) < 12 * 3  # the rest were never tried: the provider was down
    assert report.providers["messente"].status == report.providers["smsapi"].status == "ok"
    assert records(redis_client).state("direct_messenger").failures == 1

    admin.delete("/_admin/faults")
    report = sync()
    assert (report.providers["direct_messenger"].added, report.providers["messente"].added) == (12, 0)
    assert blacklists(admin) == {name: set(NUMBERS) for name in ADMIN_NAMES}


def test_a_number_a_provider_refuses_is_reported_without_stopping_the_rest(
    sync: Syncer, blacklist: Blacklist, admin: httpx.Client, redis_client: redis.Redis
) -> None:
    blacklist.add_many([blacklist.validated_entry(number=n) for n in NUMBERS[:4]])
    fault(admin, "smsapi", "POST /smsapi/blacklist/phone_numbers", status=400, count=1)
    report = sync()
    smsapi = report.providers["smsapi"]
    assert (smsapi.status, smsapi.added, smsapi.failed, smsapi.retry_at) == ("partial", 3, 1, None)
    (problem,) = smsapi.problems
    assert problem.action == "add" and problem.number is not None and problem.number.startswith("+372***")
    assert len(blacklists(admin)["smsapi"]) == 3
    assert sync().providers["smsapi"].added == 1  # the next run tries it again


def test_a_rate_limited_call_waits_its_retry_after_and_goes_through(
    sync: Syncer, blacklist: Blacklist, admin: httpx.Client
) -> None:
    blacklist.add(NUMBERS[0])
    fault(admin, "messente", "POST /v1/phonebook/blacklist", kind="rate_limit", retry_after=0.25, count=1)
    report = sync()
    assert report.status == "ok" and report.providers["messente"].added == 1
    assert 0.25 in sync.slept


def test_the_mass_delete_guard_stops_a_sudden_empty_list_from_clearing_everything(
    sync: Syncer, blacklist: Blacklist, providers: dict[str, BlacklistProvider], admin: httpx.Client
) -> None:
    blacklist.add_many([blacklist.validated_entry(number=n) for n in NUMBERS])
    sync()
    smsapi = providers["smsapi"]
    assert isinstance(smsapi, SmsapiClient)
    smsapi.delete_all_blacklist(confirm=True)  # SMSAPI suddenly lists nothing
    admin.delete("/_admin/requests")

    report = sync()
    guarded = report.providers["smsapi"]
    assert (report.status, guarded.status, guarded.listed) == ("partial", "guarded", 0)
    assert "12 of the 12 numbers" in guarded.reason and "--force" in guarded.reason
    assert writes(admin) == []  # nothing removed anywhere, nothing pushed back to SMSAPI either
    assert blacklist.blocked_among(NUMBERS) == set(NUMBERS)
    assert sync().providers["smsapi"].status == "guarded"  # it stays stopped until someone decides

    report = sync(force=True)  # the removals were real after all
    assert report.forced and report.providers["smsapi"].status == "ok"
    assert report.local.removed == 12 and blacklist.blocked_among(NUMBERS) == set()
    assert blacklists(admin) == {name: set() for name in ADMIN_NAMES}


def test_the_lock_is_renewed_while_held_and_lost_when_taken_over(redis_client: redis.Redis) -> None:
    lock = SyncLock(redis_client, "t:lock", ttl_seconds=0.3)
    assert lock.acquire() and not SyncLock(redis_client, "t:lock", ttl_seconds=5).acquire()
    assert not lock.lost.wait(0.7)  # held for more than twice its ttl: the renewals kept it
    assert redis_client.get("t:lock") == lock.token
    redis_client.set("t:lock", "someone else")
    wait_until(lock.lost.is_set, timeout=2, what="the lock to be noticed lost")
    lock.release()
    assert redis_client.get("t:lock") == "someone else"  # release never drops another holder's lock


def test_calls_take_the_providers_global_rate_limit_at_the_lowest_tier_and_a_429_pauses_it() -> None:
    limiter = FakeLimiter(waits=[0.2])
    slept: list[float] = []
    answers: list[Exception | None] = [RateLimited("messente", "rate limited", retry_after=2.0), None]

    def call() -> bool:
        error = answers.pop(0)
        if error is not None:
            raise error
        return True

    gate = Gate(limiter, "messente", slept.append)  # type: ignore[arg-type]
    assert with_retries(call, attempts=3, sleep=slept.append, gate=gate) is True
    assert limiter.calls == [
        ("acquire", "messente", "status"),  # denied: wait 0.2 s
        ("acquire", "messente", "status"),
        ("pause", "messente", 2.0),  # every worker holds its calls to Messente, sends included
        ("acquire", "messente", "status"),
    ]
    assert slept == [0.2, 2.0]


def test_a_limiter_that_never_grants_fails_the_call_instead_of_hanging() -> None:
    slept: list[float] = []
    gate = Gate(FakeLimiter(waits=[10.0] * 10), "messente", slept.append)  # type: ignore[arg-type]
    with pytest.raises(TransientError, match="no rate-limit token within 30 s"):
        gate.take()
    assert slept == [10.0, 10.0, 10.0]


def test_the_worker_sync_uses_the_shared_limiter_with_the_default_limits(
    blacklist: Blacklist,
    providers: dict[str, BlacklistProvider],
    sync_settings: Settings,
    redis_client: redis.Redis,
) -> None:
    limiter = build_limiter(sync_settings, redis_client)  # Messente: 150/s, burst 2, as deployed
    for number in NUMBERS[:4]:
        blacklist.add(number)
    report = run_sync(blacklist, providers, sync_settings.blacklist, SyncOptions(), limiter=limiter)
    assert report.status == "ok" and {p.added for p in report.providers.values()} == {4}
    assert redis_client.exists("t:rate:messente")  # the tokens came from the same Redis key sends use
