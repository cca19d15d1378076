"""A real stack for integration tests: the sandbox over loopback, a Celery worker and beat as
subprocesses (`smsq worker`, `smsq beat`), on the session's private redis-server (db 1, so the unit
tests' flushes of db 0 never touch it)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from cli.processes import Stack, child_env, smsq_command, wait_until
from cli.redis_server import RedisServer
from config.celery import make_celery
from config.settings import Settings
from producers.client import Smsq
from producers.results import MessageResult
from sandbox.server import running_sandbox


@dataclass
class Running:
    settings: Settings
    env: dict[str, str]
    stack: Stack
    log_dir: Path


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture(scope="session")
def running(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    redis_url = redis_server.url.removesuffix("/0") + "/1"
    smsq_env = {
        "redis_url": redis_url,
        "key_prefix": "it",
        "messente__base_url": f"{sandbox_url}/v1",
        "messente__username": "sandbox",
        "messente__password": "sandbox",
        "retry__base_delay": "0.2",
        "retry__max_delay": "1",
        "retry__max_attempts": "3",
        "schedule__release_interval": "0.05",
    }
    env = child_env(**smsq_env)
    settings = Settings(_env_file=None, **{k: v for k, v in smsq_env.items() if "__" not in k},  # type: ignore[call-arg]
                        messente={"base_url": f"{sandbox_url}/v1"})  # fmt: skip
    log_dir = tmp_path_factory.mktemp("stack")
    with Stack(log_dir) as stack:
        stack.start("worker", smsq_command("worker", "--concurrency", "2", "--name", "it-all@%h"), env)
        stack.start("beat", smsq_command("beat"), env)
        app = make_celery(settings)
        try:
            wait_until(
                lambda: bool(app.control.ping(timeout=0.5)), timeout=60, what="the worker to answer ping"
            )
        except TimeoutError:
            pytest.fail("\n".join(f"{c.name}:\n{c.log_tail()}" for c in stack.children))
        yield Running(settings, env, stack, log_dir)


@pytest.fixture
def smsq(running: Running) -> Smsq:
    return Smsq.from_settings(running.settings)


@pytest.fixture
def sandbox(sandbox_url: str) -> Iterator[httpx.Client]:
    """The sandbox's admin API, reset before each test."""
    with httpx.Client(base_url=sandbox_url, timeout=5) as client:
        client.post("/_admin/reset").raise_for_status()
        yield client


def wait_for(smsq: Smsq, message_id: str, statuses: set[str], timeout: float = 20) -> MessageResult:
    wait_until(lambda: smsq.result(message_id).status in statuses, timeout=timeout,
               what=f"message {message_id} to reach {sorted(statuses)}")  # fmt: skip
    return smsq.result(message_id)


def received(sandbox: httpx.Client, path: str = "/v1/omnimessage") -> list[dict]:  # type: ignore[type-arg]
    requests = sandbox.get("/_admin/requests", params={"provider": "messente"}).json()
    entries = requests["requests"] if isinstance(requests, dict) else requests
    return [r for r in entries if r["path"] == path and r["method"] == "POST"]
