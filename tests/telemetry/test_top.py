"""`smsq top`: one frame rendered from real Redis figures; rates from two readings; bad input."""

from __future__ import annotations

import subprocess

import pytest
import redis
from rich.console import Console

from smsq.cli.processes import child_env, smsq_command
from smsq.cli.redis_server import RedisServer
from smsq.cli.top import render
from smsq.config import contract as names
from smsq.producers.client import Smsq
from smsq.producers.core.keys import Keys
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import task_message
from smsq.telemetry import names as metrics
from smsq.telemetry.live import LiveReader, Totals
from smsq.telemetry.recorder import Recorder
from tests.support.fakes import FakeClock, RecordingPublisher


def shown(renderable: object) -> str:
    console = Console(width=120, record=True, color_system=None)
    console.print(renderable)
    return console.export_text()


def test_a_frame_shows_lanes_providers_backlogs_and_campaigns(
    redis_client: redis.Redis, store: MessageStore, clock: FakeClock, recorder: Recorder
) -> None:
    redis_client.lpush("high", task_message(names.SEND_TASK, {}, "high", "t", clock=lambda: clock() - 42))
    redis_client.set(Keys("t").circuit("smsapi"), "1", px=30_000)
    template = {"messages": [{"channel": "sms", "text": "hi", "sender": "Shop"}]}
    Smsq(store, RecordingPublisher()).campaigns.create(name="spring sale", template=template,
                                                       recipients=["+37251234567", "+37251234568"])  # fmt: skip
    reader = LiveReader(redis_client, redis_client, "t", clock=clock)
    before = reader.totals()
    recorder.inc(metrics.MESSAGES, ("sent", "messente", "sms"), 30)
    recorder.inc(metrics.RATE_LIMITED, ("messente",), 3)
    recorder.flush()
    clock.advance(2)
    text = shown(render(reader.snapshot(), before, reader.totals()))
    assert "rates over 2.0 s" in text
    lane = next(line for line in text.splitlines() if line.strip().startswith("│ high"))
    assert "1" in lane and "44.0 s" in lane  # published 42 s before the first reading, 2 s ago
    messente = next(line for line in text.splitlines() if "messente" in line)
    assert "15.0" in messente and "1.5" in messente and "closed" in messente  # 30 sent, 3 429s in 2 s
    assert "OPEN" in next(line for line in text.splitlines() if "smsapi" in line)
    assert "spring sale" in text and "0/2" in text


def test_no_rates_before_anything_was_recorded() -> None:
    empty = Totals(0.0, {})
    assert "rates over 1.0 s" in shown(render(_empty_snapshot(), empty, Totals(1.0, {})))


def _empty_snapshot():  # type: ignore[no-untyped-def]
    from smsq.telemetry.live import Lane, Snapshot

    return Snapshot(1.0, [Lane("high", 0, 0.0)], {}, {}, 0, 0, 0, 0, 0, 0, 0)


def test_the_command_prints_one_frame(redis_server: RedisServer) -> None:
    result = subprocess.run(smsq_command("top", "--once", "--interval", "0.2"),
                            env=child_env(redis_url=redis_server.url, key_prefix="top"),
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    for word in ("lanes", "providers", "in flight", "campaigns in progress", "messente", "sync"):
        assert word in result.stdout


@pytest.mark.parametrize("interval", ["0", "61", "x"])
def test_a_bad_interval_is_one_line_and_exit_2(redis_server: RedisServer, interval: str) -> None:
    result = subprocess.run(smsq_command("top", "--once", "--interval", interval),
                            env=child_env(redis_url=redis_server.url), capture_output=True, text=True,
                            timeout=60)  # fmt: skip
    assert result.returncode == 2
    assert "--interval" in result.stderr and "Traceback" not in result.stderr
