"""A real stack for integration tests: the sandbox over loopback, a Celery worker and beat as
subprocesses (`smsq worker`, `smsq beat`), on the session's private redis-server (db 1, so the unit
tests' flushes of db 0 never touch it)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from smsq.producers.core.results import MessageResult
from smsq.sandbox.server import running_sandbox
from tests.integration.stack import Running, stack_settings, started_stack


@pytest.fixture(scope="session")
def sandbox_url() -> Iterator[str]:
    with running_sandbox() as url:
        yield url


@pytest.fixture(scope="session")
def running(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    redis_url = redis_server.url.removesuffix("/0") + "/1"
    with started_stack(
        stack_settings(redis_url, sandbox_url, "it"), tmp_path_factory.mktemp("stack")
    ) as running:
        yield running


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
    try:
        wait_until(lambda: smsq.result(message_id).status in statuses, timeout=timeout,
                   what=f"message {message_id} to reach {sorted(statuses)}")  # fmt: skip
    except TimeoutError as exc:  # say where it is instead: the first thing anyone asks of a failure
        result = smsq.result(message_id)
        raise TimeoutError(f"{exc}; it is {result.status} (last error {result.last_error})") from None
    return smsq.result(message_id)


def received(sandbox: httpx.Client, path: str = "/v1/omnimessage") -> list[dict]:  # type: ignore[type-arg]
    requests = sandbox.get("/_admin/requests", params={"provider": "messente"}).json()
    entries = requests["requests"] if isinstance(requests, dict) else requests
    return [r for r in entries if r["path"] == path and r["method"] == "POST"]
