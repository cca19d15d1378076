"""Campaign throughput (issue 7, targets 2, 3, 4, 6 and 7), three figures side by side in one run,
against the same far end with the same number of connections:

- smsq: a campaign created through the producer API -> `smsq worker` processes -> the stub -> the
  outcome recorded; only records whose status is `sent` count, timed from create() to the last
  `sent_ms` recorded;
- textbook: bench/textbook.py, one Celery task per message, sync httpx, prefork, apply_async each;
- limit: bench/limit.py, bare asyncio clients (aiohttp, httpx over httpx-aiohttp, plain httpx).

The far end is measured first with wrk (a C load generator) so the report shows it is not the
bottleneck: nginx + echo module for single sends (bench/nginx_stub.py), bench/stub.py (aiohttp) for
bulk calls and the 429 limit, the sandbox for target 4.

    .venv/bin/python -m bench.throughput                        # every scenario
    .venv/bin/python -m bench.throughput --scenario 2 --messages 30000
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import httpx
import redis

from bench import limit, textbook
from bench.common import private_redis, smsq_env, start_stub, start_workers
from bench.nginx_stub import start_nginx_stub
from bench.throughput_scenarios import PROVIDER_REACH, SCENARIOS, Scenario
from smsq.cli.processes import Stack, child_env, http_ready, smsq_command, wait_until
from smsq.cli.redis_server import free_port
from smsq.config.settings import Settings
from smsq.producers.campaigns.model import message_id
from smsq.producers.client import Smsq
from smsq.telemetry.names import PACING_LATE

TEMPLATE = {"messages": [{"channel": "sms", "sender": "Acme", "text": "Offer %n%"}], "priority": "low"}


@dataclass
class Figure:
    who: str
    messages: int = 0
    seconds: float = 0.0
    note: str = ""

    @property
    def rate(self) -> float:
        return self.messages / self.seconds if self.seconds > 0 else 0.0

    def line(self) -> str:
        rate = f"{self.messages:>7} sent in {self.seconds:7.2f} s = {self.rate:8,.0f}/s"
        return f"{self.who:>22}: {rate}  {self.note}"


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def say(text: str) -> None:
    print(text, flush=True)


# -- the far end ----------------------------------------------------------------------------------


def start_far_end(scenario: Scenario, stack: Stack, workdir: Path) -> tuple[str, dict[str, str]]:
    """(base URL without /v1, smsq settings for reaching it)."""
    if scenario.far_end == "nginx":
        return start_nginx_stub(stack, workdir / "nginx", latency_ms=scenario.latency_ms, workers=1), {}
    if scenario.far_end == "aiohttp":
        url = start_stub(stack, latency_ms=scenario.latency_ms, limit_per_second=scenario.limit_per_second)
        return url, {}
    port = free_port()
    stack.start("sandbox", smsq_command("sandbox", "--port", str(port)), child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(f"{url}/_admin/health"), timeout=30, what="the sandbox")
    return url, {"messente__username": "sandbox", "messente__password": "sandbox"}


def wrk_capacity(scenario: Scenario, url: str, workdir: Path, seconds: int = 5) -> str:
    """The far end's own capacity, measured with wrk (C, 2 threads) and many connections."""
    wrk = shutil.which("wrk")
    if wrk is None:
        return "not measured (apt-get install wrk)"
    bulk = 100 if scenario.bulk else None
    body, per_request = limit.body_for("v1/omnimessages" if bulk else "v1/omnimessage", 0, 100, bulk)
    script = workdir / "wrk.lua"
    script.write_text(f'wrk.method = "POST"\nwrk.body = {json.dumps(body.decode())}\n'
                      'wrk.headers["Content-Type"] = "application/json"\n'
                      'wrk.headers["Authorization"] = "Basic c2FuZGJveDpzYW5kYm94"\n')  # fmt: skip
    connections = 1000 if scenario.latency_ms >= 50 else 64
    path = "/v1/omnimessages" if bulk else "/v1/omnimessage"
    out = subprocess.run(
        [wrk, "-t2", f"-c{connections}", f"-d{seconds}s", "-s", str(script), url + path],
        capture_output=True, text=True, timeout=seconds + 30, check=False,
    ).stdout  # fmt: skip
    found = re.search(r"Requests/sec:\s+([\d.]+)", out)
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not found:
        return f"wrk failed: {out[-300:]!r}"
    rps = float(found.group(1))
    extra = f", {bad.group(1)} non-2xx" if bad else ""
    return (f"{rps:,.0f} requests/s = {rps * per_request:,.0f} messages/s "
            f"(wrk, {connections} connections, {seconds} s{extra})")  # fmt: skip


