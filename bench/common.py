"""What the benchmarks share: a private Redis, the stub, an smsq stack, percentiles."""

from __future__ import annotations

import contextlib
import statistics
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

from smsq.cli.processes import Stack, child_env, http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.config.celery import make_celery
from smsq.config.settings import Settings

BENCH = Path(__file__).parent


@contextlib.contextmanager
def private_redis(workdir: Path) -> Iterator[RedisServer]:
    server = RedisServer(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def start_stub(stack: Stack, *, latency_ms: float, limit_per_second: float | None = None) -> str:
    port = free_port()
    argv = [sys.executable, str(BENCH / "stub.py"), "--port", str(port), "--latency-ms", str(latency_ms)]
    if limit_per_second is not None:
        argv += ["--limit-per-second", str(limit_per_second)]
    stack.start("stub", argv, child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(f"{url}/_health"), timeout=20, what="the stub")
    return url


def smsq_env(redis_url: str, stub_url: str, **extra: str) -> dict[str, str]:
    # Campaigns are marketing by default: send windows off, so a bench measures the same at any hour.
    return {"redis_url": redis_url, "messente__base_url": f"{stub_url}/v1", "messente__username": "bench",
            "messente__password": "bench", "cost__windows__enabled": "false", **extra}  # fmt: skip


def start_workers(
    stack: Stack, env: dict[str, str], workers: Sequence[tuple[str, Sequence[str]]], *, beat: bool = True
) -> None:
    full = child_env(**env)
    for name, args in workers:
        stack.start(
            name, smsq_command("worker", "--name", f"{name}@%h", "--loglevel", "WARNING", *args), full
        )
    if beat:
        stack.start("beat", smsq_command("beat", "--loglevel", "WARNING"), full)
    app = make_celery(Settings(_env_file=None, redis_url=env["redis_url"]))  # type: ignore[call-arg]
    wait_until(
        lambda: len(app.control.ping(timeout=0.5) or []) >= len(workers), timeout=90, what="the workers"
    )


def percentile(values: Sequence[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered)) - 1))]


def summary(values: Sequence[float], unit: str = "ms", scale: float = 1000) -> str:
    if not values:
        return "no samples"
    parts = [f"p{p} {percentile(values, p) * scale:.0f} {unit}" for p in (50, 95, 99)]
    parts += [f"max {max(values) * scale:.0f} {unit}", f"mean {statistics.fmean(values) * scale:.0f} {unit}"]
    return ", ".join(parts) + f" (n={len(values)})"
