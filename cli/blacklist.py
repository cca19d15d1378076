"""`smsq blacklist ...`: the local blacklist and its sync with the providers.

User mistakes raise InvalidInput / SmsqError; ``smsq.cli.main.main`` prints them as one line and exits 2.
A sync that did not fully succeed, or an import with bad lines, exits 1."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from smsq.config.settings import PROVIDER_NAMES, load_settings
from smsq.producers.blacklist.csv_files import export_csv, import_csv
from smsq.producers.blacklist.store import Blacklist, BlacklistedNumber
from smsq.producers.blacklist.sync import BlacklistSyncs, SyncReport
from smsq.producers.client import Smsq
from smsq.producers.csv_input import scan_file
from smsq.producers.errors import InvalidInput, SmsqError

app = typer.Typer(no_args_is_help=True, help="The local blacklist and its sync with every provider.")
console = Console()
notes = Console(stderr=True)
SHOWN_PROBLEMS = 50


def _blacklist() -> Blacklist:
    return Smsq.from_settings(load_settings()).blacklist


@app.command()
def add(
    number: Annotated[str, typer.Argument(help="in international format, e.g. +37251234567")],
    reason: Annotated[str, typer.Option(help="why (kept with the entry)")] = "",
    expires: Annotated[
        str | None, typer.Option(help="ISO-8601 time it stops blocking; none = forever")
    ] = None,
) -> None:
    """Blacklist a number: no message reaches it, and the next sync adds it at every provider."""
    blacklist = _blacklist()
    added = blacklist.add(number, source="cli", reason=reason, expires_at=expires)
    entry = blacklist.get(number)
    assert entry is not None
    console.print(f"{entry.number} {'blacklisted' if added else 'was already blacklisted'}")


@app.command()
def remove(
    number: Annotated[str, typer.Argument()],
    reason: Annotated[str, typer.Option(help="why (kept with the tombstone)")] = "",
) -> None:
    """Take a number off the blacklist here and, at the next sync, at every provider."""
    blacklist = _blacklist()
    listed = blacklist.remove(number, source="cli", reason=reason)
    what = (
        "removed" if listed else "was not blacklisted here; the next sync still removes it at the providers"
    )
    console.print(f"{blacklist.validated_entry(number=number).number} {what}")


@app.command()
def check(numbers: Annotated[list[str], typer.Argument(help="one or more numbers")]) -> None:
    """Say whether each number is blocked right now."""
    blacklist = _blacklist()
    problems: list[tuple[str, str]] = []
    checked: list[str] = []
    for index, number in enumerate(numbers):
        try:
            checked.append(blacklist.validated_entry(number=number).number)
        except InvalidInput as error:
            problems.extend((f"numbers.{index}", message) for _, message in error.problems)
    if problems:
        raise InvalidInput(problems)
    blocked = blacklist.blocked_among(checked)
    for number in checked:
        console.print(f"{number} {'[magenta]blocked[/]' if number in blocked else 'not blocked'}")


@app.command("list")
def list_numbers(
    search: Annotated[str | None, typer.Option(help="any part of the number")] = None,
    offset: Annotated[int, typer.Option()] = 0,
    limit: Annotated[int, typer.Option()] = 50,
) -> None:
    """Blacklisted numbers in number order, a page at a time."""
    page = _blacklist().list_numbers(search=search, offset=offset, limit=limit)
    if not page.entries:
        console.print(f"no blacklisted numbers{' match' if search else ''} (total {page.total})")
        return
    console.print(_entries_table(page.entries))
    console.print(f"{offset + 1}-{offset + len(page.entries)} of {page.total}")


@app.command("import")
def import_file(
    file: Annotated[Path, typer.Argument(help="CSV: number[,reason[,expires_at]], header optional")],
) -> None:
    """Blacklist every good line of a CSV file; report each bad line by its number."""
    settings = load_settings()
    try:
        if file.is_file():  # the whole file checked first: exact line numbers for a bad encoding
            scan_file(file, settings.limits, field="file")
        stream = file.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise InvalidInput([("file", f"{file} does not exist")]) from None
    except (IsADirectoryError, PermissionError) as error:
        raise InvalidInput([("file", f"{file} cannot be read: {error.strerror}")]) from None
    with stream, console.status("importing..."):
        report = import_csv(Smsq.from_settings(settings).blacklist, stream, limits=settings.limits)
    bad = len(report.problems)
    console.print(f"imported {report.imported}, {report.already_listed} already blacklisted, {bad} bad lines")
    for line, problem in report.problems[:SHOWN_PROBLEMS]:
        notes.print(f"line {line}: {problem}", highlight=False, soft_wrap=True)
    if len(report.problems) > SHOWN_PROBLEMS:
        notes.print(f"... and {len(report.problems) - SHOWN_PROBLEMS} more bad lines")
    if report.problems:
        raise typer.Exit(1)


@app.command("export")
def export_file(
    file: Annotated[Path | None, typer.Argument(help="where to write; default: standard output")] = None,
) -> None:
    """Write every blacklisted number as CSV (number, source, reason, added_at, expires_at)."""
    blacklist = _blacklist()
    if file is None:
        export_csv(blacklist, sys.stdout)
        return
    try:
        with file.open("w", encoding="utf-8", newline="") as out:
            count = export_csv(blacklist, out)
    except OSError as error:
        raise InvalidInput([("file", f"{file} cannot be written: {error.strerror}")]) from None
    notes.print(f"exported {count} numbers to {file}", soft_wrap=True)


@app.command()
def sync(
    provider: Annotated[
        list[str] | None, typer.Option(help=f"only this one ({', '.join(PROVIDER_NAMES)}); repeatable")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="print the plan, change nothing")] = False,
    force: Annotated[bool, typer.Option("--force", help="go past the mass-delete guard")] = False,
    report: Annotated[
        bool, typer.Option("--report", help="show the last finished sync instead of running one")
    ] = False,
    task_id: Annotated[str | None, typer.Option(help="with --report: that sync's report")] = None,
    wait: Annotated[
        bool, typer.Option(help="wait for the result (a worker must consume the sync queue)")
    ] = True,
    timeout: Annotated[float, typer.Option(min=1, help="seconds to wait")] = 600,
) -> None:
    """Sync the blacklist with every provider now (through a worker), or show a sync's report."""
    syncs = BlacklistSyncs.from_settings(load_settings())
    if report:
        found = syncs.report(task_id)
        if found is None:
            raise SmsqError(f"no report for sync {task_id}: unknown or still running" if task_id
                            else "no blacklist sync has finished yet")  # fmt: skip
        _print_report(found)
        return
    if task_id is not None:
        raise InvalidInput([("task_id", "goes with --report")])
    queued = syncs.request(providers=provider, dry_run=dry_run, force=force)
    if not wait:
        console.print(
            f"queued blacklist sync {queued}; read it with `smsq blacklist sync --report --task-id {queued}`"
        )
        return
    with console.status(f"blacklist sync {queued} queued on the sync lane, waiting..."):
        result = syncs.wait(queued, timeout)
    _print_report(result)
    if result.status != "ok":
        raise typer.Exit(1)


