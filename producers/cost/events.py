"""Counts of cost events (cap warnings and refusals, pumping-guard refusals) in this process, by
name and labels: the hook a metrics exporter reads (``snapshot``) or replaces (``set_hook``)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable

Hook = Callable[[str, dict[str, str]], None]

_counts: Counter[tuple[str, tuple[tuple[str, str], ...]]] = Counter()
_lock = threading.Lock()
_hooks: list[Hook] = []


def count(name: str, **labels: str) -> None:
    with _lock:
        _counts[(name, tuple(sorted(labels.items())))] += 1
        hooks = list(_hooks)
    for hook in hooks:
        hook(name, labels)


def add_hook(hook: Hook) -> None:
    """Called with (event name, labels) on every event: a Prometheus counter's ``inc``, for example."""
    with _lock:
        _hooks.append(hook)


def remove_hook(hook: Hook) -> None:
    with _lock:
        if hook in _hooks:
            _hooks.remove(hook)


def snapshot() -> dict[tuple[str, tuple[tuple[str, str], ...]], int]:
    with _lock:
        return dict(_counts)
