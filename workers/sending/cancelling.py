"""Cancelling a message a provider holds (sent with its own time_to_send / date): ask the provider,
then record `cancelled` only if it agreed."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from smsq.producers.core.records import PROVIDER, PROVIDER_MESSAGE_ID, PROVIDER_SCHEDULED, STATUS
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.base import CancelProvider, Provider


def cancel_at_provider(
    message_id: str, store: MessageStore, providers: Mapping[str, Provider]
) -> dict[str, Any]:
    """Returns {"cancelled": bool, "status": str, "reason": str}."""
    record = store.get(message_id)
    if record is None:
        return {"cancelled": False, "status": "missing", "reason": "no such message"}
    status = record[STATUS]
    if status != "sent" or record.get(PROVIDER_SCHEDULED) != "1":
        return {"cancelled": False, "status": status, "reason": f"it is {status}, not held by a provider"}
    provider = providers.get(record.get(PROVIDER, ""))
    if not isinstance(provider, CancelProvider):
        return {"cancelled": False, "status": status, "reason": f"{record.get(PROVIDER)} cannot cancel"}
    if not provider.cancel(record[PROVIDER_MESSAGE_ID]):
        return {"cancelled": False, "status": status, "reason": "the provider already sent it"}
    moved = store.transition(message_id, "cancelled", allowed_from={"sent"})
    return {
        "cancelled": moved.ok,
        "status": "cancelled" if moved.ok else (moved.previous or status),
        "reason": "",
    }
