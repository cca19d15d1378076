"""The fault scenarios of issue 12, run by hand. Each prints its figures, counted at the recording stub
(bench/stub.py: per recipient, how many send requests reached it) next to smsq's final statuses.

1. a campaign (--messages, from a CSV) and OTPs at --otp-rate/s; --kills SIGKILLs of whole worker
   process groups (general and high-lane nodes in turn, --kill-every s apart, each replaced at once)
2. the same campaign with Redis SIGKILLed mid-way and restarted from its AOF (appendfsync everysec,
   as docker-compose.yml runs it); then the cost of `appendfsync always` in throughput
3. Redis unreachable (SIGSTOP: silent, the worst case) for --redis-down s while producers send
4. the provider answering 500 for --fault-500 s, then hanging for --fault-hang s, then garbage for
   --fault-garbage s, while messages are sent
5. a rolling SIGTERM restart of every worker (to each main process, as `docker stop` does) during a
   campaign

    .venv/bin/python -m bench.faults                                  # all five, full size (~30 min)
    .venv/bin/python -m bench.faults --scenario 1                     # one
    .venv/bin/python -m bench.faults --messages 300 --kills 2 --kill-every 2 --redis-down 3 \\
        --fault-500 3 --fault-hang 3 --fault-garbage 3 --fsync-messages 300 --settle 60   # smoke run

Singles go through smsq's default async path at --latency-ms (200), so a campaign spans the kills;
--bulk sends Messente bulk calls instead. The lease is 30 s here (SMSQ_LANES__LEASE_SECONDS; default
60), so a killed node's in-flight messages settle inside the --settle window.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import itertools
import json
import signal
import threading
import time
from collections import Counter
from collections.abc import Sequence
from typing import Any

import httpx

from bench.common import percentile
from bench.fault_stack import PENDING, SENT, WORKERS, Bench, bench
from smsq.cli.processes import wait_until
from smsq.producers.campaigns.model import message_id
from smsq.producers.errors import StoreUnavailable

OTP_PREFIX = "+3712"  # the stub records these numbers' arrival times
TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %name%, spring sale", "sender": "Shop"}]}


def campaign(b: Bench, count: int) -> list[str]:
    path = b.workdir / "recipients.csv"
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["phone", "name"])
        writer.writerows([f"+3725{n:07d}", f"N{n}"] for n in range(count))
    started = time.monotonic()
    progress = b.smsq.campaigns.create(name="faults", template=TEMPLATE, csv_path=path)
    print(f"  campaign of {count:,} accepted in {time.monotonic() - started:.1f} s")
    return [message_id(progress.id, line) for line in range(2, count + 2)]  # line 1 is the header


class Otps(threading.Thread):
    """One OTP every 1/rate seconds through the producer API until stopped."""

    def __init__(self, b: Bench, rate: float) -> None:
        super().__init__(daemon=True)
        self.b, self.rate, self.stop = b, rate, threading.Event()
        self.ids: list[str] = []

    def run(self) -> None:
        n = 0
        while not self.stop.wait(1 / self.rate):
            to = f"{OTP_PREFIX}{n:07d}"
            with contextlib.suppress(StoreUnavailable):
                self.b.otp_sent[to] = time.time()
                otp = {"to": to, "priority": "high", "messages": [{"channel": "sms", "text": "code 1234"}]}
                self.ids.append(self.b.smsq.send(otp).message_id)
            n += 1


def results(b: Bench, ids: Sequence[str]) -> dict[str, dict[str, str] | None]:
    found: dict[str, dict[str, str] | None] = {}
    for start in range(0, len(ids), 1000):
        chunk = ids[start : start + 1000]
        found.update(zip(chunk, b.smsq.store.get_many(chunk), strict=True))
    return found


def pending(b: Bench, ids: Sequence[str]) -> int:
    return sum(1 for r in results(b, ids).values() if r and r["status"] in PENDING)


def settle(b: Bench, ids: Sequence[str], window: float) -> tuple[int, float]:
    """How many are still scheduled/queued/sending ``window`` seconds from now (a campaign's backlog
    still draining counts too), then wait for the rest (up to --drain s); returns (that count, the
    seconds it took for everything to settle)."""
    started = time.monotonic()
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: pending(b, ids) == 0, timeout=window, interval=1, what="settling")
    at_window = pending(b, ids)
    with contextlib.suppress(TimeoutError):
        wait_until(lambda: pending(b, ids) == 0, timeout=b.args.drain, interval=2, what="draining")
    return at_window, time.monotonic() - started


def report(b: Bench, ids: Sequence[str], *, in_flight: int | None = None) -> dict[str, Any]:
    records = results(b, ids)
    got = b.counts()
    statuses = Counter(r["status"] if r else "missing" for r in records.values())
    twice = [r for r in records.values() if r and got[r["to"]] >= 2]
    figures = {
        "messages": len(ids),
        "statuses": dict(statuses),
        "lost (no record, or never received and not failed)": statuses["missing"]
        + sum(1 for r in records.values() if r and r["status"] in SENT and got[r["to"]] == 0),
        "received 0 times": sum(1 for r in records.values() if r and got[r["to"]] == 0),
        "received 1 time": sum(1 for r in records.values() if r and got[r["to"]] == 1),
        "received 2+ times": len(twice),
        "  of those unmarked (not a lease-expired resend)": sum(
            1 for r in twice if r.get("last_error_code") != "lease-expired"
        ),
        "still not final": sum(1 for r in records.values() if r and r["status"] in PENDING),
        "unknown": statuses["unknown"],
        "  of those never received": sum(
            1 for r in records.values() if r and r["status"] == "unknown" and got[r["to"]] == 0
        ),
    }  # fmt: skip
    if in_flight is not None:
        figures["in flight (sending) at the faults, summed"] = in_flight
    for name, value in figures.items():
        print(f"  {name}: {value}")
    return figures


def otp_latency(b: Bench) -> None:
    arrivals = httpx.get(f"{b.stub_url}/_stats", timeout=30).json()["arrivals"]
    waits = [min(arrivals[to]) - sent for to, sent in b.otp_sent.items() if to in arrivals]
    missing = len(b.otp_sent) - len(waits)
    if waits:
        p50, p99 = percentile(waits, 50) * 1000, percentile(waits, 99) * 1000
        worst = max(waits) * 1000
        print(f"  OTP latency over the run: p50 {p50:.0f} ms, p99 {p99:.0f} ms, max {worst:.0f} ms "
              f"({len(waits)} OTPs; {missing} never arrived)")  # fmt: skip


def backoff_gaps(records: Any) -> dict[int, float]:
    """Median seconds between attempt n-1 and attempt n, from the records' attempt logs."""
    gaps: dict[int, list[float]] = {}
    for record in records:
        log = json.loads("[" + record["attempt_log"] + "]") if record and record.get("attempt_log") else []
        for before, after in itertools.pairwise(log):
            gaps.setdefault(int(after["number"]), []).append((after["at_ms"] - before["at_ms"]) / 1000)
    return {n: percentile(values, 50) for n, values in sorted(gaps.items())}


