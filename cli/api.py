"""`smsq api`: serve the HTTP API under uvicorn (needs the api extra)."""

from __future__ import annotations

from typing import Annotated

import typer

from smsq.config.settings import load_settings


def api(
    host: Annotated[str | None, typer.Option(help="default SMSQ_API__HOST (127.0.0.1)")] = None,
    port: Annotated[int | None, typer.Option(min=1, max=65535, help="default SMSQ_API__PORT (8030)")] = None,
    log_level: Annotated[str, typer.Option()] = "info",
) -> None:
    """Serve the HTTP API: messages, campaigns, blacklist, two-factor (keys: `smsq keys create`)."""
    settings = load_settings()
    from smsq.api.server import run

    run(settings, host or settings.api.host, port or settings.api.port, log_level=log_level)
