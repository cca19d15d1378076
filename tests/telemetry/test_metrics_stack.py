"""Metrics scraped from a real running stack: a worker with two prefork processes, beat, `smsq api`
and `smsq metrics`, on a redis-server of their own, sending to the sandbox over loopback."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.processes import http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.sandbox.server import running_sandbox
from tests.integration.stack import Running, stack_settings, started_stack
from tests.telemetry.support import Samples, samples, value

pytestmark = pytest.mark.integration

SENDS = 100
# The worker leaves the low lane alone, so it is "blocked" until a second worker takes it.
LANES_BUT_LOW = "high,regular,status,sync"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, str, str]]:
    """The stack, the URL of `smsq metrics` and that of the API's /metrics."""
    redis_server = RedisServer(tmp_path_factory.mktemp("metrics-redis"))
    redis_server.start()
    try:
        with running_sandbox() as sandbox_url:
            settings = stack_settings(
                redis_server.url, sandbox_url, "it-metrics", metrics__flush_interval="0.2"
            )
            workers = [("two", ("--concurrency", "2", "--lanes", LANES_BUT_LOW))]
            with started_stack(settings, tmp_path_factory.mktemp("metrics"), workers=workers) as running:
                metrics = served(running, "metrics", "/metrics")
                yield running, metrics, served(running, "api", "/healthz").replace("/healthz", "/metrics")
    finally:
        redis_server.stop()


def served(running: Running, command: str, path: str) -> str:
    """Start `smsq <command> --port N`; its URL at ``path`` once it answers there."""
    port = free_port()
    child = running.stack.start(command, smsq_command(command, "--port", str(port)), running.env)
    url = f"http://127.0.0.1:{port}{path}"
    try:
        wait_until(http_ready(url), timeout=30, what=f"smsq {command} to answer")
    except TimeoutError:
        pytest.fail(child.log_tail())
    return url


def scrape(url: str) -> Samples:
    response = httpx.get(url, timeout=5)
    response.raise_for_status()
    return samples(response.text)  # prometheus_client's parser: raises on a malformed exposition


def sent_total(found: Samples) -> float:
    return sum(v for (name, labels), v in found.items()
               if name == "smsq_messages_total" and ("status", "sent") in labels)  # fmt: skip


def message(n: int, priority: str) -> dict[str, object]:
    return {
        "to": f"+3725{2000000 + n}",
        "priority": priority,
        "messages": [{"channel": "sms", "text": f"m {n}"}],
    }


def test_after_100_sends_the_sent_counter_summed_over_processes_is_100(
    stack: tuple[Running, str, str],
) -> None:
    running, url, api_url = stack
    smsq = running.smsq()
    ids = [smsq.send(message(n, "regular")).message_id for n in range(SENDS)]
    wait_until(lambda: all(r is not None and r.status == "sent" for r in smsq.results(ids).values()),
               timeout=60, what="every message to be sent")  # fmt: skip
    # Each pool process flushes its own counts (every 0.2 s here): wait for both to arrive.
    wait_until(lambda: sent_total(scrape(url)) >= SENDS, timeout=30, what="the sent counter to reach 100")
    found = scrape(url)
    assert sent_total(found) == SENDS
    assert value(found, "smsq_messages_total", status="sent", provider="messente", channel="sms") == SENDS
    assert value(found, "smsq_send_duration_seconds_count", provider="messente") == SENDS
    assert value(found, "smsq_lane_depth", lane="regular") == 0
    assert sent_total(scrape(api_url)) == SENDS  # the API's /metrics: the same figures


def test_lane_depth_and_oldest_age_move_while_a_lane_is_blocked(stack: tuple[Running, str, str]) -> None:
    running, url, _ = stack
    smsq = running.smsq()
    assert value(scrape(url), "smsq_lane_depth", lane="low") == 0
    first = [smsq.send(message(500 + n, "low")).message_id for n in range(5)]
    found = scrape(url)
    assert value(found, "smsq_lane_depth", lane="low") == 5
    age = value(found, "smsq_lane_oldest_age_seconds", lane="low") or 0.0
    # The oldest task's age grows while nobody takes it; more sends add depth, not age.
    wait_until(lambda: (value(scrape(url), "smsq_lane_oldest_age_seconds", lane="low") or 0) >= age + 1.0,
               timeout=10, what="the low lane's oldest age to grow")  # fmt: skip
    for n in range(3):
        smsq.send(message(600 + n, "low"))
    found = scrape(url)
    assert value(found, "smsq_lane_depth", lane="low") == 8
    assert (value(found, "smsq_lane_oldest_age_seconds", lane="low") or 0) >= age + 1.0
    assert value(found, "smsq_lane_depth", lane="high") == 0
    # A worker for the low lane: the lane drains and its age goes back to 0.
    running.stack.start(
        "low", smsq_command("worker", "--lanes", "low", "--name", "low-metrics@%h"), running.env
    )
    wait_until(lambda: value(scrape(url), "smsq_lane_depth", lane="low") == 0, timeout=60,
               what="the low lane to drain")  # fmt: skip
    assert value(scrape(url), "smsq_lane_oldest_age_seconds", lane="low") == 0
    wait_until(lambda: all(r is not None and r.status == "sent" for r in smsq.results(first).values()),
               timeout=60, what="the low messages to be sent")  # fmt: skip
