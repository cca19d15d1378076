"""Blacklist sync at scale (issue 5).

A sandbox (its own process, seeded directly with --numbers numbers split evenly and without overlap
across Messente, SMSAPI and Direct Messenger) and a private Redis; then, in this process:

1. the first sync: every number reaches the local list and the two providers that lack it;
2. --changes changes (a quarter each: added at SMSAPI, added at Direct Messenger, added locally,
   removed locally) and a second sync;
3. a third sync with nothing to do (the steady-state cost: reading three whole lists and diffing);
4. where that steady-state time goes: each provider's read on its own, the E.164 normalisation
   (``to_e164``, which every provider module applies to every listed number) and the local snapshot.

Each sync prints its wall time, the provider calls it made, and where the CPU time went (this
process = smsq's sync; the sandbox process; Redis), so a sandbox bottleneck shows as such.

    .venv/bin/python -m bench.blacklist_sync                                # 100,000 numbers, 1,000 changes
    .venv/bin/python -m bench.blacklist_sync --numbers 10000 --changes 100  # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx
import redis

from bench.common import private_redis
from smsq.cli.processes import Stack, child_env, http_ready, wait_until
from smsq.cli.redis_server import free_port
from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist, NewEntry
from smsq.producers.blacklist.sync import SyncReport
from smsq.producers.messages.numbers import to_e164
from smsq.workers.blacklist.sync import SyncOptions, run_sync
from smsq.workers.blacklist.tasks import blacklist_providers
from smsq.workers.providers.base import BlacklistProvider

TOKEN = "sandbox-token"
TICKS = os.sysconf("SC_CLK_TCK")


def number(n: int) -> str:
    return f"+372{5_000_0000 + n}"  # +3725xxxxxxx: valid Estonian mobile numbers


def serve_seeded_sandbox(port: int, numbers: int, page_size: int, in_step: bool) -> None:
    """Run the sandbox with its three blacklists filled in memory (seeding 100,000 numbers through the
    APIs would take longer than the syncs being measured): split across them, or all in each."""
    import uvicorn

    from smsq.sandbox.app import create_app
    from smsq.sandbox.config import SandboxConfig
    from smsq.sandbox.state import DmBlacklistEntry, SmsapiBlacklistEntry

    app = create_app(SandboxConfig(smsapi_blacklist_page_size=page_size, max_logged_requests=1000))
    state = app.state.sandbox
    for n in range(numbers):
        phone = number(n)
        if in_step or n % 3 == 0:
            state.messente.blacklist[phone] = None
        if in_step or n % 3 == 1:
            entry_id = f"S{n:011d}"
            state.smsapi.blacklist[entry_id] = SmsapiBlacklistEntry(
                entry_id, phone[1:], "2026-01-01T00:00:00", None
            )
        if in_step or n % 3 == 2:
            entry_id = state.dm.next_blacklist_id
            state.dm.next_blacklist_id += 1
            state.dm.blacklist[entry_id] = DmBlacklistEntry(
                entry_id, phone[1:], "2026-01-01 00:00:00", "bench"
            )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def own_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


@dataclass
class Measured:
    name: str
    report: SyncReport
    wall: float
    own_cpu: float
    sandbox_cpu: float
    redis_cpu: float

    @property
    def calls(self) -> int:
        return sum(p.added + p.removed + p.failed for p in self.report.providers.values())

    def line(self) -> str:
        parts = ", ".join(
            f"{name} +{p.added} -{p.removed}{f' !{p.failed}' if p.failed else ''}"
            for name, p in self.report.providers.items()
        )
        local = self.report.local
        return (
            f"{self.name:<22} {self.wall:7.1f} s  status {self.report.status}; local +{local.added} "
            f"-{local.removed} (now {local.listed}); {parts}; {self.calls} writes\n"
            f"{'':<22} cpu: sync (this process) {self.own_cpu:.1f} s, sandbox {self.sandbox_cpu:.1f} s, "
            f"redis {self.redis_cpu:.1f} s"
        )


def measure(name: str, sync: Callable[[], SyncReport], sandbox_pid: int, redis_pid: int) -> Measured:
    before = (time.perf_counter(), own_cpu_seconds(), cpu_seconds(sandbox_pid), cpu_seconds(redis_pid))
    report = sync()
    after = (time.perf_counter(), own_cpu_seconds(), cpu_seconds(sandbox_pid), cpu_seconds(redis_pid))
    wall, own, sandbox, redis_cpu = (b - a for a, b in zip(before, after, strict=True))
    measured = Measured(name, report, wall, own, sandbox, redis_cpu)
    print(measured.line(), flush=True)
    return measured


def breakdown(blacklist: Blacklist, providers: Mapping[str, BlacklistProvider]) -> None:
    phones: list[str] = []
    for name, provider in providers.items():
        started = time.perf_counter()
        entries = provider.blacklist()
        print(
            f"  read {name:<17} {time.perf_counter() - started:6.1f} s for {len(entries)} entries", flush=True
        )
        phones.extend(entry.phone for entry in entries)
    started = time.perf_counter()
    for phone in phones:
        to_e164(phone)
    spent = time.perf_counter() - started
    each = spent / max(1, len(phones)) * 1e6
    print(f"  of which to_e164    {spent:6.1f} s for {len(phones)} numbers ({each:.0f} µs each)")
    started = time.perf_counter()
    snapshot = blacklist.snapshot()
    print(f"  local snapshot      {time.perf_counter() - started:6.1f} s for {len(snapshot.active)} entries")


def make_changes(changes: int, numbers: int, blacklist: Blacklist, sandbox_url: str) -> None:
    """A quarter each: new at SMSAPI, new at Direct Messenger, new locally, removed locally."""
    quarter = changes // 4
    fresh = [number(numbers + n) for n in range(changes)]
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=sandbox_url, timeout=30) as client:
        for phone in fresh[:quarter]:
            client.post("/smsapi/blacklist/phone_numbers", json={"phone_number": phone[1:]}, headers=auth)
        for phone in fresh[quarter : 2 * quarter]:
            client.post("/dm/api/blacklist/create", data={"api_token": TOKEN, "receiver": phone[1:]})
    blacklist.add_many(NewEntry(phone, "api") for phone in fresh[2 * quarter : 3 * quarter])
    blacklist.remove_many([number(n) for n in range(changes - 3 * quarter)], source="api")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--changes", type=int, default=1_000)
    parser.add_argument("--concurrency", type=int, default=8, help="calls in flight per provider")
    parser.add_argument("--page-size", type=int, default=1000, help="SMSAPI list page size")
    parser.add_argument(
        "--in-step",
        action="store_true",
        help="every number already at every provider and locally: measure the steady state at scale "
        "without the long first sync",
    )
    parser.add_argument("--serve", type=int, help=argparse.SUPPRESS)  # internal: the sandbox process
    args = parser.parse_args()
    if args.serve:
        serve_seeded_sandbox(args.serve, args.numbers, args.page_size, args.in_step)
        return

    with (
        tempfile.TemporaryDirectory() as workdir,
        private_redis(Path(workdir)) as server,
        Stack(Path(workdir)) as stack,
    ):
        port = free_port()
        argv = [sys.executable, "-m", "bench.blacklist_sync", "--serve", str(port),
                "--numbers", str(args.numbers), "--page-size", str(args.page_size)]  # fmt: skip
        if args.in_step:
            argv.append("--in-step")
        sandbox = stack.start("sandbox", argv, child_env())
        url = f"http://127.0.0.1:{port}"
        wait_until(http_ready(f"{url}/_admin/health"), timeout=120, what="the seeded sandbox")
        settings = Settings(
            _env_file=None,
            redis_url=server.url,
            key_prefix="bench",
            messente={"base_url": f"{url}/v1", "username": "sandbox", "password": "sandbox"},
            smsapi={"enabled": True, "base_url": f"{url}/smsapi", "token": TOKEN},
            direct_messenger={"enabled": True, "base_url": f"{url}/dm", "api_token": TOKEN},
            blacklist={
                "concurrency": args.concurrency,
                "smsapi_page_size": args.page_size,
                "lock_seconds": 600,
            },
        )
        client = redis.Redis.from_url(server.url, decode_responses=True)
        blacklist = Blacklist(client, prefix="bench")
        assert server.process is not None
        pids = (sandbox.process.pid, server.process.pid)
        print(
            f"{args.numbers} numbers {'at each of' if args.in_step else 'split across'} messente, smsapi "
            "and direct_messenger; "
            f"{args.changes} changes; {args.concurrency} calls in flight per provider; "
            f"SMSAPI pages of {args.page_size}; {os.cpu_count()} CPUs",
            flush=True,
        )
        with blacklist_providers(settings) as providers:

            def sync() -> SyncReport:
                return run_sync(blacklist, providers, settings.blacklist, SyncOptions())

            if args.in_step:
                blacklist.add_many(NewEntry(number(n), "api") for n in range(args.numbers))
            first = measure("first sync (in step)" if args.in_step else "first sync", sync, *pids)
            make_changes(args.changes, args.numbers, blacklist, url)
            measure(f"{args.changes} changes", sync, *pids)
            measure("nothing to do", sync, *pids)
            breakdown(blacklist, providers)
        if first.report.status != "ok":
            sys.exit(1)


if __name__ == "__main__":
    main()
