"""On RabbitMQ a worker that consumes only the high lane does so at a higher consumer priority than the
general workers' high consumers, so RabbitMQ hands an OTP to a general worker (which may be busy with
a bulk batch, holding it prefetched) only while every dedicated one is busy."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest

from smsq.cli.redis_server import RedisServer
from smsq.config import contract as names
from smsq.config.celery import DEDICATED_HIGH_PRIORITY
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def two_kinds_of_worker(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(db_url(redis_server.url, 11), sandbox_url, "it-priority")
    workers = [("general", ("--lanes", "high,regular,low", "--concurrency", "1")),
               ("otp", ("--lanes", "high", "--concurrency", "1"))]  # fmt: skip
    with started_stack(
        settings, tmp_path_factory.mktemp("priority"), workers=workers, beat=False, broker="amqp"
    ) as running:
        yield running


def high_lane_consumer_priorities(vhost: str) -> list[int]:
    """Each consumer of the high lane's x-priority, as RabbitMQ holds it (0 when none was given)."""
    listed = subprocess.run(
        ["rabbitmqctl", "-q", "list_consumers", "-p", vhost, "queue_name", "arguments"],
        check=True, capture_output=True, text=True, timeout=60,
    ).stdout  # fmt: skip
    priorities = []
    for line in listed.splitlines():
        queue, _, arguments = line.partition("\t")
        if queue == names.HIGH:
            found = arguments.split("x-priority", 1)
            priorities.append(int(found[1].split(",")[1].strip(" }]")) if len(found) > 1 else 0)
    return sorted(priorities)


def test_only_the_dedicated_high_worker_consumes_at_a_higher_priority(two_kinds_of_worker: Running) -> None:
    vhost = urlsplit(two_kinds_of_worker.settings.effective_broker_url).path.lstrip("/")
    assert high_lane_consumer_priorities(vhost) == [0, DEDICATED_HIGH_PRIORITY]
