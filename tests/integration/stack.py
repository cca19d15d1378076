"""Starting a real smsq stack (workers and beat as subprocesses) with a given configuration, on either
broker: ``broker="redis"`` (the stack's Redis database holds the queues too) or ``"amqp"`` (a RabbitMQ
vhost of the stack's own, deleted afterwards; the state store stays in Redis)."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest

from smsq.cli.processes import Stack, child_env, smsq_command, wait_until
from smsq.config.celery import make_celery
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from tests.support.rabbitmq import own_vhost

BROKERS = ("redis", "amqp")


@dataclass
class Running:
    settings: Settings
    env: dict[str, str]
    stack: Stack
    log_dir: Path

    def smsq(self) -> Smsq:
        return Smsq.from_settings(self.settings)


def stack_settings(redis_url: str, sandbox_url: str, prefix: str, **extra: str) -> dict[str, str]:
    """SMSQ_* values (without the prefix) for a stack talking to the sandbox; ``extra`` wins."""
    return {
        "redis_url": redis_url,
        "key_prefix": prefix,
        "messente__base_url": f"{sandbox_url}/v1",
        "messente__username": "sandbox",
        "messente__password": "sandbox",
        "retry__base_delay": "0.2",
        "retry__max_delay": "1",
        "retry__max_attempts": "3",
        "schedule__release_interval": "0.05",
        # Blacklist syncs only on demand: beat fires an overdue periodic one at start-up (its schedule
        # file outlives the session), and a sync importing the shared sandbox's lists would race tests.
        "blacklist__periodic_sync": "false",
        # Campaigns are marketing by default: without this, a campaign test run at night would wait
        # for the morning. test_send_windows.py turns the windows on with rules of its own.
        "cost__windows__enabled": "false",
        **extra,
    }


@contextlib.contextmanager
def started_stack(
    smsq_settings: dict[str, str],
    log_dir: Path,
    *,
    workers: Sequence[tuple[str, Sequence[str]]] = (("worker", ("--concurrency", "2")),),
    beat: bool = True,
    broker: str = "redis",
) -> Iterator[Running]:
    """Start each (name, extra `smsq worker` args) worker and beat; wait until every worker answers
    ping; stop everything on exit."""
    with contextlib.ExitStack() as resources:
        if broker == "amqp":
            smsq_settings = {**smsq_settings, "broker_url": resources.enter_context(own_vhost())}
        yield resources.enter_context(_started(smsq_settings, log_dir, workers=workers, beat=beat))


@contextlib.contextmanager
def _started(
    smsq_settings: dict[str, str],
    log_dir: Path,
    *,
    workers: Sequence[tuple[str, Sequence[str]]],
    beat: bool,
) -> Iterator[Running]:
    env = child_env(**smsq_settings)
    # The test process reads the same values the children do.
    with pytest.MonkeyPatch.context() as patch:
        for name, value in env.items():
            if name.startswith("SMSQ_"):
                patch.setenv(name, value)
        settings = Settings(_env_file=None)  # type: ignore[call-arg]
    with Stack(log_dir) as stack:
        for name, args in workers:
            stack.start(
                name, smsq_command("worker", "--name", f"{name}-{smsq_settings['key_prefix']}@%h", *args), env
            )
        if beat:
            stack.start("beat", smsq_command("beat"), env)
        app = make_celery(settings)
        try:
            wait_until(lambda: len(app.control.ping(timeout=0.5) or []) >= len(workers), timeout=60,
                       what="every worker to answer ping")  # fmt: skip
        except TimeoutError:
            pytest.fail("\n".join(f"{c.name}:\n{c.log_tail()}" for c in stack.children))
        yield Running(settings, env, stack, log_dir)


def db_url(redis_url: str, db: int) -> str:
    """The same private redis-server, another database: each stack gets its own queues and keys."""
    return redis_url.rsplit("/", 1)[0] + f"/{db}"