def _entries_table(entries: list[BlacklistedNumber]) -> Table:
    table = Table(show_lines=False)
    for column in ("number", "source", "reason", "added", "expires"):
        table.add_column(column)
    for entry in entries:
        table.add_row(
            entry.number, entry.source, entry.reason, _when(entry.added_at), _when(entry.expires_at)
        )
    return table


def _when(moment: datetime | None) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "-"


STATUS_STYLE = {
    "ok": "green",
    "partial": "yellow",
    "guarded": "magenta",
    "failed": "red",
    "skipped": "yellow",
}


def _print_report(report: SyncReport) -> None:
    style = STATUS_STYLE.get(report.status, "red")
    duration = f", {report.duration_seconds:.1f} s" if report.duration_seconds is not None else ""
    kind = (
        "dry run (nothing changed)"
        if report.dry_run
        else f"sync ({report.trigger}{', forced' if report.forced else ''})"
    )
    finished = f", finished {_when(report.finished_at)}" if report.finished_at else ""
    console.print(f"blacklist {kind} {report.task_id or ''}: [{style}]{report.status}[/]{duration}{finished}")
    if report.detail:
        console.print(report.detail, highlight=False, soft_wrap=True)
    table = Table()
    for column in ("where", "status", "listed", "added", "removed", "unchanged", "failed", "note"):
        table.add_column(
            column,
            justify="right" if column in ("listed", "added", "removed", "unchanged", "failed") else "left",
        )
    local = report.local
    note = f"{local.expired} expired" if local.expired else ""
    table.add_row("local", "", str(local.listed or ""), str(local.added), str(local.removed), "", "", note)
    for name, part in report.providers.items():
        retry = f"retry at {_when(part.retry_at)}" if part.retry_at else ""
        part_style = STATUS_STYLE.get(part.status, "red")
        counts = (part.listed, part.added, part.removed, part.unchanged, part.failed)
        table.add_row(name, f"[{part_style}]{part.status}[/]", *map(str, counts), retry)
    console.print(table)
    for name, part in report.providers.items():
        if part.reason:
            console.print(f"{name}: {part.reason}", highlight=False, soft_wrap=True)
        for problem in part.problems:
            notes.print(
                f"{name}: {problem.action} {problem.number or ''}: {problem.error}",
                highlight=False,
                soft_wrap=True,
            )
    for where, actions in (report.plan or {}).items():
        for action, numbers in actions.items():
            total = _planned(report, where, action)
            more = f" and {total - len(numbers)} more" if total > len(numbers) else ""
            if numbers:
                console.print(
                    f"plan: {where} {action}: {', '.join(numbers)}{more}", highlight=False, soft_wrap=True
                )


def _planned(report: SyncReport, where: str, action: str) -> int:
    counts = report.local if where == "local" else report.providers.get(where)
    if counts is None:
        return 0
    return counts.added if action == "add" else counts.removed