def stub_stats(url: str) -> dict[str, Any]:
    try:
        return dict(httpx.get(f"{url}/_stats", timeout=30).json())
    except (httpx.HTTPError, ValueError):
        return {}


def reset_stub(url: str) -> None:
    with contextlib.suppress(httpx.HTTPError):
        httpx.post(f"{url}/_reset", timeout=30)


# -- smsq -----------------------------------------------------------------------------------------


def smsq_phase(
    scenario: Scenario, redis_url: str, url: str, reach: dict[str, str], workdir: Path, label: str = "smsq"
) -> Figure:
    rate, burst = scenario.rate
    provider_reach = PROVIDER_REACH.get(scenario.provider, lambda _: {})(url)
    env = smsq_env(redis_url, url, **{
        f"{scenario.provider}__rate_per_second": str(rate), f"{scenario.provider}__burst": str(burst),
        "campaigns__use_bulk": str(scenario.bulk).lower(), "campaigns__concurrency": str(scenario.threads),
        **provider_reach, **reach, **scenario.smsq_env})  # fmt: skip
    with Stack(workdir) as stack:
        start_workers(
            stack, env, [("smsq-worker", ("--lanes", "low", "--concurrency", str(scenario.processes)))]
        )
        settings = Settings(_env_file=None, redis_url=redis_url)
        smsq = Smsq.from_settings(settings)
        recipients = [{"to": f"+3725{n:07d}", "n": str(n)} for n in range(scenario.messages)]
        started = time.time()
        progress = smsq.campaigns.create(
            name=f"bench-{scenario.key}", template=TEMPLATE, recipients=recipients
        )
        created = time.time() - started
        campaign_id = progress.id
        deadline = time.monotonic() + max(180.0, scenario.messages / 50)

        def finished() -> bool:
            counts = smsq.campaign_counts(campaign_id)
            return (
                sum(n for s, n in counts.items() if s not in ("queued", "sending", "scheduled"))
                >= len(recipients)
                or time.monotonic() > deadline
            )

        wait_until(finished, timeout=deadline - time.monotonic() + 5, what="the campaign", interval=0.2)
        ids = [message_id(campaign_id, p) for p in range(1, len(recipients) + 1)]
        statuses, last_ms = read_records(smsq.store.redis, [smsq.store.keys.record(i) for i in ids])
        counts = smsq.campaign_counts(campaign_id)
        late = sum(int(n) for n in smsq.store.redis.hvals(smsq.store.keys.metrics(PACING_LATE.name)))
    note = f"create() {created:.1f} s; statuses {dict(statuses)}; counts {counts}; late for their slot {late}"
    return Figure(label, statuses["sent"], last_ms / 1000 - started if last_ms else 0.0, note)


def read_records(client: redis.Redis, keys: list[str]) -> tuple[Counter[str], int]:
    statuses: Counter[str] = Counter()
    last_ms = 0
    for start in range(0, len(keys), 5000):
        with client.pipeline(transaction=False) as pipe:
            for key in keys[start : start + 5000]:
                pipe.hmget(key, ["status", "sent_ms"])
            for status, sent_ms in pipe.execute():
                statuses[str(status)] += 1
                if status == "sent" and sent_ms:
                    last_ms = max(last_ms, int(sent_ms))
    return statuses, last_ms


# -- textbook -------------------------------------------------------------------------------------


