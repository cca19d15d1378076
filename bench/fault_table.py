"""The figures of one fault scenario (bench/faults.py), each printed as a table when the scenario
ends, and all of them as one summary table (markdown, for the README) at the end of the run."""

from __future__ import annotations

from dataclasses import dataclass, field


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
