"""Rich renderings shared by CLI commands."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from rich.table import Table

from smsq.producers.core.channels import ChannelResult
from smsq.producers.core.results import MessageResult

STATUS_STYLE = {
    "sent": "green",
    "delivered": "bold green",
    "failed": "red",
    "undeliverable": "red",
    "expired": "red",
    "blocked": "magenta",
    "cancelled": "yellow",
    "unknown": "yellow",
}


def status_text(status: str) -> str:
    style = STATUS_STYLE.get(status)
    return f"[{style}]{status}[/]" if style else status


def mask(phone: str) -> str:
    """Logged and displayed numbers are masked: keep the country part and the last three digits."""
    return phone if len(phone) < 8 else f"{phone[:4]}{'•' * (len(phone) - 7)}{phone[-3:]}"


def _time(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if value else "-"


def result_table(result: MessageResult) -> Table:
    table = Table(title=f"message {result.id}", show_header=False)
    table.add_column("field", style="bold")
    table.add_column("value")
    table.add_row("status", status_text(result.status))
    table.add_row("to", result.to)
    table.add_row("priority", result.priority)
    table.add_row("channels", " → ".join(result.channels))
    table.add_row("provider", result.provider or "-")
    table.add_row("provider id", result.provider_message_id or "-")
    table.add_row("attempts", str(result.attempts))
    if result.last_error:
        table.add_row("last error", f"[{result.last_error.code}] {result.last_error.detail}")
    for name in ("created_at", "scheduled_for", "queued_at", "sent_at", "final_at"):
        table.add_row(name.replace("_", " "), _time(getattr(result, name)))
    for attempt in result.attempt_log:
        detail = f" [{attempt.code}] {attempt.detail}" if attempt.code else ""
        table.add_row(f"attempt {attempt.number}", f"{attempt.provider}: {attempt.outcome}{detail}")
    for channel in result.channel_results:
        table.add_row(f"channel {channel.channel}", channel_text(channel))
    return table


def channel_text(channel: ChannelResult) -> str:
    """e.g. `undeliverable (UNDELIV, err 1: Delivery failure) via report`."""
    said = [channel.provider_status or "no status yet"]
    if channel.err not in (None, 0) or channel.error:
        said.append(f"err {channel.err}: {channel.error}" if channel.error else f"err {channel.err}")
    via = f" via {channel.via}" if channel.via else ""
    return f"{status_text(channel.status or 'in progress')} ({', '.join(said)}){via}"


def counts_table(counts: Mapping[str, int], title: str) -> Table:
    table = Table(title=title)
    table.add_column("status")
    table.add_column("messages", justify="right")
    for status, count in counts.items():
        table.add_row(status_text(status), str(count))
    table.add_row("[bold]total[/]", f"[bold]{sum(counts.values())}[/]")
    return table


def results_table(results: Iterable[MessageResult], title: str = "results") -> Table:
    table = Table(title=title)
    for column in ("message", "to", "priority", "status", "provider", "attempts", "latency"):
        table.add_column(column, justify="right" if column in {"attempts", "latency"} else "left")
    for result in results:
        latency = "-"
        if result.sent_at:
            start = result.queued_at or result.created_at
            latency = f"{(result.sent_at - start).total_seconds() * 1000:.0f} ms"
        table.add_row(
            result.id[:8],
            mask(result.to),
            result.priority,
            status_text(result.status),
            result.provider or "-",
            str(result.attempts),
            latency,
        )
    return table
