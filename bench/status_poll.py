"""Status polling throughput (issue: status polling and delivery reports).

Seeds --messages records as the send path leaves them (`sent`, Messente omnimessage id), starts real
`smsq worker` and `smsq beat` processes on a private redis-server, puts every message in the poll
schedule at once, and measures how fast the poll claimer and status-poll tasks bring them all to a
final status; reports messages resolved per second and the Redis memory of the poll schedule.

The far end is a loopback stub of Messente's status call (bench/status_stub.py) by default: the
sandbox keeps per-message state and answers far slower than smsq polls, so it would measure itself
(`--provider sandbox` runs against it, with fewer messages, to show that).

    .venv/bin/python -m bench.status_poll                                   # the issue's figures
    .venv/bin/python -m bench.status_poll --messages 5000 --provider sandbox
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import redis

from smsq.cli.processes import Stack, child_env, http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.config.celery import make_celery
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.producers.core.keys import HOUR_MS, Keys

BENCH = Path(__file__).parent
PREFIX = "smsq"
KEYS = Keys(PREFIX)
CHUNK = 5000


def start_provider(stack: Stack, provider: str, latency_ms: float, pending_first: bool) -> str:
    port = free_port()
    if provider == "stub":
        argv = [
            sys.executable,
            str(BENCH / "status_stub.py"),
            "--port",
            str(port),
            "--latency-ms",
            str(latency_ms),
        ]
        argv += ["--pending-first"] if pending_first else []
        health = "/_health"
    else:
        argv, health = smsq_command("sandbox", "--port", str(port)), "/_admin/health"
    stack.start(provider, argv, child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(url + health), timeout=30, what=f"the {provider}")
    return url


def sandbox_omnimessages(url: str, count: int) -> list[str]:
    """Send ``count`` omnimessages to the sandbox (bulk calls) and move its clock past their delivery."""
    ids: list[str] = []
    with httpx.Client(base_url=url, auth=("sandbox", "sandbox"), timeout=60) as client:
        for start in range(0, count, 500):
            batch = [{"to": f"+372510{n:05d}", "messages": [{"channel": "sms", "text": "hi"}]}
                     for n in range(start, min(count, start + 500))]  # fmt: skip
            answer = client.post("/v1/omnimessages", json={"messages": batch})
            answer.raise_for_status()
            ids.extend(entry["omnimessage_id"] for entry in answer.json()["messages"])
        client.post("/_admin/clock", json={"advance": 60}).raise_for_status()
    return ids


def seed_records(client: redis.Redis, omnimessage_ids: list[str]) -> list[str]:
    """Records in the state the send path leaves them (`sent`, counted in their hour)."""
    now_ms = int(time.time() * 1000)
    ids = [str(uuid.uuid4()) for _ in omnimessage_ids]
    for start in range(0, len(ids), CHUNK):
        with client.pipeline(transaction=False) as pipe:
            chunk = zip(ids[start : start + CHUNK], omnimessage_ids[start : start + CHUNK], strict=True)
            for message_id, omnimessage_id in chunk:
                pipe.hset(KEYS.record(message_id), mapping={
                    "id": message_id, "status": "sent", "to": "+37251234567", "priority": "low",
                    "channels": "sms", "created_ms": now_ms, "queued_ms": now_ms, "sent_ms": now_ms,
                    "updated_ms": now_ms, "attempts": 1, "provider": "messente",
                    "provider_message_id": omnimessage_id,
                })  # fmt: skip
            pipe.hincrby(KEYS.stats_hour(now_ms // HOUR_MS), "sent", min(CHUNK, len(ids) - start))
            pipe.execute()
    return ids


def schedule_all(client: redis.Redis, ids: list[str]) -> None:
    due = int(time.time() * 1000)
    for start in range(0, len(ids), CHUNK):
        client.zadd(KEYS.polls, dict.fromkeys(ids[start : start + CHUNK], due))


def progress(client: redis.Redis, total: int, started: float) -> Iterator[tuple[float, int]]:
    """(seconds since start, messages resolved) until the poll schedule is empty."""
    while True:
        left = int(client.zcard(KEYS.polls))  # type: ignore[arg-type]
        yield time.monotonic() - started, total - left
        if left == 0:
            return
        time.sleep(0.2)


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--provider", choices=["stub", "sandbox"], default="stub")
    parser.add_argument("--concurrency", type=int, default=4, help="processes of the one worker")
    parser.add_argument("--batch", type=int, default=100, help="messages per status-poll task")
    parser.add_argument("--poll-concurrency", type=int, default=8, help="status calls in flight per task")
    parser.add_argument("--latency-ms", type=float, default=5.0, help="the stub's answer delay")
    parser.add_argument("--pending-first", action="store_true", help="stub: first poll of each says ACK")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="smsq-bench-") as workdir:
        server = RedisServer(Path(workdir))
        server.start()
        client = redis.Redis.from_url(server.url, decode_responses=True)
        try:
            with Stack(Path(workdir)) as stack:
                url = start_provider(stack, args.provider, args.latency_ms, args.pending_first)
                if args.provider == "stub":
                    omnimessages = [f"bench-{n}" for n in range(args.messages)]
                else:
                    omnimessages = sandbox_omnimessages(url, args.messages)
                ids = seed_records(client, omnimessages)
                env = {
                    "redis_url": server.url, "key_prefix": PREFIX, "messente__base_url": f"{url}/v1",
                    "messente__username": "sandbox", "messente__password": "sandbox",
                    # The account's limit is not what is measured here (150/s would be the whole answer).
                    "messente__rate_per_second": "1000000", "messente__burst": "100000",
                    "polling__batch_size": str(args.batch), "polling__claim_batch": "10000",
                    "polling__concurrency": str(args.poll_concurrency),
                    "polling__claim_interval": "0.05", "polling__max_queued_tasks": "64",
                    "polling__intervals": "[1]", "polling__then_every": "1",
                }  # fmt: skip
                full_env = child_env(**env)
                worker = (
                    "worker",
                    "--lanes",
                    "status",
                    "--concurrency",
                    str(args.concurrency),
                    "--loglevel",
                    "WARNING",
                )
                stack.start("worker", smsq_command(*worker), full_env)
                stack.start("beat", smsq_command("beat", "--loglevel", "WARNING"), full_env)
                app = make_celery(Settings(_env_file=None, redis_url=server.url))  # type: ignore[call-arg]
                wait_until(lambda: bool(app.control.ping(timeout=0.5)), timeout=90, what="the worker")
                time.sleep(3)  # beat's claimer thread is up

                before = int(client.info("memory")["used_memory"])
                started = time.monotonic()
                schedule_all(client, ids)
                schedule_bytes = int(client.memory_usage(KEYS.polls, samples=0) or 0)
                used_with_schedule = int(client.info("memory")["used_memory"])
                seconds, resolved = 0.0, 0
                last_report = 0.0
                for seconds, resolved in progress(client, len(ids), started):
                    if seconds - last_report >= 5:
                        print(f"  {seconds:6.1f} s  {resolved:7d} resolved", flush=True)
                        last_report = seconds
                counts = (
                    Smsq.from_settings(Settings(_env_file=None, redis_url=server.url))
                    .summary(  # type: ignore[call-arg]
                        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() - 7200)),
                        time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 3600)),
                    )
                    .counts
                )
                calls = httpx.get(f"{url}/_stats").json() if args.provider == "stub" else None
        finally:
            client.close()
            server.stop()

    latency = f", stub latency {args.latency_ms:g} ms" if args.provider == "stub" else ""
    print(f"provider: {args.provider}{latency}; {len(ids)} messages; worker processes: {args.concurrency}, "
          f"batch {args.batch}, {args.poll_concurrency} calls in flight per task")  # fmt: skip
    print(f"resolved: {resolved} in {seconds:.1f} s = {resolved / seconds:.0f} messages/s")
    print(f"final statuses: {counts}")
    if calls is not None:
        print(f"status calls: {calls['total']} ({calls['pending']} answered in progress)")
    each = schedule_bytes / len(ids)
    grown = (used_with_schedule - before) / 1e6
    print(f"poll schedule: MEMORY USAGE {schedule_bytes / 1e6:.2f} MB for {len(ids)} entries "
          f"({each:.0f} B each); used_memory +{grown:.2f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
