"""The message status state machine: every status a message can have and which it may move to (the
README's "The results store and the state machine" draws it). Data, not code: the store sends each
transition the statuses it may start from, and ``lua/records.lua`` refuses any other."""

from __future__ import annotations

from typing import Final, Literal, get_args

Status = Literal[
    "scheduled",
    "queued",
    "sending",
    "sent",
    "delivered",
    "failed",
    "undeliverable",
    "expired",
    "blocked",
    "cancelled",
    "unknown",
]

STATUSES: Final[tuple[Status, ...]] = get_args(Status)

# from -> the statuses it may move to. Anything else is refused, so a redelivered task, a retry or a
# webhook racing a poll can never move a message backwards.
TRANSITIONS: Final[dict[str, frozenset[str]]] = {
    "scheduled": frozenset({"queued", "cancelled"}),
    "queued": frozenset({"sending", "cancelled", "blocked", "failed"}),
    # queued again = a retry waiting for its backoff, or a resend after a lost lease.
    "sending": frozenset({"sent", "failed", "blocked", "queued", "unknown"}),
    "sent": frozenset({"delivered", "failed", "undeliverable", "expired", "cancelled", "unknown"}),
    # A late delivery report may still settle a message we gave up polling.
    "unknown": frozenset({"delivered", "failed", "undeliverable", "expired"}),
    "delivered": frozenset(),
    "failed": frozenset(),
    "undeliverable": frozenset(),
    "expired": frozenset(),
    "blocked": frozenset(),
    "cancelled": frozenset(),
}

FINAL: Final = frozenset(status for status, targets in TRANSITIONS.items() if not targets) | {"unknown"}

# The only statuses a new record may start in.
INITIAL: Final = frozenset({"scheduled", "queued", "blocked"})


def sources_of(target: str) -> frozenset[str]:
    """Every status from which ``target`` may be reached."""
    if target not in TRANSITIONS:
        raise ValueError(f"unknown status {target!r}")
    return frozenset(source for source, targets in TRANSITIONS.items() if target in targets)
