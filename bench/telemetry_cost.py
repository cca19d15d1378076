"""What one recorded event costs in a worker process, three ways (the choice behind
smsq.telemetry.recorder):

- buffered: smsq's Recorder (a deque append, no lock; a thread folds and sends the sums every second);
- redis: one HINCRBY round trip per event (counters kept in Redis with no buffer);
- multiprocess: prometheus_client's multiprocess mode (mmap files in PROMETHEUS_MULTIPROC_DIR).

    .venv/bin/python -m bench.telemetry_cost [--events 200000]

Each figure is the mean wall time per event over --events events in one process, against a private
redis-server on loopback.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import redis

from bench.common import private_redis
from smsq.producers.core.keys import Keys
from smsq.telemetry import names
from smsq.telemetry.recorder import Recorder

LABELS = ("sent", "messente", "sms")

MULTIPROCESS = """
import sys, time
from prometheus_client import Counter
counter = Counter("smsq_messages", "x", ["status", "provider", "channel"])
child = counter.labels("sent", "messente", "sms")
events = int(sys.argv[1])
started = time.perf_counter()
for _ in range(events):
    child.inc()
print((time.perf_counter() - started) / events)
"""


def per_event(events: int, step: object) -> float:
    started = time.perf_counter()
    for _ in range(events):
        step()  # type: ignore[operator]
    return (time.perf_counter() - started) / events


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=200_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, private_redis(Path(workdir)) as server:
        client = redis.Redis.from_url(server.url, decode_responses=True)
        recorder = Recorder(client, Keys("bench"), background=False)
        buffered = per_event(args.events, lambda: recorder.inc(names.MESSAGES, LABELS))
        started = time.perf_counter()
        recorder.flush()
        flush = time.perf_counter() - started
        key = Keys("bench").metrics(names.MESSAGES.name)
        direct = per_event(min(args.events, 20_000), lambda: client.hincrby(key, "|".join(LABELS), 1))
    with tempfile.TemporaryDirectory() as directory:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": directory}
        out = subprocess.run(
            [sys.executable, "-c", MULTIPROCESS, str(args.events)], env=env, capture_output=True, text=True
        )
        mmap = float(out.stdout.strip()) if out.returncode == 0 else float("nan")
        files = len(list(Path(directory).iterdir()))
    print(f"buffered (smsq Recorder):     {buffered * 1e6:8.2f} us/event (+ one flush: {flush * 1e3:.2f} ms)")
    print(f"redis HINCRBY per event:      {direct * 1e6:8.2f} us/event")
    print(f"prometheus multiprocess mmap: {mmap * 1e6:8.2f} us/event ({files} file(s) per process)")


if __name__ == "__main__":
    main()
