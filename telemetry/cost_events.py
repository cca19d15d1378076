"""Cost events (spend-cap warnings and refusals, SMS-pumping refusals) into the process's metrics
recorder, so the exporter shows them summed over every producer process (apps, `smsq api`). They
happen where messages are accepted, not in workers, so each producer process installs this once."""

from __future__ import annotations

from smsq.producers.cost import events
from smsq.telemetry import names
from smsq.telemetry.hooks import Telemetry

_installed: list[events.Hook] = []  # one per process: a second install replaces the first


def count_cost_events(telemetry: Telemetry) -> events.Hook | None:
    """Hook ``telemetry``'s recorder to the cost events, in place of any earlier one; returns the
    hook (None: metrics are off, and nothing is hooked)."""
    for earlier in _installed:
        events.remove_hook(earlier)
    _installed.clear()
    recorder = telemetry.recorder
    if recorder is None:
        return None

    def hook(event: str, labels: dict[str, str]) -> None:
        recorder.inc(names.COST_EVENTS, (event, labels.get("cap", "other")))

    events.add_hook(hook)
    _installed.append(hook)
    return hook
