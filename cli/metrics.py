"""`smsq metrics`: the Prometheus exposition on its own port, for deployments without `smsq api`
(which serves the same at /metrics). Every figure is read from Redis at each scrape, so one
exporter shows every worker of every host; run as many as you like."""

from __future__ import annotations

import threading
from typing import Annotated

import typer

from smsq.config.settings import load_settings
from smsq.producers.errors import SmsqError


def metrics(
    port: Annotated[int, typer.Option(min=1, max=65535)] = 9808,
    host: Annotated[str, typer.Option(help="0.0.0.0 to listen on every interface")] = "127.0.0.1",
) -> None:
    """Serve Prometheus metrics (lanes, sends, providers, circuits, campaigns...) at http://HOST:PORT/metrics."""
    from prometheus_client import start_http_server

    from smsq.telemetry.exporter import build_registry
    from smsq.telemetry.logs import configure_logging

    settings = load_settings()
    configure_logging(settings.log)
    try:
        server, thread = start_http_server(port, addr=host, registry=build_registry(settings))
    except OSError as error:
        raise SmsqError(f"--port: cannot listen on {host}:{port} ({error.strerror or error})") from None
    typer.echo(f"serving metrics at http://{host}:{port}/metrics", err=True)
    try:
        threading.Event().wait()
    finally:
        server.shutdown()
        thread.join(timeout=5)
