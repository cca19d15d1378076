"""Callbacks to the app, measured (issue 14): a receiver on loopback answering after --latency-ms (50),
verifying every request with the standardwebhooks library as an app would.

1. throughput: --callbacks events (status changes of messages of one key) are waiting; beat and one
   `smsq worker --lanes callbacks` with the default settings (concurrency 2) start; callbacks/s from
   the first to the last one the receiver verified.
2. isolation: a campaign of --campaign recipients to the stub (bench/stub.py, --stub-latency-ms) on a
   general worker, its send rate measured alone; then --drain events are made waiting and the same
   campaign is sent again while they drain through the callbacks worker (started with --nice 10, as
   docker-compose.yml runs it, so sends get the CPU first on a shared host). Send rates side by side.
   The receiver is in this process, on the same cores: --receiver-nice 19 gives it only the CPU
   nothing else wants, as an app on another host would take none.

    .venv/bin/python -m bench.callbacks                            # both, 20,000 and 100,000 events
    .venv/bin/python -m bench.callbacks --scenario throughput --callbacks 5000
"""

from __future__ import annotations

import argparse
import csv
import os
import tempfile
import time
from pathlib import Path

import httpx

from bench.common import private_redis, smsq_env, start_stub, start_workers
from smsq.cli.processes import Stack, wait_until
from smsq.config.settings import Settings
from smsq.producers.callbacks.targets import new_secret
from smsq.producers.client import Smsq
from smsq.producers.core.keys import CallbackKeys
from smsq.producers.core.store import MessageStore
from smsq.workers.callbacks.receiver import Receiver, running_receiver

KEY = "bench-key"
TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %name%, spring sale", "sender": "Shop"}]}
CALLBACKS_WORKER = ("callbacks", ("--lanes", "callbacks", "--nice", "10"))  # default concurrency (2)
GENERAL_WORKER = ("general", ("--concurrency", "2"))


def seed_events(store: MessageStore, url: str, secret: str, count: int, start: int = 0) -> float:
    """``count`` messages of KEY moved sending -> sent: one waiting callback event each."""
    store.redis.hset(
        f"{store.keys.prefix}:apikey:{KEY}", mapping={"callback_url": url, "callback_secret": secret}
    )
    began = time.monotonic()
    for first in range(start, start + count, 1000):
        ids = [f"00000000-0000-4000-8000-{n:012d}" for n in range(first, min(first + 1000, start + count))]
        with store.redis.pipeline(transaction=False) as pipe:
            for message_id in ids:
                pipe.hset(store.keys.record(message_id), mapping={"status": "sending", "key_id": KEY,
                          "priority": "low", "created_ms": 0, "to": "+37250000000"})  # fmt: skip
            pipe.execute()
        store.transition_many([(message_id, "sent", {}) for message_id in ids])
    return time.monotonic() - began


def wait_received(receiver: Receiver, count: int, timeout: float) -> tuple[float, float]:
    """(seconds from the first verified callback to the ``count``-th, callbacks/s)."""
    wait_until(lambda: receiver.received.count() >= 1, timeout=60, what="the first callback")
    first = time.monotonic()
    wait_until(lambda: receiver.received.count() >= count, timeout=timeout, interval=0.05,
               what=f"{count} callbacks")  # fmt: skip
    took = time.monotonic() - first
    return took, (count - 1) / took if took else float("nan")


