"""smsq against each common limiter at the far end (issue 17, target 1): a campaign of single sends
through `smsq worker` processes (async singles) while status polls of what went out share the same
limit, for ``--seconds`` per limiter. Every limiter runs in nginx (limit_req, or
bench/far_end/limiters.lua in its Lua module); ``--python-far-end`` runs the token bucket and the
windows in aiohttp instead (bench/far_end/server.py, whose own stalls read as clumps). Reported
per limiter: what the far end accepted and refused (429) of sends and polls, and the accepted rate
as a share of the allowed one, counted at the far end over the run after a warm-up.

    .venv/bin/python -m bench.far_end.run                          # every limiter, 180 s each
    .venv/bin/python -m bench.far_end.run --seconds 30 --limiter nginx --limiter sliding-window
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bench.common import private_redis, smsq_env, start_workers
from bench.far_end import nginx
from smsq.cli.processes import Stack, child_env, http_ready, wait_until
from smsq.cli.redis_server import free_port
from smsq.config.settings import Settings
from smsq.producers.client import Smsq

LIMITERS = ("nginx", "token-bucket", "fixed-window", "sliding-window")
# The far end reads the time when it gets to a request: on a busy machine a far end that was not
# scheduled for 40 ms reads a clump of requests that arrived evenly, and counts them as one. It runs
# ahead of smsq's processes (as root: a lower nice value) so its own stalls are not counted as ours
# (and in nginx by default, whose loop in C reads the clock per request).
FAR_END_PRIORITY = ("nice", "-n", "-10") if os.geteuid() == 0 else ()
TEMPLATE = {"messages": [{"channel": "sms", "sender": "Acme", "text": "Offer %n%"}], "priority": "low"}
Log = list[tuple[float, int, str]]


@dataclass
class Result:
    limiter: str
    seconds: float  # counted: the run less the warm-up
    accepted: Counter[str]  # kind (send, poll) -> answered 2xx within the counted part
    refused: Counter[str]  # kind -> answered 429 at any time of the run
    rate: float
    learned: str

    def line(self) -> str:
        per_second = sum(self.accepted.values()) / self.seconds if self.seconds else 0.0
        return (f"{self.limiter:>15}: {per_second:6.1f} accepted/s = {per_second / self.rate:6.1%} of "
                f"{self.rate:g}/s over {self.seconds:.0f} s (sends {self.accepted['send']}, polls "
                f"{self.accepted['poll']}); 429s: {sum(self.refused.values())} {dict(self.refused) or ''}; "
                f"smsq's learned rate at the end: {self.learned}")  # fmt: skip


def python_far_end(
    stack: Stack, kind: str, rate: float, burst: int, latency_ms: float
) -> tuple[str, Callable[[], Log]]:
    port = free_port()
    argv = [sys.executable, "-m", "bench.far_end.server", "--port", str(port), "--limiter", kind,
            "--rate", str(rate), "--burst", str(burst), "--latency-ms", str(latency_ms)]  # fmt: skip
    stack.start(f"far-end-{kind}", [*FAR_END_PRIORITY, *argv], child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(f"{url}/_health"), timeout=30, what="the far end")

    def read() -> Log:
        return [
            (float(at), int(status), str(kind))
            for at, status, kind in httpx.get(f"{url}/_log", timeout=60).json()
        ]

    return url, read


def run_one(limiter: str, args: argparse.Namespace, workdir: Path) -> Result:
    with private_redis(workdir) as redis_server, Stack(workdir) as stack:
        if not args.python_far_end or limiter == "nginx":
            directory = workdir / "nginx"
            url = nginx.start(stack, directory, rate=args.rate, burst=args.burst, latency_ms=args.latency_ms,
                              priority=FAR_END_PRIORITY, limiter=limiter)  # fmt: skip

            def read_log() -> Log:
                return nginx.read_log(directory)
        else:
            url, read_log = python_far_end(stack, limiter, args.rate, args.burst, args.latency_ms)
        env = smsq_env(redis_server.url, url, **{
            "campaigns__use_bulk": "false", "campaigns__concurrency": str(args.connections),
            "polling__intervals": f"[{args.poll_after}]", "polling__claim_interval": "0.5",
            "blacklist__periodic_sync": "false",
            **dict(item.split("=", 1) for item in args.set)})  # fmt: skip
        # Polls on a node of their own, as the campaign's batches would keep a general one busy.
        start_workers(stack, env, [("smsq-worker", ("--concurrency", str(args.processes))),
                                   ("smsq-status", ("--lanes", "status", "--concurrency", "1"))])  # fmt: skip
        smsq = Smsq.from_settings(Settings(_env_file=None, redis_url=redis_server.url))  # type: ignore[call-arg]
        recipients = [
            {"to": f"+3725{n:07d}", "n": str(n)} for n in range(int(args.rate * args.seconds * 1.2))
        ]
        started = time.time()
        smsq.campaigns.create(name=f"far-end-{limiter}", template=TEMPLATE, recipients=recipients)
        time.sleep(args.seconds)  # the run itself: the far end counts
        ended = time.time()
        learned = _learned(redis_server.url)
        rows = read_log()
    accepted = Counter(
        kind for at, status, kind in rows if status < 300 and started + args.warmup <= at < ended
    )
    # 429s count over the whole run, warm-up included: none is allowed at any time.
    refused = Counter(kind for at, status, kind in rows if status == 429 and started <= at < ended)
    return Result(limiter, ended - started - args.warmup, accepted, refused, args.rate, learned)


def _learned(redis_url: str) -> str:
    import redis

    from smsq.workers.context import build_limiter

    client = redis.Redis.from_url(redis_url, decode_responses=True)
    rate = build_limiter(Settings(_env_file=None, redis_url=redis_url), client).rates()["messente"]  # type: ignore[call-arg]
    client.close()
    return f"{rate.current:.1f}/s" + (" (recovering from a 429)" if rate.recovering else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limiter", action="append", choices=LIMITERS, help="repeatable; default all")
    parser.add_argument("--seconds", type=float, default=180.0, help="each limiter's run")
    parser.add_argument("--warmup", type=float, default=3.0, help="not counted in the rate")
    parser.add_argument("--rate", type=float, default=150.0, help="the far end's limit, requests/s")
    parser.add_argument("--burst", type=int, default=5, help="nginx's burst and the token bucket's capacity")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    parser.add_argument("--processes", type=int, default=4, help="smsq worker processes")
    parser.add_argument("--connections", type=int, default=50, help="per process")
    parser.add_argument("--poll-after", type=float, default=5.0, help="seconds from send to its status poll")
    parser.add_argument("--python-far-end", action="store_true",
                        help="the token bucket and windows in aiohttp (server.py), not nginx")  # fmt: skip
    parser.add_argument("--set", action="append", default=[], help="extra smsq setting NAME=VALUE")
    args = parser.parse_args()
    print(f"far end at {args.rate:g}/s (burst {args.burst}), {args.latency_ms:g} ms; smsq "
          f"{args.processes}x{args.connections}; {args.seconds:g} s each; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)  # fmt: skip
    for limiter in args.limiter or LIMITERS:
        workdir = Path(tempfile.mkdtemp(prefix=f"smsq-far-end-{limiter}-"))
        print(run_one(limiter, args, workdir).line(), flush=True)


if __name__ == "__main__":
    main()
