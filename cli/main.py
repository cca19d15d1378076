"""The `smsq` command. User mistakes print one readable line and exit 2; no tracebacks."""

from __future__ import annotations

import json
import os
import sys
from typing import Annotated

import typer
from kombu.exceptions import OperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from rich.console import Console

from smsq.cli.api import api as api_command
from smsq.cli.blacklist import app as blacklist_app
from smsq.cli.callbacks import app as callbacks_app
from smsq.cli.campaign import app as campaign_app
from smsq.cli.keys import app as keys_app
from smsq.cli.metrics import metrics as metrics_command
from smsq.cli.segments import segments
from smsq.cli.top import top as top_command
from smsq.cli.two_factor import app as two_factor_app
from smsq.cli.windows import app as windows_app
from smsq.config import contract as names
from smsq.config.celery import worker_queues
from smsq.config.settings import load_settings
from smsq.producers.errors import SmsqError
from smsq.telemetry.logs import configure_logging

# No pretty tracebacks with locals: a local may hold a credential.
app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    help="smsq: messages through provider APIs.",
)
console = Console()
# soft_wrap: an error is one line even when stderr is not a terminal (logs, CI, pipes).
errors = Console(stderr=True, soft_wrap=True)


@app.command()
def worker(
    lanes: Annotated[str, typer.Option(help="comma-separated queues, consumed in this order")] = ",".join(
        names.ALL_QUEUES
    ),
    concurrency: Annotated[int, typer.Option(min=1, help="worker processes")] = 2,
    name: Annotated[str | None, typer.Option(help="node name (default: smsq-<lanes>@host)")] = None,
    loglevel: Annotated[str, typer.Option()] = "INFO",
    nice: Annotated[
        int,
        typer.Option(
            min=0, max=19, help="lower CPU priority: give bulk workers some, so OTP gets the CPU first"
        ),
    ] = 0,
) -> None:
    """Run a Celery worker on the given lanes (a high-only worker keeps OTP off the bulk queues)."""
    queues = [lane.strip() for lane in lanes.split(",") if lane.strip()]
    unknown = [lane for lane in queues if lane not in names.LANES]
    if unknown or not queues:
        raise SmsqError(
            f"--lanes: unknown lane {', '.join(unknown) or '(none)'}; use {', '.join(names.LANES)}"
        )
    settings = load_settings()
    if nice:
        os.nice(nice)  # inherited by the pool processes it forks
    from smsq.workers.app import create_app

    node = name or f"smsq-{'-'.join(queues)}@%h"
    argv = ["worker", "-Q", ",".join(queues), "-c", str(concurrency), "-n", node, "-l", loglevel,
            "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle"]  # fmt: skip
    if settings.log.format == "json":
        argv.insert(0, "--quiet")  # celery -q: no start-up banner, every line of output is a log line
    # Before Celery starts: its start-up warnings come before its setup_logging signal.
    configure_logging(settings.log)
    worker = create_app(settings)
    worker.conf.task_queues = worker_queues(settings, queues)
    worker.worker_main(argv)


@app.command()
def beat(loglevel: Annotated[str, typer.Option()] = "INFO") -> None:
    """Run the scheduler: releases due messages (sub-second) and fires periodic jobs."""
    settings = load_settings()
    from smsq.workers.app import create_app
    from smsq.workers.beat import run_beat

    configure_logging(settings.log)
    run_beat(create_app(settings), settings, loglevel=loglevel)


@app.command()
def send(
    to: Annotated[str, typer.Option(help="recipient in international format, e.g. +37251234567")],
    text: Annotated[str, typer.Option(help="SMS text")],
    priority: Annotated[str, typer.Option(help="low, regular or high")] = "regular",
    sender: Annotated[str | None, typer.Option(help="sender name or number")] = None,
    time_to_send: Annotated[str | None, typer.Option(help="ISO-8601; no zone means UTC")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="same key, same message, sent once")] = None,
    max_segments: Annotated[int | None, typer.Option(help="refuse a text of more SMS parts")] = None,
    message_class: Annotated[
        str | None, typer.Option("--class", help="transactional (default) or marketing: held to send windows")
    ] = None,
) -> None:
    """Send one SMS."""
    from smsq.producers.client import Smsq

    part: dict[str, str] = {"channel": "sms", "text": text}
    if sender is not None:
        part["sender"] = sender
    message: dict[str, object] = {"to": to, "messages": [part], "priority": priority}
    if time_to_send is not None:
        message["time_to_send"] = time_to_send
    receipt = Smsq.from_settings(load_settings()).send(
        message, idempotency_key=idempotency_key, max_segments=max_segments, message_class=message_class
    )
    note = " (idempotency key seen before: nothing new queued)" if receipt.duplicate else ""
    parts = f" ({receipt.sms.explain()})" if receipt.sms else ""
    if receipt.deferred_to is not None:
        parts += f"; outside its send window: goes at {receipt.deferred_to:%Y-%m-%dT%H:%MZ}"
    console.print(f"{receipt.message_id} {receipt.status}{parts}{note}", highlight=False, soft_wrap=True)


