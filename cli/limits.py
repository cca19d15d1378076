"""`smsq limits`: each provider's rate as every worker uses it now, learned from its 429s (AIMD)."""

from __future__ import annotations

import json
import time

from rich.console import Console
from rich.table import Table

from smsq.config.settings import Settings
from smsq.producers.core.connection import state_client


def show_limits(console: Console, settings: Settings, *, as_json: bool) -> None:
    # Imported here: the rest of the CLI does not need the worker side loaded.
    from smsq.workers.context import build_limiter

    client = state_client(settings)
    try:
        rates = build_limiter(settings, client).rates()
    finally:
        client.close()
    if as_json:
        body = {
            name: {"configured": r.configured, "paced": r.paced, "current": r.current, "cut_at": r.cut_at}
            for name, r in rates.items()
        }
        console.print_json(json.dumps(body))
        return
    table = Table(title="provider rate limits (requests/s, shared by every worker)")
    for column in ("provider", "configured", "paced at", "now", "state"):
        table.add_column(column, justify="left" if column in ("provider", "state") else "right")
    for name, rate in rates.items():
        state = "full rate"
        if rate.recovering and rate.cut_at is not None:
            state = f"recovering from a 429 {time.time() - rate.cut_at:.0f} s ago"
        table.add_row(name, f"{rate.configured:g}", f"{rate.paced:g}", f"{rate.current:.1f}", state)
    console.print(table)
