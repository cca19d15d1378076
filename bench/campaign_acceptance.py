"""Campaign acceptance speed and memory (issue: bulk campaigns, targets 1 and 5).

Writes a CSV of --recipients lines (1 % repeated numbers, 0.1 % bad numbers, --blacklisted numbers
on the local blacklist), then times `Campaigns.create` on it against a private Redis with no workers
running: validated, deduplicated, blacklist-filtered, stored and queued. Redis memory is read with
INFO memory before and after, giving bytes per pending message (record + queue share).

With --send, workers then send the whole campaign to the loopback stub, and the resident memory of
the worker processes is sampled after the first and the last 100,000 messages.

    .venv/bin/python -m bench.campaign_acceptance                        # 1,000,000 recipients
    .venv/bin/python -m bench.campaign_acceptance --recipients 1000000 --send
"""

from __future__ import annotations

import argparse
import os
import random
import tempfile
import time
from pathlib import Path

import redis

from bench.common import private_redis, smsq_env, start_stub, start_workers
from smsq.cli.processes import Stack
from smsq.config.cost_settings import CapSettings, CostSettings
from smsq.config.settings import CampaignSettings, Settings
from smsq.producers.client import Smsq

TEMPLATE = {
    "messages": [{"channel": "sms", "text": "Hi %firstName%, 20% off until Sunday", "sender": "Shop"}]
}


def write_csv(path: Path, recipients: int, seed: int = 7) -> None:
    rng = random.Random(seed)
    with path.open("w", encoding="utf-8") as out:
        out.write("phone,firstName\n")
        for n in range(recipients):
            roll = rng.random()
            if roll < 0.001:
                number = "+3725x" + str(n)  # not a number
            elif roll < 0.011:
                number = f"+3725{rng.randrange(0, max(n, 1)):07d}"  # a number seen before (mostly)
            else:
                number = f"+3725{n:07d}"
            out.write(f"{number},Name{n % 997}\n")


def used_memory(client: redis.Redis) -> int:
    return int(client.info("memory")["used_memory"])  # type: ignore[index]


def worker_rss_mb(stack: Stack) -> float:
    """Resident memory of every worker process and its pool children, in MB."""
    total = 0
    for child in stack.children:
        if not child.name.startswith("worker"):
            continue
        pids = [child.process.pid]
        for entry in Path("/proc").iterdir():
            if entry.name.isdigit():
                try:
                    status = (entry / "status").read_text()
                except OSError:
                    continue
                if f"PPid:\t{child.process.pid}\n" in status:
                    pids.append(int(entry.name))
        for pid in pids:
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
            except OSError:
                pass
    return total / 1024


def compare_cost_checks(workdir: Path, csv_path: Path, blacklisted: int) -> None:
    """The same campaign accepted twice on one Redis (flushed between): SMSQ_COST__ENABLED off, then on
    with the example price table and caps high enough to pass (so counting, the per-country tally and
    the atomic charge all run)."""
    prices = Path(__file__).parents[1] / "config" / "prices.example.toml"
    on = CostSettings(prices_file=prices, caps=CapSettings(daily_segments=10**9, daily_cost=10**8))
    timings = {}
    with private_redis(workdir) as redis_server:
        for label, cost in (("without", CostSettings(enabled=False)), ("with", on)):
            settings = Settings(_env_file=None, redis_url=redis_server.url, cost=cost)  # type: ignore[call-arg]
            smsq = Smsq.from_settings(settings)
            smsq.store.redis.flushdb()
            for n in range(0, blacklisted * 97, 97):
                smsq.blacklist.add(f"+3725{n:07d}", source="api")
            started = time.monotonic()
            progress = smsq.campaigns.create(name="acceptance", template=TEMPLATE, csv_path=csv_path)
            timings[label] = time.monotonic() - started
            print(f"{label} cost checks: accepted in {timings[label]:.1f} s: {progress.messages:,} messages, "
                  f"parts {progress.sms_segments}")  # fmt: skip
    slower = 100 * (timings["with"] - timings["without"]) / timings["without"]
    print(f"cost checks cost {slower:+.1f} % ({timings['without']:.1f} s -> {timings['with']:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--recipients", type=int, default=1_000_000)
    parser.add_argument("--blacklisted", type=int, default=10_000)
    parser.add_argument("--send", action="store_true", help="then send it all and sample worker memory")
    parser.add_argument(
        "--cost-checks",
        action="store_true",
        help="issue 16: accept the campaign without, then with, parts counting, prices and caps; compare",
    )
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="smsq-accept-"))
    csv_path = workdir / "recipients.csv"
    started = time.monotonic()
    write_csv(csv_path, args.recipients)
    print(
        f"wrote {args.recipients:,} lines in {time.monotonic() - started:.1f} s "
        f"({csv_path.stat().st_size / 1e6:.0f} MB)"
    )

    if args.cost_checks:
        compare_cost_checks(workdir, csv_path, args.blacklisted)
        return

    with private_redis(workdir) as redis_server, Stack(workdir) as stack:
        settings = Settings(_env_file=None, redis_url=redis_server.url, campaigns=CampaignSettings())  # type: ignore[call-arg]
        smsq = Smsq.from_settings(settings)
        client = smsq.store.redis
        for n in range(0, args.blacklisted * 97, 97):
            smsq.blacklist.add(f"+3725{n:07d}", source="api")
        before = used_memory(client)
        started = time.monotonic()
        progress = smsq.campaigns.create(name="acceptance", template=TEMPLATE, csv_path=csv_path)
        elapsed = time.monotonic() - started
        after = used_memory(client)
        pending = progress.counts.get("queued", 0)
        print(f"accepted in {elapsed:.1f} s on {os.cpu_count()} cores: {progress.recipients:,} lines -> "
              f"{progress.messages:,} messages ({progress.counts}), skipped {progress.skipped}")  # fmt: skip
        print(f"Redis memory: {(after - before) / 1e6:.0f} MB for {pending:,} pending messages = "
              f"{(after - before) / max(pending, 1):.0f} bytes per pending message (record + queue share); "
              f"low-lane queue holds {client.llen('low'):,} batch tasks")  # fmt: skip

        if not args.send:
            return
        stub = start_stub(stack, latency_ms=0)
        env = smsq_env(redis_server.url, stub, messente__rate_per_second="100000", messente__burst="1000")
        start_workers(stack, env, [("worker", ("--concurrency", "2"))], beat=True)
        started = time.monotonic()
        samples: list[tuple[int, float]] = []
        marks = [100_000, max(pending - 100_000, 100_000), pending]
        while marks:
            done = smsq.campaigns.progress(progress.id).done - progress.counts.get("blocked", 0)
            if done >= marks[0]:
                samples.append((done, worker_rss_mb(stack)))
                marks.pop(0)
                continue
            time.sleep(0.5)
        seconds = time.monotonic() - started
        print(
            f"sent {pending:,} in {seconds:.0f} s ({pending / seconds:,.0f} msg/s, bulk calls, stub at 0 ms)"
        )
        print(
            "worker resident memory (MB) at messages done: "
            + ", ".join(f"{n:,}: {mb:.0f}" for n, mb in samples)
        )
        first, last = samples[0][1], samples[-2][1]
        print(f"growth from the first to the last 100,000: {100 * (last - first) / first:+.1f} %")


if __name__ == "__main__":
    main()
