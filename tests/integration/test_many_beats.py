"""Beat on many hosts: two `smsq beat` processes run at once, one holds the lease and releases the
schedule, nothing is sent twice; the holder is SIGKILLed and the standby takes over within the lease."""

from __future__ import annotations

import signal
import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from smsq.cli.processes import Child, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from smsq.producers.core.keys import Keys
from tests.integration.faults import received_per_number, settle
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration
LEASE_SECONDS = 2


@pytest.fixture
def two_beats(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Running, Child, Child]]:
    settings = stack_settings(
        db_url(redis_server.url, 14), sandbox_url, "it-beats", beat__lease_seconds=str(LEASE_SECONDS)
    )
    with started_stack(settings, tmp_path_factory.mktemp("beats"), beat=False) as running:
        running.smsq().store.redis.flushdb()
        beats = (running.stack.start("beat-a", smsq_command("beat"), running.env),
                 running.stack.start("beat-b", smsq_command("beat"), running.env))  # fmt: skip
        yield running, *beats


def holder(running: Running, beats: tuple[Child, ...]) -> Child | None:
    value = running.smsq().store.redis.get(Keys(running.settings.key_prefix).beat_lease)
    for beat in beats:
        if value and value.startswith(f"{socket.gethostname()}:{beat.process.pid}"):
            return beat
    return None


def scheduled(smsq: Smsq, numbers: range, seconds: float) -> list[str]:
    due = (datetime.now(UTC) + timedelta(seconds=seconds)).isoformat()
    message = {"time_to_send": due, "messages": [{"channel": "sms", "text": "later"}]}
    return [smsq.send({**message, "to": f"+3725600{n:04d}"}).message_id for n in numbers]


def test_two_beats_send_nothing_twice_and_the_standby_takes_over_a_killed_holder(
    two_beats: tuple[Running, Child, Child], sandbox: httpx.Client
) -> None:
    running, *beats = two_beats
    smsq = running.smsq()
    wait_until(lambda: holder(running, tuple(beats)) is not None, timeout=30, what="a beat to take the lease")
    first = holder(running, tuple(beats))
    assert first is not None
    before = scheduled(smsq, range(0, 40), seconds=1)
    figures = settle(smsq, before, sandbox, timeout=30)
    assert figures.statuses == {"sent": 40} and max(received_per_number(sandbox).values()) == 1, figures

    first.stop(signal.SIGKILL)  # its whole process group, as a lost host
    killed_at = time.monotonic()
    after = scheduled(smsq, range(40, 60), seconds=0.5)
    standby = next(beat for beat in beats if beat is not first)
    wait_until(lambda: holder(running, (standby,)) is standby, timeout=LEASE_SECONDS * 5,
               what="the standby to take the lease over")  # fmt: skip
    took_over = time.monotonic() - killed_at
    figures = settle(smsq, before + after, sandbox, timeout=30)
    assert figures.statuses == {"sent": 60} and max(received_per_number(sandbox).values()) == 1, figures
    assert took_over < LEASE_SECONDS * 3, f"took over after {took_over:.1f} s"
    assert "took the lease" in standby.log_path.read_text()