def group_cpu(pgid: int) -> float:
    """CPU seconds (user + system) used so far by the live processes of a process group."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid:  # fields after the name: state, ppid, pgrp, ..., utime (12), stime (13)
            total += (int(fields[11]) + int(fields[12])) / tick
    return total


def cpu_report(stack: Stack, names: tuple[str, ...], before: dict[str, float], count: int) -> str:
    used = {name: group_cpu(child.process.pid) - before.get(name, 0.0)
            for name in names for child in stack.children if child.name == name}  # fmt: skip
    return ", ".join(f"{name} {seconds / count * 1000:.2f} ms" for name, seconds in used.items())


def extra_settings(args: argparse.Namespace) -> dict[str, str]:
    return dict(item.split("=", 1) for item in args.set)


def throughput(args: argparse.Namespace, workdir: Path) -> None:
    secret = new_secret()
    receiver = Receiver(secret, latency=args.latency_ms / 1000)
    with private_redis(workdir) as redis_server, running_receiver(receiver) as url, Stack(workdir) as stack:
        env = smsq_env(redis_server.url, "http://127.0.0.1:9", callbacks__allow_http="true",
                       callbacks__allow_private="true", **extra_settings(args))  # fmt: skip
        store = MessageStore(Smsq.from_settings(settings_of(env)).store.redis, retention_seconds=3600)
        seeded = seed_events(store, f"{url}/hook", secret, args.callbacks)
        print(f"  {args.callbacks:,} events waiting (made in {seeded:.1f} s)")
        start_workers(stack, env, [(CALLBACKS_WORKER[0], ("--lanes", "callbacks"))])
        names = ("callbacks", "beat")
        before = {c.name: group_cpu(c.process.pid) for c in stack.children if c.name in names}
        own = time.process_time()
        took, rate = wait_received(receiver, args.callbacks, timeout=args.callbacks / 50 + 120)
        receiver_ms = (time.process_time() - own) / args.callbacks * 1000
        got = receiver.received
        print(
            f"  throughput: {args.callbacks:,} callbacks verified in {took:.1f} s = {rate:,.0f} callbacks/s"
        )
        most = got.max_in_flight["/hook"]
        print(f"  (receiver latency {args.latency_ms:g} ms, most in flight at once {most}, "
              f"repeats {got.repeats}, refused signatures {got.refused})")  # fmt: skip
        print(f"  CPU per callback: {cpu_report(stack, names, before, args.callbacks)}, "
              f"receiver (this process) {receiver_ms:.2f} ms")  # fmt: skip


def isolation(args: argparse.Namespace, workdir: Path) -> None:
    secret = new_secret()
    receiver = Receiver(secret, latency=args.latency_ms / 1000)
    with (
        private_redis(workdir) as redis_server,
        running_receiver(receiver, nice=args.receiver_nice) as url,
        Stack(workdir) as stack,
    ):
        stub = start_stub(stack, latency_ms=args.stub_latency_ms)
        env = smsq_env(redis_server.url, stub, callbacks__allow_http="true", callbacks__allow_private="true",
                       campaigns__use_bulk="false", messente__rate_per_second="100000",
                       messente__burst="1000", **extra_settings(args))  # fmt: skip
        start_workers(stack, env, [GENERAL_WORKER, CALLBACKS_WORKER])
        smsq = Smsq.from_settings(settings_of(env))
        alone = campaign_rate(smsq, stub, workdir, args.campaign)
        print(f"  campaign alone: {alone:,.0f} messages/s")
        seeded = seed_events(MessageStore(smsq.store.redis, retention_seconds=3600), f"{url}/hook", secret,
                             args.drain)  # fmt: skip
        print(f"  {args.drain:,} callback events waiting (made in {seeded:.1f} s)")
        before = receiver.received.count()
        during = campaign_rate(smsq, stub, workdir, args.campaign)
        drained = receiver.received.count() - before
        due = smsq.store.redis.zcard(CallbackKeys(smsq.store.keys).due)
        print(f"  campaign while callbacks drain: {during:,.0f} messages/s ({during / alone:.0%} of alone); "
              f"{drained:,} callbacks delivered meanwhile, {due:,} still to go")  # fmt: skip


def campaign_rate(smsq: Smsq, stub: str, workdir: Path, count: int) -> float:
    """Messages/s the stub received for one campaign, between its 10th and 90th percent."""
    path = workdir / f"recipients-{time.monotonic_ns()}.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name"])
        writer.writerows([f"+3725{n:07d}", f"N{n}"] for n in range(count))
    base = stats_total(stub)
    smsq.campaigns.create(name="bench", template=TEMPLATE, csv_path=path)
    low, high = base + count // 10, base + count * 9 // 10
    wait_until(lambda: stats_total(stub) >= low, timeout=300, interval=0.05, what="10% sent")
    began = time.monotonic()
    wait_until(lambda: stats_total(stub) >= high, timeout=600, interval=0.05, what="90% sent")
    rate = (high - low) / (time.monotonic() - began)
    wait_until(lambda: stats_total(stub) >= base + count, timeout=300, what="the whole campaign")
    return rate


def stats_total(stub: str) -> int:
    return int(httpx.get(f"{stub}/_stats", timeout=30).json()["total"])


def settings_of(env: dict[str, str]) -> Settings:
    saved = dict(os.environ)
    os.environ.update({f"SMSQ_{k.upper()}": v for k, v in env.items()})
    try:
        return Settings(_env_file=None)  # type: ignore[call-arg]
    finally:
        os.environ.clear()
        os.environ.update(saved)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--scenario", choices=["throughput", "isolation", "both"], default="both")
    parser.add_argument("--callbacks", type=int, default=20_000)
    parser.add_argument("--drain", type=int, default=100_000)
    parser.add_argument("--campaign", type=int, default=5_000)
    parser.add_argument("--latency-ms", type=float, default=50.0)
    parser.add_argument("--stub-latency-ms", type=float, default=20.0)
    parser.add_argument(
        "--receiver-nice", type=int, default=0,
        help="isolation: run the receiver's thread at this nice (19: as if on another host)",
    )  # fmt: skip
    parser.add_argument("--set", action="append", default=[], help="extra smsq setting NAME=VALUE")
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    if args.scenario in ("throughput", "both"):
        print("1. throughput")
        throughput(args, Path(tempfile.mkdtemp(prefix="smsq-cb-")))
    if args.scenario in ("isolation", "both"):
        print("2. a campaign's send rate while callbacks drain")
        isolation(args, Path(tempfile.mkdtemp(prefix="smsq-cb-")))
    print(f"load average after: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
