"""Settling a message from channel statuses: the one path both polls and delivery reports take.

1. Merge each channel's result into the record (``ch:<channel>`` fields), atomically and only when it
   ranks at least as high as what is stored (``mapping.rank``): a late or repeated report never
   replaces better knowledge.
2. Decide the message status from the merged channels (``mapping.decide``).
3. Move the record through ``MessageStore.transition``, which refuses anything but sent/unknown ->
   final, so a status is reached once and counted once, whoever gets there first.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from smsq.producers.core.lua import read
from smsq.producers.core.records import (
    CHANNEL_PREFIX,
    CHANNELS,
    LAST_ERROR_CODE,
    LAST_ERROR_DETAIL,
    SENT_MS,
    STATUS,
)
from smsq.producers.core.states import sources_of
from smsq.producers.core.store import MessageStore
from smsq.telemetry.hooks import OFF, Telemetry
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.status.mapping import decide, rank, smsq_status

log = logging.getLogger(__name__)

CHANNEL_FIELD = CHANNEL_PREFIX
# Only a message that went out can be settled by what a provider says about it.
SETTLEABLE = frozenset({"sent", "unknown"})

# Merges channel statuses into the record where they rank at least as high as what is stored.
MERGE_CHANNELS = read(__package__, "merge_channels.lua")


@dataclass(frozen=True)
class Settled:
    found: bool  # False: no such record (never existed, or expired)
    status: str | None = None  # the message's status afterwards
    moved_to: str | None = None  # set when this call moved the message (to a final status)
    mismatch: str | None = None  # why the statuses were not applied (another provider / omnimessage)
    record: Mapping[str, str] | None = None


class Settler:
    def __init__(self, store: MessageStore, telemetry: Telemetry = OFF) -> None:
        self.store = store
        self.telemetry = telemetry
        self._merge = store.redis.register_script(MERGE_CHANNELS)

    def settle(
        self,
        message_id: str,
        provider: str,
        channels: Sequence[ChannelStatus],
        *,
        via: str,
        gave_up: bool = False,
        expect_provider_message_id: str | None = None,
        extra_fields: Mapping[str, str] | None = None,
    ) -> Settled:
        """Merge ``channels`` (as ``provider`` reports them) into the record and move the message to
        the status they add up to. ``gave_up``: no more news will be waited for (the give-up time)."""
        args: list[Any] = [provider, expect_provider_message_id or ""]
        now = self.store.now_ms()
        for channel in channels:
            status = smsq_status(provider, channel.status)
            entry_rank = rank(channel.status, status)
            args.extend((channel.channel, entry_rank, _entry_json(channel, status, entry_rank, now, via)))
        reply = self._merge(keys=[self.store.keys.record(message_id)], args=args)
        if int(reply[0]) == 0:
            return Settled(found=False)
        if int(reply[0]) == 2:
            return Settled(found=True, mismatch=f"{reply[1]} is {reply[2]}")
        record = _pairs(reply[1])
        current = record.get(STATUS, "")
        if current not in SETTLEABLE:
            return Settled(found=True, status=current, record=record)
        chain = [c for c in record.get(CHANNELS, "").split(",") if c]
        entries = channel_entries(record)
        decided = decide(
            chain, {c: (int(e["rank"]), e.get("status")) for c, e in entries.items()}, gave_up=gave_up
        )
        if decided is None or decided == current or current not in sources_of(decided):
            return Settled(found=True, status=current, record=record)
        fields = {**_outcome_fields(decided, chain, entries, provider), **(extra_fields or {})}
        moved = self.store.transition(message_id, decided, allowed_from=SETTLEABLE, fields=fields)
        if not moved.ok:
            # Someone else settled it between our merge and our move: theirs stands.
            return Settled(found=moved.previous is not None, status=moved.previous, record=record)
        log.info("message %s: %s -> %s (%s)", message_id, current, decided, via)
        if self.telemetry.enabled:
            sent_ms = record.get(SENT_MS)
            lag = (self.store.now_ms() - int(sent_ms)) / 1000 if sent_ms else None
            self.telemetry.settled(decided, provider, chain[0] if chain else "none", via, lag)
        return Settled(found=True, status=decided, moved_to=decided, record=record)


def channel_entries(record: Mapping[str, str]) -> dict[str, dict[str, Any]]:
    entries: dict[str, dict[str, Any]] = {}
    for field, value in record.items():
        if field.startswith(CHANNEL_FIELD):
            try:
                entries[field.removeprefix(CHANNEL_FIELD)] = json.loads(value)
            except ValueError:
                continue
    return entries


def _entry_json(channel: ChannelStatus, status: str | None, entry_rank: int, now_ms: int, via: str) -> str:
    entry = {
        "channel": channel.channel,
        "rank": entry_rank,
        "status": status,
        "provider_status": channel.status,
        "err": channel.err,
        "error": channel.error,
        "provider_message_id": channel.provider_message_id,
        "provider_time": channel.timestamp,
        "at_ms": now_ms,
        "via": via,
    }
    return json.dumps(entry, separators=(",", ":"))


def _outcome_fields(
    decided: str, chain: Iterable[str], entries: Mapping[str, Mapping[str, Any]], provider: str
) -> dict[str, str]:
    """The last error of a message that did not arrive: the deciding channel's err and error."""
    if decided == "delivered":
        return {}
    ordered = [c for c in chain if c in entries] + [c for c in entries if c not in chain]
    deciding = next((entries[c] for c in reversed(ordered) if entries[c].get("status") == decided), None)
    if deciding is None:
        return {
            LAST_ERROR_CODE: "no-final-status",
            LAST_ERROR_DETAIL: f"{provider} gave no final delivery status in time",
        }
    err = deciding.get("err")
    detail = deciding.get("error") or deciding.get("provider_status") or decided
    code = str(err) if err not in (None, 0) else str(deciding.get("provider_status") or decided)
    return {LAST_ERROR_CODE: code, LAST_ERROR_DETAIL: f"{deciding['channel']}: {detail}"[:500]}


def _pairs(flat: Sequence[Any]) -> dict[str, str]:
    return {str(flat[i]): str(flat[i + 1]) for i in range(0, len(flat), 2)}
