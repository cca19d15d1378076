"""`smsq metrics --port N` serves the exposition over real HTTP; every metric smsq defines is in it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest

from smsq.cli.processes import Stack, child_env, http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.telemetry import names
from tests.telemetry.support import samples


@pytest.fixture
def served(redis_server: RedisServer, tmp_path: Path) -> str:
    port = free_port()
    with Stack(tmp_path) as stack:
        env = child_env(redis_url=redis_server.url, key_prefix="tm")
        child = stack.start("metrics", smsq_command("metrics", "--port", str(port)), env)
        url = f"http://127.0.0.1:{port}/metrics"
        try:
            wait_until(http_ready(url), timeout=30, what="smsq metrics to answer")
        except TimeoutError:
            pytest.fail(child.log_tail())
        yield url


def test_the_command_serves_a_parsable_exposition_naming_every_metric(served: str) -> None:
    response = httpx.get(served, timeout=5)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    text = response.text
    found = samples(text)  # the parser raises on a malformed exposition
    for metric in names.ALL:
        exposed = metric.name + ("_total" if metric.kind == "counter" else "")
        assert f"# HELP {exposed} " in text or f"# HELP {metric.name} " in text, metric.name
    assert {name for name, _ in found} <= names.exported_names()


def test_names_follow_prometheus_conventions() -> None:
    for metric in names.ALL:
        assert metric.name.startswith(names.PREFIX)
        assert not metric.name.endswith("_total"), "the exporter adds _total to counters"
        if metric.kind == "histogram":
            assert metric.name.endswith("_seconds") and list(metric.buckets) == sorted(metric.buckets)
        assert not {"message_id", "campaign_id", "to", "phone", "number"} & set(metric.labels)
    assert len({metric.name for metric in names.ALL}) == len(names.ALL)


@pytest.mark.parametrize(
    ("args", "env", "says"),
    [
        (["--port", "70000"], {}, "--port"),
        (["--port", "nine"], {}, "--port"),
        ([], {"metrics__flush_interval": "-1"}, "SMSQ_METRICS__FLUSH_INTERVAL"),
        ([], {"log__format": "xml"}, "SMSQ_LOG__FORMAT"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    redis_server: RedisServer, args: list[str], env: dict[str, str], says: str
) -> None:
    result = subprocess.run(
        smsq_command("metrics", *args),
        env=child_env(redis_url=redis_server.url, **env),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert says in result.stderr
    assert "Traceback" not in result.stderr


def test_a_port_in_use_is_one_line(served: str, redis_server: RedisServer) -> None:
    port = served.split(":")[-1].split("/")[0]
    result = subprocess.run(
        smsq_command("metrics", "--port", port),
        env=child_env(redis_url=redis_server.url),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert f"--port: cannot listen on 127.0.0.1:{port}" in result.stderr
    assert "Traceback" not in result.stderr
