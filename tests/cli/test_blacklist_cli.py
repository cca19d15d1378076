"""`smsq blacklist ...` in-process through smsq.cli.main.main (so errors take the real exit-2 path)."""

from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from smsq.cli import blacklist as cli_blacklist
from smsq.cli import main as cli_main
from smsq.cli.main import main
from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.config.settings import load_settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.blacklist.sync import ProviderReport, SyncReport

A, B, C = "+37251234501", "+37251234502", "+37251234503"


@dataclass
class Ran:
    code: int
    out: str
    err: str


Run = Callable[..., Ran]


@pytest.fixture
def smsq(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    redis_server: RedisServer,
    redis_client: redis.Redis,
):
    for name in [name for name in os.environ if name.startswith("SMSQ_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SMSQ_REDIS_URL", redis_server.url)
    monkeypatch.setenv("SMSQ_KEY_PREFIX", "t")
    monkeypatch.chdir(Path(__file__).parent)  # no .env here
    for console in (
        cli_main.console,
        cli_main.errors,
        cli_blacklist.console,
        cli_blacklist.notes,
    ):
        monkeypatch.setattr(console, "width", 250)  # not a terminal: rich would wrap at 80 columns

    def run(*args: str) -> Ran:
        monkeypatch.setattr(sys, "argv", ["smsq", "blacklist", *args])
        with pytest.raises(SystemExit) as exited:
            main()
        captured = capsys.readouterr()
        return Ran(int(exited.value.code or 0), captured.out, captured.err)

    return run


@pytest.fixture
def blacklist(redis_client: redis.Redis) -> Blacklist:
    return Blacklist(redis_client, prefix="t")


def stored(client: redis.Redis) -> list[str]:
    return sorted(str(key) for key in client.keys("t:*"))


def test_add_check_list_and_remove(smsq: Run, blacklist: Blacklist) -> None:
    assert smsq("add", "+372 5123 4501", "--reason", "asked").out.strip() == f"{A} blacklisted"
    assert smsq("add", A).out.strip() == f"{A} was already blacklisted"
    entry = blacklist.get(A)
    assert entry is not None and (entry.source, entry.reason) == ("cli", "asked")
    assert smsq("check", A, B).out.split("\n")[:2] == [f"{A} blocked", f"{B} not blocked"]
    listing = smsq("list").out
    assert A in listing and "asked" in listing and "1-1 of 1" in listing
    assert smsq("remove", A).out.strip() == f"{A} removed"
    assert "not blacklisted here" in smsq("remove", A).out
    assert not blacklist.check(A)


def test_list_pages_and_searches(smsq: Run, blacklist: Blacklist) -> None:
    for number in (A, B, C):
        blacklist.add(number)
    page = smsq("list", "--offset", "1", "--limit", "1").out
    assert B in page and A not in page and C not in page and "2-2 of 3" in page
    assert C in smsq("list", "--search", "4503").out
    assert "no blacklisted numbers match" in smsq("list", "--search", "999").out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("add", "12"), "error: number: '12' is not a phone number in international format"),
        (("add", A, "--expires", "soon"), "error: expires_at: must be an ISO-8601 date and time"),
        (("add", A, "--expires", "2001-01-01T00:00:00"), "error: expires_at: is in the past"),
        (("remove", "hello"), "error: number: 'hello' is not a phone number"),
        (("check", A, "x1"), "error: numbers.1: 'x1' is not a phone number"),
        (("list", "--limit", "0"), "error: limit: must be between 1 and 1000"),
        (("list", "--search", "abc"), "error: search: must be digits"),
        (("import", "/nonexistent.csv"), "error: file: /nonexistent.csv does not exist"),
        (("sync", "--provider", "fax"), "error: providers: unknown provider 'fax'"),
        (("sync", "--task-id", "x"), "error: task_id: goes with --report"),
        (("sync", "--report", "--task-id", "x"), "error: task_id: 'x' is not a sync task id"),
        (("sync", "--report"), "error: no blacklist sync has finished yet"),
    ],
)
def test_mistakes_print_one_line_exit_2_and_store_nothing(
    smsq, redis_client: redis.Redis, args: tuple[str, ...], message: str
) -> None:
    ran = smsq(*args)
    assert ran.code == 2
    assert ran.err.startswith(message) and ran.err.count("\n") == 1
    assert stored(redis_client) == []


def test_import_reports_bad_lines_imports_good_ones_and_exits_1(
    smsq, blacklist: Blacklist, tmp_path: Path
) -> None:
    file = tmp_path / "numbers.csv"
    file.write_text(f"number,reason\n{A},stop\nnot-a-number,x\n{B},\n")
    ran = smsq("import", str(file))
    assert ran.code == 1
    assert "imported 2, 0 already blacklisted, 1 bad lines" in ran.out
    assert ran.err.startswith("line 3: number: 'not-a-number' is not a phone number")
    assert blacklist.blocked_among([A, B]) == {A, B}


def test_import_refuses_a_file_that_is_not_text(smsq: Run, redis_client: redis.Redis, tmp_path: Path) -> None:
    file = tmp_path / "numbers.csv"
    file.write_bytes(b"\xff\xfe\x00+372")
    ran = smsq("import", str(file))
    assert ran.code == 2 and "is UTF-16 text, not UTF-8 text" in ran.err and stored(redis_client) == []


def test_export_to_standard_output_or_a_file(smsq: Run, blacklist: Blacklist, tmp_path: Path) -> None:
    blacklist.add(B)
    blacklist.add(A, reason="stop")
    out = smsq("export").out.splitlines()
    assert out[0] == "number,source,reason,added_at,expires_at"
    assert [line.split(",")[:3] for line in out[1:]] == [[A, "api", "stop"], [B, "api", ""]]
    file = tmp_path / "out.csv"
    ran = smsq("export", str(file))
    assert ran.err.strip() == f"exported 2 numbers to {file}"
    assert file.read_text().splitlines() == out


def test_sync_report_shows_the_latest_finished_run(smsq: Run, redis_client: redis.Redis) -> None:
    app = make_celery(load_settings())
    older, newer = str(uuid.uuid4()), str(uuid.uuid4())
    for task_id, added in ((older, 1), (newer, 7)):
        report = SyncReport(
            task_id=task_id,
            status="partial",
            providers={
                "smsapi": ProviderReport(listed=3, added=added),
                "direct_messenger": ProviderReport(status="failed", reason="cannot read its blacklist: boom"),
            },
        )
        app.backend.store_result(task_id, report.model_dump(mode="json"), "SUCCESS")
        redis_client.lpush("t:blacklist:sync:runs", task_id)
    ran = smsq("sync", "--report")
    assert ran.code == 0
    assert newer in ran.out and "partial" in ran.out and "cannot read its blacklist: boom" in ran.out
    assert " 7 " in ran.out
    assert older in smsq("sync", "--report", "--task-id", older).out


def test_sync_without_waiting_queues_the_task_on_the_sync_queue(smsq: Run, redis_client: redis.Redis) -> None:
    ran = smsq("sync", "--provider", "smsapi", "--no-wait")
    assert ran.code == 0 and "queued blacklist sync" in ran.out
    assert redis_client.llen("sync") == 1
