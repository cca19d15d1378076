"""Scheduling accuracy (issue: time_to_send).

--messages messages with time_to_send spread evenly over --spread seconds are handed to smsq ahead
of time; the provider stub records when each arrives. Reports lateness p50/p99/max (arrival minus
time_to_send), how many arrived early, and how many arrived more than once.

    .venv/bin/python -m bench.schedule_accuracy          # the issue's figures: 10,000 over 60 s
"""

from __future__ import annotations

import argparse
import contextlib
import random
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench.common import private_redis, smsq_env, start_stub, start_workers, summary
from smsq.cli.processes import Stack, wait_until
from smsq.config.settings import Settings
from smsq.producers.client import Smsq


def message(n: int, due: float) -> dict[str, Any]:
    return {"to": f"+3712{n:07d}", "time_to_send": datetime.fromtimestamp(due, tz=UTC).isoformat(),
            "messages": [{"channel": "sms", "text": f"Reminder {n}"}]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--spread", type=float, default=60.0, help="seconds the due times spread over")
    parser.add_argument("--lead", type=float, default=30.0, help="seconds from now to the first due time")
    args = parser.parse_args()

    workdir = Path(tempfile.mkdtemp(prefix="smsq-schedule-"))
    with private_redis(workdir) as redis_server, Stack(workdir) as stack:
        stub = start_stub(stack, latency_ms=0)
        env = smsq_env(redis_server.url, stub, messente__rate_per_second="100000", messente__burst="1000")
        start_workers(stack, env, [("worker", ("--concurrency", "4"))])
        smsq = Smsq.from_settings(Settings(_env_file=None, redis_url=redis_server.url))  # type: ignore[call-arg]

        first = time.time() + args.lead
        due = {f"+3712{n:07d}": first + args.spread * n / args.messages for n in range(args.messages)}
        order = list(range(args.messages))
        random.shuffle(order)  # accepted in any order; released in due order
        started = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            list(pool.map(lambda n: smsq.send(message(n, due[f"+3712{n:07d}"])), order, chunksize=200))
        accepted_in = time.monotonic() - started
        print(f"accepted {args.messages} scheduled messages in {accepted_in:.1f} s "
              f"({'before' if time.time() < first else 'AFTER'} the first was due)")  # fmt: skip

        def arrivals() -> dict[str, list[float]]:
            return httpx.get(f"{stub}/_stats", timeout=30).json()["arrivals"]

        time.sleep(max(0.0, first + args.spread - time.time()))
        with contextlib.suppress(TimeoutError):  # what did not arrive in time is reported below
            wait_until(lambda: len(arrivals()) >= args.messages, timeout=60, interval=1, what="every message")
        seen = arrivals()
        lateness = [times[0] - due[to] for to, times in seen.items()]
        early = sum(1 for late in lateness if late < 0)
        twice = sum(1 for times in seen.values() if len(times) > 1)
        print(f"lateness: {summary(lateness)}")
        print(f"arrived {len(seen)}/{args.messages}; early: {early}; more than once: {twice}")


if __name__ == "__main__":
    main()
