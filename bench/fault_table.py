"""The figures of one fault scenario (bench/faults.py), each printed as a table when the scenario
ends, and all of them as one summary table (markdown, for the README) at the end of the run."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass, field
from typing import Any

from bench.common import percentile


@dataclass
class Row:
    scenario: str
    figures: dict[str, object] = field(default_factory=dict)  # in the order they are printed
    checks: list[tuple[str, bool]] = field(default_factory=list)  # the "-> ..." criteria

    def add(self, name: str, value: object) -> None:
        self.figures[name] = value

    def check(self, what: str, held: bool) -> None:
        self.checks.append((what, held))

    @property
    def passed(self) -> bool:
        return all(held for _, held in self.checks)

    def print(self) -> None:
        width = max((len(name) for name in self.figures), default=10)
        print(f"\n  {'figure'.ljust(width)} | value")
        print(f"  {'-' * width}-+-{'-' * 20}")
        for name, value in self.figures.items():
            print(f"  {name.ljust(width)} | {_text(value)}")
        for what, held in self.checks:
            print(f"  {'PASS' if held else 'FAIL'}: {what}")


SUMMARY_COLUMNS = (
    ("messages", "messages"),
    ("lost", "lost"),
    ("received 2+ unmarked", "received 2+ times, unmarked"),
    ("not final after the window", "not final after the window"),
    ("unknown (never received)", "unknown (never received)"),
    ("in flight at the faults", "in flight at the faults"),
    ("workers restarted", "workers that exited and were restarted"),
)


def summary(rows: list[Row]) -> str:
    """One markdown table: the shared columns, then what else each scenario measured."""
    head = ["scenario", *(title for title, _ in SUMMARY_COLUMNS), "other", "verdict"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row in rows:
        shared = [_text(row.figures.get(key, "-")) for _, key in SUMMARY_COLUMNS]
        keys = {key for _, key in SUMMARY_COLUMNS}
        other = "; ".join(f"{name} {_text(value)}" for name, value in row.figures.items() if name not in keys)
        failed = [what for what, held in row.checks if not held]
        verdict = "pass" if not failed else "FAIL: " + ", ".join(failed)
        lines.append("| " + " | ".join([row.scenario, *shared, other, verdict]) + " |")
    return "\n".join(lines)


def _text(value: object) -> str:
    if isinstance(value, float):
        return f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# -- reading the records' attempt logs -------------------------------------------------------

CALLED = {"sent", "transient", "permanent"}  # attempt-log outcomes of a call that counts as an attempt


def backoff_gaps(records: Any) -> dict[int, float]:
    """Median seconds between attempt n-1 and attempt n, from the records' attempt logs."""
    gaps: dict[int, list[float]] = {}
    for record in records:
        for before, after in itertools.pairwise(attempt_log(record)):
            gaps.setdefault(int(after["number"]), []).append((after["at_ms"] - before["at_ms"]) / 1000)
    return {n: percentile(values, 50) for n, values in sorted(gaps.items())}


def attempt_log(record: dict[str, str] | None) -> list[dict[str, Any]]:
    return json.loads("[" + record["attempt_log"] + "]") if record and record.get("attempt_log") else []


def calls(record: dict[str, str] | None) -> int:
    """Attempt-log entries of calls that count as an attempt (the provider failed or took it)."""
    return sum(1 for entry in attempt_log(record) if entry["outcome"] in CALLED)