# -- the scenarios --------------------------------------------------------------------------------


def scenario_1(args: argparse.Namespace) -> None:
    print(f"1. {args.kills} SIGKILLs of whole worker process groups, {args.kill_every} s apart")
    with bench(args) as b:
        ids = campaign(b, args.messages)
        otps = Otps(b, args.otp_rate)
        otps.start()
        in_flight = 0
        for kill in range(args.kills):
            time.sleep(args.kill_every)
            in_flight += b.in_flight()
            b.replace(WORKERS[kill % len(WORKERS)][0], signal.SIGKILL)
        otps.stop.set()
        otps.join()
        left, took = settle(b, ids + otps.ids, args.settle)
        print(f"  not final {args.settle:g} s after the last kill: {left}; all settled after {took:.0f} s")
        report(b, ids + otps.ids, in_flight=in_flight)
        otp_latency(b)


def scenario_2(args: argparse.Namespace) -> None:
    print("2. Redis SIGKILLed mid-campaign and restarted from its AOF (appendfsync everysec)")
    with bench(args) as b:
        ids = campaign(b, args.messages)
        otps = Otps(b, args.otp_rate)
        otps.start()
        time.sleep(args.kill_every)
        in_flight = b.in_flight()
        b.redis.kill()
        b.redis.start(timeout=120)
        time.sleep(args.kill_every)
        otps.stop.set()
        otps.join()
        left, took = settle(b, ids + otps.ids, args.settle)
        print(f"  not final {args.settle:g} s after the restart: {left}; all settled after {took:.0f} s")
        report(b, ids + otps.ids, in_flight=in_flight)
        otp_latency(b)
    for fsync in ("everysec", "always"):
        with bench(args, fsync=fsync) as b:
            started = time.monotonic()
            ids = campaign(b, args.fsync_messages)
            settle(b, ids, 0)
            rate = len(ids) / (time.monotonic() - started)
            print(
                f"  appendfsync {fsync}: {len(ids):,} messages created and sent in "
                f"{len(ids) / rate:.1f} s = {rate:,.0f}/s"
            )