def textbook_phase(scenario: Scenario, redis_url: str, url: str, workdir: Path) -> Figure:
    broker = redis_url.rsplit("/", 1)[0] + "/1"
    env = {**child_env(), "TEXTBOOK_BROKER": broker, "TEXTBOOK_STUB_URL": url}
    if scenario.textbook_rate_limit:
        env["TEXTBOOK_RATE_LIMIT"] = scenario.textbook_rate_limit
    os.environ.update({k: v for k, v in env.items() if k.startswith("TEXTBOOK_")})
    textbook.app.conf.update(broker_url=broker)
    # Celery keeps the connection and producer pools of the broker it first used: in a run of several
    # scenarios that was the previous scenario's Redis, stopped by now (every later textbook phase
    # failed with "connection refused"). Pools are kept per broker URL, so dropping the app's own
    # references makes it take this phase's.
    textbook.app._pool = None
    textbook.app.amqp._producer_pool = None
    client = redis.Redis.from_url(broker, decode_responses=True)
    with Stack(workdir) as stack:
        stack.start("textbook-worker", [sys.executable, "-m", "celery", "-A", "bench.textbook", "worker",
                    "-Q", textbook.QUEUE, "-P", "prefork", "-c", str(scenario.textbook_processes),
                    "-n", "textbook@%h", "--loglevel", "WARNING"], env)  # fmt: skip
        wait_until(lambda: bool(textbook.app.control.ping(timeout=0.5)), timeout=120, what="textbook worker")
        started = time.time()
        for n in range(scenario.messages):
            textbook.send.apply_async((n, f"+3725{n:07d}", f"Offer {n}"), queue=textbook.QUEUE)
        enqueued = time.time() - started
        deadline = time.monotonic() + max(180.0, scenario.messages / 50)
        wait_until(lambda: int(client.get(textbook.DONE) or 0) >= scenario.messages
                   or time.monotonic() > deadline, timeout=deadline - time.monotonic() + 5,
                   what="the textbook tasks", interval=0.2)  # fmt: skip
        keys = [f"{textbook.PREFIX}{n}" for n in range(scenario.messages)]
        statuses, last_ms = read_records(client, keys)
    note = f"apply_async x{scenario.messages} took {enqueued:.1f} s; statuses {dict(statuses)}"
    return Figure("textbook", statuses["sent"], last_ms / 1000 - started if last_ms else 0.0, note)


# -- one scenario ---------------------------------------------------------------------------------


@contextlib.contextmanager
def far_end(scenario: Scenario) -> Iterator[tuple[Path, str, str, dict[str, str]]]:
    workdir = Path(tempfile.mkdtemp(prefix=f"smsq-throughput-{scenario.key}-"))
    with private_redis(workdir) as redis_server, Stack(workdir) as stack:
        url, reach = start_far_end(scenario, stack, workdir)
        yield workdir, redis_server.url, url, reach


def run(scenario: Scenario, phases: set[str]) -> list[Figure]:
    say(f"\n== scenario {scenario.key}: {scenario.title}; {scenario.messages} messages, "
        f"{scenario.connections} connections; {load()}")  # fmt: skip
    figures: list[Figure] = []
    with far_end(scenario) as (workdir, redis_url, url, reach):
        if "capacity" in phases and scenario.limit_per_second is None:
            say(f"   far end ({scenario.far_end}, {scenario.latency_ms:g} ms): "
                f"{wrk_capacity(scenario, url, workdir)}; {load()}")  # fmt: skip
        steps: list[tuple[str, Callable[[], Figure]]] = []
        if "limit" in phases:
            for client in scenario.limit_clients:
                steps.append((f"limit {client}", lambda client=client: limit_figure(scenario, client, url)))  # type: ignore[misc]
        if "smsq" in phases:
            default = f"smsq {scenario.processes}x{scenario.threads}"
            steps.append((default, lambda: smsq_phase(scenario, redis_url, url, reach, workdir, default)))
            for label, processes, threads, settings in scenario.variants:
                variant = replace(scenario, processes=processes, threads=threads,
                                  smsq_env={**scenario.smsq_env, **dict(settings)})  # fmt: skip
                name = f"smsq {processes}x{threads} {label}"
                steps.append((name, smsq_step(variant, redis_url, url, reach, workdir, name)))
        if "textbook" in phases:
            steps.append(("textbook", lambda: textbook_phase(scenario, redis_url, url, workdir)))
        for name, step in steps:
            reset_stub(url)
            figure = step()
            if scenario.limit_per_second is not None:
                stats = stub_stats(url)
                figure.note += (f"; stub accepted {stats.get('total')} and answered 429 to "
                                f"{stats.get('too_many')} requests")  # fmt: skip
            figure.note += f"; {load()}"
            figures.append(figure)
            say(figure.line() if name == figure.who else replace(figure, who=name).line())
    return figures


def smsq_step(
    scenario: Scenario, redis_url: str, url: str, reach: dict[str, str], workdir: Path, label: str
) -> Callable[[], Figure]:
    return lambda: smsq_phase(scenario, redis_url, url, reach, workdir, label)


