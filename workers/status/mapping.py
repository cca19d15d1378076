"""Provider delivery statuses -> smsq statuses (each provider's own table, read through its registry
entry); and the rule that turns the results of an omnimessage's channels into one message status.

A channel result's *rank* orders what we know about that channel, so reports and polls that arrive
late, twice or out of order never replace better knowledge with worse:
0 nothing yet, 1 in progress, 2 settled but unknown (SMSAPI's UNKNOWN), 3 final, 4 final and seen.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

from smsq.workers.providers import registry

# Message statuses a channel result can settle a message in.
SETTLED: Final = frozenset({"delivered", "failed", "undeliverable", "expired", "cancelled", "unknown"})

NOTHING, IN_PROGRESS, UNSURE, FINAL, SEEN = 0, 1, 2, 3, 4


def smsq_status(provider: str, raw: str | None) -> str | None:
    """One channel's provider status -> smsq status, or None while in progress (or not understood)."""
    entry = registry.find(provider)  # a record's provider may be one since removed
    if raw is None or entry is None:
        return None
    return entry.statuses(raw)


def rank(raw: str | None, status: str | None) -> int:
    if raw is None:
        return NOTHING
    if status is None:
        return IN_PROGRESS
    if status == "unknown":
        return UNSURE
    return SEEN if raw.upper() == "SEEN" else FINAL


def decide(
    chain: Sequence[str], results: Mapping[str, tuple[int, str | None]], *, gave_up: bool
) -> str | None:
    """The message status the channel results add up to, or None while it is still in progress.

    ``chain`` is the omnimessage's channels in send order; ``results`` maps a channel to (rank,
    smsq status). The provider tries the next channel only when one fails, so:
    - any channel delivered -> delivered; any channel DELETED -> cancelled (the whole omnimessage);
    - otherwise the last channel of the chain decides, once it is settled;
    - on giving up (``gave_up``), the furthest channel that was tried decides if it is settled (the
      provider stopped the chain there), else the message is ``unknown``.
    """
    statuses = {channel: status for channel, (_, status) in results.items() if status in SETTLED}
    if "delivered" in statuses.values():
        return "delivered"
    if "cancelled" in statuses.values():
        return "cancelled"
    if chain and chain[-1] in statuses:
        return statuses[chain[-1]]
    if not gave_up:
        return None
    tried = [channel for channel in chain if results.get(channel, (NOTHING, None))[0] > NOTHING]
    if tried and tried[-1] in statuses:
        return statuses[tried[-1]]
    return "unknown"
