"""The stack bench/faults.py runs its scenarios on: a private Redis with AOF, the recording stub, two
general worker nodes, a high-lane node and beat, supervised as a restart policy would."""

from __future__ import annotations

import argparse
import contextlib
import os
import signal
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from bench.common import smsq_env, start_stub, start_workers
from smsq.cli.processes import Child, Stack, child_env, smsq_command
from smsq.cli.redis_server import RedisServer
from smsq.config.settings import Settings
from smsq.producers.client import Smsq

WORKERS = [("general-a", ("--concurrency", "2")), ("general-b", ("--concurrency", "2")),
           ("high", ("--lanes", "high", "--concurrency", "2"))]  # fmt: skip
PENDING = {"scheduled", "queued", "sending"}
SENT = {"sent", "delivered"}


@dataclass
class Bench:
    args: argparse.Namespace
    workdir: Path
    redis: RedisServer
    stack: Stack
    stub_url: str
    env: dict[str, str]
    smsq: Smsq
    generation: int = 0
    otp_sent: dict[str, float] = field(default_factory=dict)
    restarts: int = 0  # workers that exited on their own and were started again, as a supervisor would
    lock: threading.Lock = field(default_factory=threading.Lock)

    def worker(self, name: str) -> Child:
        return next(c for c in self.stack.children if c.name == name)

    def replace(self, name: str, sig: int) -> float:
        """Stop one node (SIGKILL: its whole group; SIGTERM: its main process) and start a new one."""
        with self.lock:
            child = self.worker(name)
            started = time.monotonic()
            if sig == signal.SIGTERM:
                child.process.send_signal(sig)
                child.process.wait(timeout=120)
            took = time.monotonic() - started
            self._restart(child)
            return took

    def _restart(self, child: Child) -> None:
        child.stop(signal.SIGKILL)
        self.stack.children.remove(child)
        self.generation += 1
        node = f"{child.name}-{self.generation}@%h"
        cmd = smsq_command("worker", "--name", node, "--loglevel", "WARNING", *dict(WORKERS)[child.name])
        self.stack.start(child.name, cmd, child_env(**self.env))

    def supervise(self, stop: threading.Event) -> None:
        """docker-compose's `restart: unless-stopped`: a worker that exited is started again. (Celery
        5.7 workers can exit with "Unrecoverable error" when Redis goes away mid-task: README.)"""
        while not stop.wait(1):
            with self.lock:
                for child in [c for c in self.stack.children if c.name in dict(WORKERS) and not c.alive()]:
                    self.restarts += 1
                    self._restart(child)

    def in_flight(self) -> int:
        return int(self.smsq.store.redis.zcard(self.smsq.store.keys.leases))

    def counts(self) -> Counter[str]:
        return Counter(httpx.get(f"{self.stub_url}/_counts", timeout=30).json())


@contextlib.contextmanager
def bench(args: argparse.Namespace, *, fsync: str = "everysec", **extra: str) -> Iterator[Bench]:
    workdir = Path(tempfile.mkdtemp(prefix="smsq-faults-"))
    redis = RedisServer(workdir, appendonly=True, appendfsync=fsync)
    redis.start()
    try:
        with Stack(workdir) as stack:
            stub_url = start_stub(stack, latency_ms=args.latency_ms)
            env = smsq_env(redis.url, stub_url, lanes__lease_seconds="30",
                           campaigns__use_bulk="true" if args.bulk else "false", **extra)  # fmt: skip
            start_workers(stack, env, WORKERS)
            with _patched_env(env):
                settings = Settings(_env_file=None)  # type: ignore[call-arg]
            b = Bench(args, workdir, redis, stack, stub_url, env, Smsq.from_settings(settings))
            stop = threading.Event()
            supervisor = threading.Thread(target=b.supervise, args=(stop,), daemon=True)
            supervisor.start()
            try:
                yield b
            finally:
                stop.set()
                supervisor.join()
                if b.restarts:
                    print(f"  workers that exited on their own and were restarted: {b.restarts}")
    finally:
        redis.stop()


@contextlib.contextmanager
def _patched_env(env: dict[str, str]) -> Iterator[None]:
    saved = dict(os.environ)
    os.environ.update({f"SMSQ_{k.upper()}": v for k, v in env.items()})
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)