def limit_figure(scenario: Scenario, client: str, url: str) -> Figure:
    result = limit.measure(client, url, messages=scenario.messages, connections=scenario.connections,
                           bulk=100 if scenario.bulk else None, deadline_s=30,
                           provider=scenario.provider)  # fmt: skip
    note = "" if set(result.statuses) <= {200, 201} else f"statuses {dict(result.statuses)}"
    note += f" errors {dict(result.errors)}" if result.errors else ""
    note += " (deadline hit)" if result.timed_out else ""
    return Figure(f"limit {client}", result.messages, result.seconds, note)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="repeatable; default all"
    )
    parser.add_argument("--messages", type=int, default=None, help="every scenario's message count")
    parser.add_argument("--phases", default="capacity,limit,smsq,textbook")
    parser.add_argument("--processes", type=int, default=None, help="override smsq worker processes")
    parser.add_argument("--threads", type=int, default=None, help="override smsq send threads per process")
    parser.add_argument("--rate", default=None, help="override smsq's Messente rate,burst (e.g. 147,5)")
    parser.add_argument("--clients", default=None, help="limit clients, comma-separated")
    parser.add_argument("--set", action="append", default=[], help="extra smsq setting NAME=VALUE")
    parser.add_argument("--no-variants", action="store_true", help="only the scenario's main smsq setup")
    parser.add_argument(
        "--metrics-compare",
        action="store_true",
        help="smsq with metrics on and off in on-off-off-on blocks; prints the overhead (issue 15)",
    )
    parser.add_argument("--metrics-blocks", type=int, default=2, help="on-off-off-on blocks to run")
    args = parser.parse_args()
    phases = set(args.phases.split(","))
    for key in args.scenario or list(SCENARIOS):
        scenario = SCENARIOS[key]
        changes: dict[str, Any] = {}
        if args.messages:
            changes["messages"] = args.messages
        if args.processes:
            changes["processes"] = args.processes
        if args.threads:
            changes["threads"] = args.threads
        if args.rate:
            rate, burst = args.rate.split(",")
            changes["rate"] = (float(rate), int(burst))
        if args.clients:
            changes["limit_clients"] = tuple(args.clients.split(","))
        if args.set:
            changes["smsq_env"] = dict(item.split("=", 1) for item in args.set)
        if args.no_variants:
            changes["variants"] = ()
        if args.metrics_compare:
            changes["variants"] = metrics_variants(replace(scenario, **changes), args.metrics_blocks)
        figures = run(replace(scenario, **changes), phases)
        if args.metrics_compare:
            say(metrics_overhead(figures))


METRICS_OFF = (("metrics__enabled", "false"),)


def metrics_variants(
    scenario: Scenario, blocks: int = 2
) -> tuple[tuple[str, int, int, tuple[tuple[str, str], ...]], ...]:
    """After the main setup (metrics on, the default), the rest of ``blocks`` on-off-off-on blocks:
    on off off on | off on on off | ... Each block's on and off runs sit at the same mean position,
    so a steady drift over the run (the machine warming up, Redis growing) falls on both alike;
    plain alternation (on off on off) puts every on run before its off run and charges the drift
    to the metrics."""
    p, t = scenario.processes, scenario.threads
    on, off = ("metrics on", p, t, ()), ("metrics off", p, t, METRICS_OFF)
    order = [(on, off, off, on) if block % 2 == 0 else (off, on, on, off) for block in range(blocks)]
    return tuple(run for block in order for run in block)[1:]  # the first "on" is the main setup


def metrics_overhead(figures: list[Figure]) -> str:
    smsq = [f for f in figures if f.who.startswith("smsq")]
    off = [f.rate for f in smsq if f.who.endswith("metrics off")]
    on = [f.rate for f in smsq if not f.who.endswith("metrics off")]
    if not off or not on:
        return "   metrics compare: no smsq figures"
    mean_on, mean_off = sum(on) / len(on), sum(off) / len(off)
    # How far apart runs of one setup are: a difference smaller than that is not told from noise.
    spread = max((max(runs) - min(runs)) / min(runs) * 100 for runs in (on, off))
    return (f"   metrics on {mean_on:,.0f}/s ({', '.join(f'{r:,.0f}' for r in on)}), "
            f"off {mean_off:,.0f}/s ({', '.join(f'{r:,.0f}' for r in off)}): "
            f"{(mean_off - mean_on) / mean_off * 100:+.1f} % slower with metrics "
            f"(runs of one setup up to {spread:.1f} % apart)")  # fmt: skip


if __name__ == "__main__":
    main()