@app.command()
def status(
    message_id: Annotated[str | None, typer.Argument(help="the id `smsq send` printed")] = None,
    campaign: Annotated[str | None, typer.Option(help="a campaign's counts by status instead")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Show one message's status, per-channel results, attempts and timestamps; or a campaign's counts."""
    from smsq.cli.status_views import show_status

    show_status(console, load_settings(), message_id, campaign=campaign, as_json=as_json)


@app.command()
def summary(
    since: Annotated[str | None, typer.Option(help="ISO-8601, no zone = UTC (default: until - 24 h)")] = None,
    until: Annotated[str | None, typer.Option(help="ISO-8601, no zone = UTC (default: now)")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Count the messages created in a time range by their status now (whole UTC hours)."""
    from smsq.cli.status_views import show_summary

    show_summary(console, load_settings(), since, until, as_json=as_json)


@app.command()
def limits(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """Show each provider's rate limit as the workers use it now (lowered by a 429, climbing back)."""
    from smsq.cli.limits import show_limits

    show_limits(console, load_settings(), as_json=as_json)


@app.command()
def webhooks(
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8026,
    host: Annotated[str, typer.Option(help="0.0.0.0 to listen on every interface")] = "127.0.0.1",
) -> None:
    """Receive delivery reports (Messente, SMSAPI, Direct Messenger) and queue them for the workers."""
    settings = load_settings()
    from smsq.workers.webhooks.server import run_webhooks

    run_webhooks(settings, host, port)


@app.command()
def cancel(message_id: Annotated[str, typer.Argument()]) -> None:
    """Cancel a scheduled message (not one already released or sent)."""
    from smsq.producers.client import Smsq

    result = Smsq.from_settings(load_settings()).cancel(message_id)
    console.print(f"{result.id} {result.status}")


@app.command("dead-letters")
def dead_letters(limit: Annotated[int, typer.Option(min=1)] = 20) -> None:
    """Show task payloads that could not be decoded, with their errors."""
    from smsq.producers.client import Smsq

    for entry in Smsq.from_settings(load_settings()).store.dead_letters(limit):
        console.print(json.dumps(entry))


@app.command()
def sandbox(
    port: Annotated[int, typer.Option(min=1, max=65535)] = 8025,
    host: Annotated[str, typer.Option()] = "127.0.0.1",
) -> None:
    """Serve the provider sandbox (Messente at /v1, SMSAPI at /smsapi, Direct Messenger at /dm)."""
    from smsq.sandbox.server import run

    run(host, port)


@app.command()
def demo(
    per_priority: Annotated[int, typer.Option(min=1, max=1000, help="messages per priority")] = 4,
    redis_url: Annotated[str | None, typer.Option(help="use this Redis instead of a private one")] = None,
) -> None:
    """Run everything end to end: private Redis, sandbox, workers and beat; send, watch, report."""
    from smsq.cli.demo import run_demo

    run_demo(per_priority=per_priority, redis_url=redis_url, console=console)


app.command()(segments)
app.add_typer(windows_app, name="windows")
app.add_typer(blacklist_app, name="blacklist")
app.add_typer(campaign_app, name="campaign")
app.add_typer(two_factor_app, name="2fa")
app.command("metrics")(metrics_command)
app.command("top")(top_command)
app.add_typer(keys_app, name="keys")
app.add_typer(callbacks_app, name="callbacks")
app.command("api")(api_command)


def main() -> None:
    try:
        app()  # click handles usage errors itself: one line, exit 2
    except SmsqError as error:  # SettingsError included
        errors.print(f"[red]error:[/] {error}", highlight=False)
        sys.exit(2)
    except (RedisConnectionError, OperationalError) as error:
        errors.print(f"[red]error:[/] cannot reach Redis ({error}); check SMSQ_REDIS_URL", highlight=False)
        sys.exit(2)
    except KeyboardInterrupt:
        errors.print("interrupted")
        sys.exit(130)
