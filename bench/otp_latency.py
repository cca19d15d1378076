"""OTP latency while bulk is being sent (issue: priority lanes).

With --backlog low-priority messages queued and being sent (provider stub latency --latency-ms),
send --otp high-priority messages, one every --interval-ms, and report p50/p95/p99 of the time from
the producer call to the provider receiving the request. Then the same with a single shared queue
(every message, OTP included, on one queue that every worker consumes), to show the difference.

    .venv/bin/python -m bench.otp_latency                # the issue's figures: 100,000 backlog, 200 OTP
    .venv/bin/python -m bench.otp_latency --backlog 5000  # quicker
    .venv/bin/python -m bench.otp_latency --campaign --backlog 1000000 --mode lanes  # OTP during a campaign
"""

from __future__ import annotations

import argparse
import contextlib
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx

from bench.common import private_redis, smsq_env, start_stub, start_workers, summary
from smsq.cli.processes import Stack, wait_until
from smsq.config.contract import Payload
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.producers.publisher import Publisher

# Lanes: a high-only worker plus a general one (high first). Single queue: the same processes, one queue.
# The general worker runs at a lower CPU priority (smsq worker --nice): on two cores busy with bulk
# sends, the high-lane worker must get the CPU first.
LANES = [
    ("worker-high", ("--lanes", "high", "--concurrency", "2")),
    ("worker", ("--concurrency", "4", "--nice", "10")),
]
SINGLE = [
    ("worker-a", ("--lanes", "low", "--concurrency", "2")),
    ("worker-b", ("--lanes", "low", "--concurrency", "4")),
]


class OneQueue:
    """Publishes everything to one queue: the 'no lanes' baseline."""

    def __init__(self, inner: Publisher, queue: str) -> None:
        self.inner, self.queue = inner, queue

    def publish(self, task: str, payload: Payload, queue: str) -> str:
        return self.inner.publish(task, payload, self.queue)

    def call(self, task: str, payload: Payload, queue: str, timeout: float) -> Any:
        return self.inner.call(task, payload, self.queue, timeout)


def bulk(n: int) -> dict[str, Any]:
    return {"to": f"+3725{n:07d}", "priority": "low", "messages": [{"channel": "sms", "text": f"Offer {n}"}]}


def otp(n: int) -> dict[str, Any]:
    # +3712... (Latvian mobile) numbers are what the stub watches.
    return {
        "to": f"+3712{n:07d}",
        "priority": "high",
        "messages": [{"channel": "sms", "text": f"Code {n:04d}"}],
    }


def run(mode: str, args: argparse.Namespace) -> None:
    workdir = Path(tempfile.mkdtemp(prefix=f"smsq-otp-{mode}-"))
    with private_redis(workdir) as redis_server, Stack(workdir) as stack:
        stub = start_stub(stack, latency_ms=args.latency_ms)
        env = smsq_env(redis_server.url, stub, messente__rate_per_second="100000", messente__burst="1000")
        start_workers(stack, env, LANES if mode == "lanes" else SINGLE)
        smsq = Smsq.from_settings(Settings(_env_file=None, redis_url=redis_server.url))  # type: ignore[call-arg]
        if mode == "single":
            smsq.publisher = OneQueue(smsq.publisher, "low")
        started = time.monotonic()
        if args.campaign:
            # The bulk backlog as a campaign: expanded, queued in batches, sent with bulk calls.
            people = [f"+3725{n:07d}" for n in range(args.backlog)]
            template = {"messages": [{"channel": "sms", "text": "Spring sale"}]}
            smsq.campaigns.create(name="backlog", template=template, recipients=people)
            took = time.monotonic() - started
            print(f"[{mode}] a {args.backlog:,}-recipient campaign created in {took:.1f} s")
        else:
            with ThreadPoolExecutor(4) as pool:
                list(pool.map(lambda n: smsq.send(bulk(n)), range(args.backlog), chunksize=500))
            print(f"[{mode}] queued {args.backlog} low messages in {time.monotonic() - started:.1f} s")

        sent_at: dict[str, float] = {}
        for n in range(args.otp):
            message = otp(n)
            sent_at[str(message["to"])] = time.time()
            smsq.send(message)
            time.sleep(args.interval_ms / 1000)

        def arrivals() -> dict[str, list[float]]:
            return httpx.get(f"{stub}/_stats", timeout=10).json()["arrivals"]

        with contextlib.suppress(TimeoutError):  # what did not arrive in time is reported
            wait_until(
                lambda: len(arrivals()) >= args.otp, timeout=args.deadline, interval=0.5, what="every OTP"
            )
        seen = arrivals()
        latencies = [seen[to][0] - t0 for to, t0 in sent_at.items() if to in seen]
        total = httpx.get(f"{stub}/_stats", timeout=10).json()["total"]
        print(f"[{mode}] OTP producer call -> provider: {summary(latencies)}; "
              f"{len(latencies)}/{args.otp} arrived within {args.deadline:.0f} s; "
              f"the provider had received {total} messages in all")  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backlog", type=int, default=100_000)
    parser.add_argument("--otp", type=int, default=200)
    parser.add_argument("--interval-ms", type=float, default=50)
    parser.add_argument("--latency-ms", type=float, default=50)
    parser.add_argument("--deadline", type=float, default=60, help="seconds to wait for the OTPs")
    parser.add_argument("--mode", choices=["lanes", "single", "both"], default="both")
    parser.add_argument("--campaign", action="store_true", help="the backlog is one campaign (bulk calls)")
    args = parser.parse_args()
    for mode in ("lanes", "single") if args.mode == "both" else (args.mode,):
        run(mode, args)


if __name__ == "__main__":
    main()