def scenario_3(args: argparse.Namespace) -> None:
    print(f"3. Redis unreachable (SIGSTOP) for {args.redis_down:g} s while producers send")
    with bench(args) as b:
        outcomes: Counter[str] = Counter()
        slowest = [0.0]
        accepted: list[str] = []
        stop = threading.Event()

        def produce(thread: int) -> None:
            n = thread * 100_000  # each thread its own numbers
            while not stop.is_set():
                started = time.monotonic()
                try:
                    accepted.append(
                        b.smsq.send(
                            {"to": f"+37258{n:06d}", "messages": [{"channel": "sms", "text": "x"}]}
                        ).message_id
                    )
                    outcomes["ok"] += 1
                except StoreUnavailable:
                    outcomes["StoreUnavailable"] += 1
                except Exception as error:  # anything else is what this scenario looks for
                    outcomes[f"other: {type(error).__name__}"] += 1
                slowest[0] = max(slowest[0], time.monotonic() - started)
                n += 1
                time.sleep(0.02)

        threads = [threading.Thread(target=produce, args=(t,), daemon=True) for t in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(3)
        assert b.redis.process is not None
        b.redis.process.send_signal(signal.SIGSTOP)
        time.sleep(args.redis_down)
        b.redis.process.send_signal(signal.SIGCONT)
        time.sleep(3)
        stop.set()
        for thread in threads:
            thread.join()
        print(f"  calls: {dict(outcomes)}; the slowest took {slowest[0]:.1f} s")
        left, took = settle(b, accepted, args.settle)
        print(
            f"  accepted but not final {args.settle:g} s after Redis came back: {left}; "
            f"all after {took:.0f} s"
        )
        report(b, accepted)


def scenario_4(args: argparse.Namespace) -> None:
    print(
        f"4. provider 500 for {args.fault_500:g} s, hanging {args.fault_hang:g} s, "
        f"garbage {args.fault_garbage:g} s"
    )
    with bench(args) as b:
        ids: list[str] = []
        for mode, seconds in (
            ("500", args.fault_500),
            ("hang", args.fault_hang),
            ("garbage", args.fault_garbage),
            ("ok", 3),
        ):
            httpx.post(f"{b.stub_url}/_mode", json={"mode": mode}, timeout=5).raise_for_status()
            ends = time.monotonic() + seconds
            while time.monotonic() < ends:
                ids.append(
                    b.smsq.send(
                        {"to": f"+37257{len(ids):06d}", "messages": [{"channel": "sms", "text": "x"}]}
                    ).message_id
                )
                time.sleep(0.05)
        left, took = settle(b, ids, args.settle)
        print(f"  not final {args.settle:g} s after the provider recovered: {left}; all after {took:.0f} s")
        report(b, ids)
        attempts = Counter(int((r or {}).get("attempts") or 0) for r in results(b, ids).values())
        print(f"  attempts per message: {dict(sorted(attempts.items()))} (SMSQ_RETRY__MAX_ATTEMPTS: 5)")
        gaps = backoff_gaps(results(b, ids).values())
        print("  median wait before attempt n (s): " + ", ".join(f"{n}: {g:.1f}" for n, g in gaps.items()))
        print(
            "  failover: one provider in this run (the stub speaks Messente only); "
            "rate-limit waits: no 429 phase"
        )


def scenario_5(args: argparse.Namespace) -> None:
    print("5. a rolling SIGTERM restart of every worker during a campaign")
    with bench(args) as b:
        ids = campaign(b, args.messages)
        time.sleep(args.kill_every)
        for name, _ in WORKERS:
            took = b.replace(name, signal.SIGTERM)
            print(f"  {name}: stopped in {took:.1f} s")
            time.sleep(args.kill_every)
        left, took = settle(b, ids, args.settle)
        print(f"  not final {args.settle:g} s after the last restart: {left}; all after {took:.0f} s")
        report(b, ids)


SCENARIOS = {"1": scenario_1, "2": scenario_2, "3": scenario_3, "4": scenario_4, "5": scenario_5}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scenario", action="append", choices=sorted(SCENARIOS))
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--otp-rate", type=float, default=10.0)
    parser.add_argument("--kills", type=int, default=10)
    parser.add_argument("--kill-every", type=float, default=5.0)
    parser.add_argument(
        "--settle", type=float, default=90.0, help="seconds allowed to settle after the faults"
    )
    parser.add_argument("--redis-down", type=float, default=30.0)
    parser.add_argument("--fault-500", type=float, default=60.0)
    parser.add_argument("--fault-hang", type=float, default=30.0)
    parser.add_argument("--fault-garbage", type=float, default=30.0)
    parser.add_argument("--fsync-messages", type=int, default=30_000)
    parser.add_argument("--drain", type=float, default=1800.0, help="then wait this long for the rest")
    parser.add_argument("--latency-ms", type=float, default=200.0)
    parser.add_argument("--bulk", action="store_true", help="Messente bulk calls instead of singles")
    args = parser.parse_args()
    for name in args.scenario or sorted(SCENARIOS):
        SCENARIOS[name](args)
        print()


if __name__ == "__main__":
    main()
