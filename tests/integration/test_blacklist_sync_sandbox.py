"""Blacklist sync end to end: `smsq blacklist ...` and the producer API -> the sync queue -> a real worker
(subprocess) -> the sandbox's three provider blacklists; and send-time enforcement of the local list."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import redis

from smsq.cli.processes import smsq_command, wait_until
from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.producers.blacklist.sync import BlacklistSyncs, SyncReport
from smsq.producers.client import Smsq
from tests.integration.conftest import received, wait_for
from tests.integration.stack import Running, db_url, stack_settings, started_stack
from tests.support.sandbox import blacklists

pytestmark = pytest.mark.integration

PREFIX = "it-blacklist"
TOKEN = "sandbox-token"
NUMBERS = [f"+3725300{n:04d}" for n in range(12)]
X, Y = NUMBERS[0], NUMBERS[1]


@pytest.fixture(scope="module")
def stack(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    """A worker and beat with all three providers enabled, on their own Redis db."""
    redis_url = db_url(redis_server.url, 12)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    settings = stack_settings(
        redis_url, sandbox_url, PREFIX,
        smsapi__enabled="true", smsapi__base_url=f"{sandbox_url}/smsapi", smsapi__token=TOKEN,
        direct_messenger__enabled="true", direct_messenger__base_url=f"{sandbox_url}/dm",
        direct_messenger__api_token=TOKEN,
        blacklist__outage_after="3", blacklist__mass_delete_min="3", blacklist__retry_base_delay="600",
    )  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("blacklist")) as running:
        yield running


@pytest.fixture
def local(stack: Running, sandbox: httpx.Client) -> Iterator[Smsq]:
    """The producer API of the stack, with an empty local blacklist and no sync records (the sandbox
    fixture has just emptied the providers' lists, so earlier records would read as mass deletions)."""
    smsq = stack.smsq()
    for key in smsq.store.redis.scan_iter(f"{PREFIX}:blacklist:*"):
        smsq.store.redis.delete(key)
    yield smsq


@pytest.fixture
def syncs(stack: Running) -> BlacklistSyncs:
    return BlacklistSyncs.from_settings(stack.settings)


def cli(stack: Running, *args: str) -> subprocess.CompletedProcess[str]:
    if args[0] == "sync" and "--report" not in args:
        args = (*args, "--timeout", "60")  # a sync that never finishes fails with a message, not a hang
    env = {**stack.env, "COLUMNS": "200"}
    return subprocess.run(
        smsq_command("blacklist", *args), env=env, capture_output=True, text=True, timeout=120
    )


def sync(syncs: BlacklistSyncs, **options: Any) -> SyncReport:
    return syncs.wait(syncs.request(**options), timeout=60)


def everywhere(*numbers: str) -> dict[str, set[str]]:
    return {name: set(numbers) for name in ("messente", "smsapi", "direct_messenger")}


def smsapi_add(sandbox: httpx.Client, number: str) -> None:
    sandbox.post("/smsapi/blacklist/phone_numbers", json={"phone_number": number.removeprefix("+")},
                 headers={"Authorization": f"Bearer {TOKEN}"}).raise_for_status()  # fmt: skip


def test_a_number_added_at_smsapi_reaches_messente_dm_and_local_and_a_repeat_is_a_no_op(
    stack: Running, local: Smsq, syncs: BlacklistSyncs, sandbox: httpx.Client
) -> None:
    smsapi_add(sandbox, X)
    ran = cli(stack, "sync")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert ": ok" in ran.stdout and "smsapi" in ran.stdout
    assert blacklists(sandbox) == everywhere(X)
    entry = local.blacklist.get(X)
    assert entry is not None and entry.source == "smsapi"

    first = syncs.report()
    assert (
        first is not None
        and first.providers["messente"].added == first.providers["direct_messenger"].added == 1
    )
    sandbox.delete("/_admin/requests")
    again = sync(syncs)
    assert again.status == "ok" and again.task_id != first.task_id
    assert all((p.added, p.removed, p.failed) == (0, 0, 0) for p in again.providers.values())
    assert (again.local.added, again.local.removed) == (0, 0)
    changes = [r for r in sandbox.get("/_admin/requests").json()["requests"] if r["method"] != "GET"]
    assert changes == []
    shown = cli(stack, "sync", "--report")
    assert shown.returncode == 0 and str(again.task_id) in shown.stdout


def test_a_local_removal_reaches_all_three(
    stack: Running, local: Smsq, syncs: BlacklistSyncs, sandbox: httpx.Client
) -> None:
    local.blacklist.add(X)
    local.blacklist.add(Y)
    assert sync(syncs).status == "ok" and blacklists(sandbox) == everywhere(X, Y)
    assert cli(stack, "remove", X, "--reason", "consent").returncode == 0
    report = sync(syncs)
    assert report.status == "ok" and blacklists(sandbox) == everywhere(Y)
    assert {name: part.removed for name, part in report.providers.items()} == {
        "messente": 1, "smsapi": 1, "direct_messenger": 1,
    }  # fmt: skip


def test_a_provider_outage_during_sync_leaves_it_out_and_the_others_go_on(
    stack: Running, local: Smsq, syncs: BlacklistSyncs, sandbox: httpx.Client
) -> None:
    local.blacklist.add(X)
    sandbox.post("/_admin/faults", json={"provider": "dm", "endpoint": "/dm/api/blacklist", "kind": "status",
                                         "status": 500}).raise_for_status()  # fmt: skip
    report = sync(syncs)
    dm = report.providers["direct_messenger"]
    assert (report.status, dm.status) == ("partial", "failed") and dm.retry_at is not None
    assert blacklists(sandbox) == {"messente": {X}, "smsapi": {X}, "direct_messenger": set()}

    sandbox.delete("/_admin/faults")
    ran = cli(stack, "sync", "--provider", "direct_messenger")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert blacklists(sandbox) == everywhere(X)


def test_the_mass_delete_guard_stops_the_sync_until_forced(
    stack: Running, local: Smsq, syncs: BlacklistSyncs, sandbox: httpx.Client
) -> None:
    for number in NUMBERS:
        local.blacklist.add(number)
    assert sync(syncs).status == "ok"
    sandbox.delete(
        "/smsapi/blacklist/phone_numbers", headers={"Authorization": f"Bearer {TOKEN}"}
    ).raise_for_status()

    ran = cli(stack, "sync")
    assert ran.returncode == 1
    assert "guarded" in ran.stdout and "12 of the 12 numbers" in ran.stdout and "--force" in ran.stdout
    assert local.blacklist.blocked_among(NUMBERS) == set(NUMBERS)
    assert blacklists(sandbox) == {
        "messente": set(NUMBERS),
        "smsapi": set(),
        "direct_messenger": set(NUMBERS),
    }

    assert cli(stack, "sync", "--force").returncode == 0
    assert local.blacklist.blocked_among(NUMBERS) == set() and blacklists(sandbox) == everywhere()


def test_a_dry_run_prints_the_plan_and_changes_nothing(
    stack: Running, local: Smsq, syncs: BlacklistSyncs, sandbox: httpx.Client
) -> None:
    local.blacklist.add(X)
    smsapi_add(sandbox, Y)
    ran = cli(stack, "sync", "--dry-run")
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "dry run (nothing changed)" in ran.stdout
    assert f"plan: messente add: {X}, {Y}" in ran.stdout and f"plan: local add: {Y}" in ran.stdout
    assert blacklists(sandbox) == {"messente": set(), "smsapi": {Y}, "direct_messenger": set()}
    assert not local.blacklist.check(Y)
    assert syncs.report() is None  # a plan is not a sync


def sms(to: str, **extra: Any) -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": "hello", "sender": "smsq"}], **extra}


def test_a_number_blacklisted_while_its_message_is_scheduled_ends_blocked(
    local: Smsq, sandbox: httpx.Client
) -> None:
    due = datetime.now(UTC) + timedelta(seconds=2)
    receipt = local.send(sms(X, time_to_send=due.isoformat()))
    assert receipt.status == "scheduled"
    local.blacklist.add(X)
    result = wait_for(local, receipt.message_id, {"blocked", "sent", "failed"})
    assert result.status == "blocked"
    assert [r for r in received(sandbox) if r["body"]["to"] == X] == []


def test_a_number_blacklisted_while_its_message_waits_in_the_queue_ends_blocked(
    stack: Running, local: Smsq, sandbox: httpx.Client
) -> None:
    app = make_celery(stack.settings)
    (node,) = [name for reply in app.control.ping(timeout=1) for name in reply]
    broker = redis.Redis.from_url(stack.settings.redis_url)
    app.control.cancel_consumer("low", destination=[node], reply=True)
    try:
        receipt = local.send(sms(Y, priority="low"))
        wait_until(lambda: broker.llen("low") == 1, timeout=5, what="the message to wait in the low queue")
        local.blacklist.add(Y)
    finally:
        app.control.add_consumer("low", destination=[node], reply=True)
    result = wait_for(local, receipt.message_id, {"blocked", "sent", "failed"})
    assert result.status == "blocked"
    assert [r for r in received(sandbox) if r["body"]["to"] == Y] == []
