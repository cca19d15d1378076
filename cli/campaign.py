"""`smsq campaign ...`: create a campaign from a CSV file, numbers or phonebook groups; watch it;
pause, resume, cancel it. User mistakes print one line and exit 2 (smsq.cli.main.main)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.live import Live
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from smsq.cli.render import status_text
from smsq.config.settings import load_settings
from smsq.producers.campaigns.model import CampaignProgress
from smsq.producers.client import Smsq
from smsq.producers.errors import InvalidInput

app = typer.Typer(no_args_is_help=True, help="Bulk campaigns: one template, many recipients.")
console = Console()


def _smsq() -> Smsq:
    return Smsq.from_settings(load_settings())


def template_from(
    text: str | None,
    template_file: Path | None,
    channel: str,
    sender: str | None,
    priority: str,
    time_to_send: str | None,
) -> dict[str, Any]:
    if (text is None) == (template_file is None):
        raise InvalidInput([("template", "give --text or --template-file (a JSON omnimessage chain)")])
    if template_file is not None:
        try:
            template: dict[str, Any] = json.loads(template_file.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InvalidInput([("template-file", f"cannot read JSON from {template_file}: {exc}")]) from None
    else:
        part: dict[str, Any] = {"channel": channel, "text": text}
        if sender is not None:
            part["sender"] = sender
        template = {"messages": [part]}
    template.setdefault("priority", priority)
    if time_to_send is not None:
        template["time_to_send"] = time_to_send
    return template


@app.command()
def create(
    name: Annotated[str, typer.Option(help="a name for people")],
    text: Annotated[str | None, typer.Option(help="the text, with %var% placeholders")] = None,
    template_file: Annotated[
        Path | None, typer.Option(help="JSON: {messages: [...channel chain...]}")
    ] = None,
    csv: Annotated[Path | None, typer.Option(help="CSV with a header; other columns fill %var%")] = None,
    number_column: Annotated[str, typer.Option(help="the CSV column with the number")] = "phone",
    to: Annotated[list[str] | None, typer.Option(help="a recipient (repeat the option)")] = None,
    groups: Annotated[str | None, typer.Option(help="Messente phonebook group ids, comma-separated")] = None,
    channel: Annotated[str, typer.Option(help="with --text: sms, viber or telegram")] = "sms",
    sender: Annotated[str | None, typer.Option()] = None,
    priority: Annotated[str, typer.Option(help="low, regular or high")] = "low",
    time_to_send: Annotated[str | None, typer.Option(help="ISO-8601; no zone means UTC")] = None,
    idempotency_key: Annotated[str | None, typer.Option(help="same key, same campaign, created once")] = None,
    message_class: Annotated[
        str | None,
        typer.Option("--class", help="marketing (default: held to send windows) or transactional"),
    ] = None,
    dry_run: Annotated[
        bool,
        typer.Option("--dry-run", help="report recipients, SMS parts and the estimated cost; store nothing"),
    ] = False,
    as_json: Annotated[bool, typer.Option("--json", help="with --dry-run: the report as JSON")] = False,
) -> None:
    """Validate, store and queue a campaign; prints its id and what was skipped, and why."""
    template = template_from(text, template_file, channel, sender, priority, time_to_send)
    smsq = _smsq()
    if dry_run:
        report = smsq.campaigns.dry_run(
            name=name,
            template=template,
            csv_path=csv,
            number_column=number_column,
            recipients=list(to) if to else None,
            group_ids=[g.strip() for g in groups.split(",") if g.strip()] if groups is not None else None,
        )
        if as_json:
            console.print_json(json.dumps(report.as_dict()))
        else:
            console.print(dry_run_table(report.as_dict()))
        return
    with console.status("validating, deduplicating, filtering and storing recipients..."):
        started = time.monotonic()
        progress = smsq.campaigns.create(
            name=name,
            template=template,
            csv_path=csv,
            number_column=number_column,
            recipients=list(to) if to else None,
            group_ids=[g.strip() for g in groups.split(",") if g.strip()] if groups is not None else None,
            idempotency_key=idempotency_key,
            message_class=message_class,
        )
    console.print(f"campaign [bold]{progress.id}[/] {progress.status} in {time.monotonic() - started:.1f} s")
    console.print(progress_table(progress))
    for sample in smsq.campaigns.skipped(progress.id, limit=10):
        console.print(f"  skipped line {sample['line']}: {sample['reason']}")


def dry_run_table(report: dict[str, Any]) -> Table:
    """A dry run's report (``DryRun.as_dict``) for people."""
    table = Table(title=f"{report['name']} (dry run: nothing stored)", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    table.add_row("recipients read", f"{report['recipients']:,}")
    for reason, count in sorted(report["skipped"].items()):
        table.add_row(f"skipped: {reason.replace('_', ' ')}", f"{count:,}")
    table.add_row("blocked (blacklist)", f"{report['blocked']:,}")
    table.add_row("messages to send", f"{report['to_send']:,}")
    for encoding, entry in report["segments_by_encoding"].items():
        if entry["messages"]:
            table.add_row(
                f"SMS in {encoding}", f"{entry['messages']:,} messages, {entry['segments']:,} parts"
            )
    currency = report["currency"] or ""
    for country, entry in report["by_country"].items():
        cost = "unpriced" if entry["cost"] is None else f"{entry['cost']:,.2f} {currency}"
        table.add_row(f"  {country}", f"{entry['segments']:,} parts, {cost}")
    if report["total_cost"] is not None:
        unpriced = (
            f" (+ unpriced: {', '.join(report['unpriced_countries'])})"
            if report["unpriced_countries"]
            else ""
        )
        table.add_row(
            f"estimated cost ({report['provider']})", f"{report['total_cost']:,.2f} {currency}{unpriced}"
        )
    else:
        table.add_row("estimated cost", "no prices (SMSQ_COST__PRICES_FILE)")
    return table


def progress_table(progress: CampaignProgress) -> Table:
    table = Table(title=f"{progress.name} ({progress.shown_status})", show_header=False)
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    table.add_row("recipients read", str(progress.recipients))
    table.add_row("messages", str(progress.messages))
    table.add_row("class", progress.message_class)
    for reason, count in sorted(progress.skipped.items()):
        table.add_row(f"skipped: {reason.replace('_', ' ')}", str(count))
    for status, count in sorted(progress.counts.items()):
        table.add_row(status_text(status), str(count))
    return table


@app.command()
def status(campaign_id: Annotated[str, typer.Argument()]) -> None:
    """Counts per status, and what was skipped at creation."""
    console.print(progress_table(_smsq().campaigns.progress(campaign_id)))


@app.command()
def skipped(
    campaign_id: Annotated[str, typer.Argument()], limit: Annotated[int, typer.Option(min=1)] = 50
) -> None:
    """Recipients skipped at creation, with their line and reason."""
    for sample in _smsq().campaigns.skipped(campaign_id, limit=limit):
        console.print(f"line {sample['line']}: {sample['reason']}")


@app.command()
def watch(
    campaign_id: Annotated[str, typer.Argument()],
    interval: Annotated[float, typer.Option(min=0.1, help="seconds between refreshes")] = 0.5,
) -> None:
    """A live progress bar with counts per status and the send rate, until the campaign is done."""
    campaigns = _smsq().campaigns
    progress = campaigns.progress(campaign_id)
    bar = Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[rate]}"),
        console=console,
    )
    task = bar.add_task(progress.name, total=max(progress.messages, 1), rate="")
    last_sent, last_at = _sent(progress), time.monotonic()
    with Live(console=console, refresh_per_second=4) as live:
        while True:
            progress = campaigns.progress(campaign_id)
            now = time.monotonic()
            rate = (_sent(progress) - last_sent) / max(now - last_at, 1e-6)
            last_sent, last_at = _sent(progress), now
            bar.update(
                task, completed=progress.done, total=max(progress.messages, 1), rate=f"{rate:,.0f} msg/s"
            )
            grid = Table.grid()
            grid.add_row(bar)
            grid.add_row(
                "  ".join(f"{status_text(s)} {n}" for s, n in sorted(progress.counts.items()))
                + f"  ({progress.status})"
            )
            live.update(grid)
            if progress.finished or (progress.status == "cancelled" and progress.pending == 0):
                break
            time.sleep(interval)


def _sent(progress: CampaignProgress) -> int:
    return sum(
        progress.counts.get(s, 0) for s in ("sent", "delivered", "undeliverable", "expired", "unknown")
    )


@app.command()
def pause(campaign_id: Annotated[str, typer.Argument()]) -> None:
    """Stop new sends (within a second); resume carries on where it stopped."""
    console.print(f"{campaign_id} {_smsq().campaigns.pause(campaign_id).status}")


@app.command()
def resume(campaign_id: Annotated[str, typer.Argument()]) -> None:
    console.print(f"{campaign_id} {_smsq().campaigns.resume(campaign_id).status}")


@app.command()
def cancel(campaign_id: Annotated[str, typer.Argument()]) -> None:
    """Queued and scheduled messages become cancelled; sent ones are kept."""
    console.print(f"{campaign_id} {_smsq().campaigns.cancel(campaign_id).status}")
