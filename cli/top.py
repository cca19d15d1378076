"""`smsq top`: a live terminal view of a running smsq, read from the Redis the settings name: lanes
(depth, oldest waiting), send rate per provider with its errors and 429s, circuits and rate limiters,
backlogs, and the campaigns in progress. Refreshed every second; it writes nothing."""

from __future__ import annotations

import time
from typing import Annotated

import typer
from rich.console import Console, Group
from rich.live import Live
from rich.table import Table
from rich.text import Text

from smsq.config.settings import PROVIDER_NAMES, load_settings
from smsq.producers.errors import SmsqError
from smsq.telemetry.live import Snapshot, Totals

MIN_INTERVAL = 0.2
MAX_INTERVAL = 60.0
# Campaign lines shown (the newest first); the rest are counted in the title.
CAMPAIGN_LINES = 10


def top(
    interval: Annotated[float, typer.Option(help="seconds between frames")] = 1.0,
    once: Annotated[
        bool, typer.Option("--once", help="print one frame (rates over one interval) and exit")
    ] = False,
) -> None:
    """A live view of lanes, providers, circuits, limiters and campaigns in progress (Ctrl-C leaves)."""
    if not MIN_INTERVAL <= interval <= MAX_INTERVAL:
        raise SmsqError(
            f"--interval: {interval:g} is not between {MIN_INTERVAL:g} and {MAX_INTERVAL:g} seconds"
        )
    from smsq.telemetry.live import reader_for

    reader = reader_for(load_settings())
    console = Console()
    before = reader.totals()
    if once:
        time.sleep(interval)
        console.print(render(reader.snapshot(), before, reader.totals()))
        return
    with Live(console=console, auto_refresh=False) as live:
        while True:
            time.sleep(interval)
            after = reader.totals()
            live.update(render(reader.snapshot(), before, after), refresh=True)
            before = after


def age(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    if seconds < 3600:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def render(snap: Snapshot, before: Totals, after: Totals) -> Group:
    elapsed = max(after.at - before.at, 1e-9)

    def rate(provider: str, what: str) -> float:
        return (
            max(0.0, after.counts.get((provider, what), 0.0) - before.counts.get((provider, what), 0.0))
            / elapsed
        )

    lanes = Table(title="lanes", title_justify="left", expand=False)
    lanes.add_column("lane")
    lanes.add_column("depth", justify="right")
    lanes.add_column("oldest", justify="right")
    for lane in snap.lanes:
        style = "red" if lane.name == "high" and lane.oldest_age_seconds > 30 else ""
        lanes.add_row(
            lane.name, f"{lane.depth:,}", age(lane.oldest_age_seconds) if lane.depth else "-", style=style
        )

    providers = Table(title="providers", title_justify="left")
    for name, justify in (("provider", "left"), ("sent/s", "right"), ("failed/s", "right"),
                          ("errors/s", "right"), ("429/s", "right"), ("circuit", "left"),
                          ("limiter ahead", "right")):  # fmt: skip
        providers.add_column(name, justify=justify)  # type: ignore[arg-type]
    for provider in PROVIDER_NAMES:
        is_open = snap.circuits_open.get(provider, False)
        providers.add_row(
            provider,
            f"{rate(provider, 'sent'):.1f}",
            f"{rate(provider, 'failed'):.1f}",
            f"{rate(provider, 'errors'):.1f}",
            f"{rate(provider, 'rate_limited'):.1f}",
            Text("OPEN", style="bold red") if is_open else Text("closed", style="green"),
            f"{snap.limiter_backlog_seconds.get(provider, 0.0):.2f} s",
        )

    work = Table(title="in flight", title_justify="left")
    work.add_column("what")
    work.add_column("count", justify="right")
    rows = [
        ("sending (leases)", snap.sending),
        ("schedule entries", snap.scheduled),
        ("status polls due", snap.polls_due),
        ("waiting for a final status", snap.polls_pending),
        ("dead letters", snap.dead_letters),
    ]
    rows.append(("callbacks due", snap.callback_backlog))
    rows.append(("callbacks dead", snap.callbacks_dead))
    for what, count in rows:
        work.add_row(what, f"{count:,}")

    shown = snap.campaigns[:CAMPAIGN_LINES]
    more = len(snap.campaigns) - len(shown)
    title = "campaigns in progress" + (f" (+{more} more)" if more > 0 else "")
    campaigns = Table(title=title, title_justify="left")
    for name, justify in (("campaign", "left"), ("name", "left"), ("status", "left"), ("done", "right"),
                          ("pending", "right"), ("sent", "right"), ("delivered", "right"),
                          ("failed", "right")):  # fmt: skip
        campaigns.add_column(name, justify=justify)  # type: ignore[arg-type]
    for line in shown:
        done = line.messages - line.pending
        campaigns.add_row(
            line.id[:8],
            line.name[:24],
            line.status,
            f"{done:,}/{line.messages:,}",
            f"{line.pending:,}",
            f"{line.counts.get('sent', 0):,}",
            f"{line.counts.get('delivered', 0):,}",
            f"{line.counts.get('failed', 0) + line.counts.get('undeliverable', 0):,}",
        )
    if not shown:
        campaigns.add_row("-", "none", "", "", "", "", "", "")
    stamp = time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(snap.at))
    return Group(
        Text(f"smsq top  {stamp}  (rates over {elapsed:.1f} s)", style="bold"),
        lanes,
        providers,
        work,
        campaigns,
    )
