"""Send windows at send time: a marketing message (a campaign's, unless the campaign is
transactional, or a single message of class marketing) whose recipient's window is shut goes back
to smsq's schedule, due at the window's next opening: no attempt spent, nothing dropped, the record
noting ``scheduled_for_ms`` and ``window_deferred``. So a campaign that cannot finish inside one
window continues at the next, each recipient at their own opening.

A deferred campaign message comes back through the release loop, outside its campaign's batches,
so the campaign's status is checked for it here: paused, it waits in the campaign's ``held_ids``
until resume; cancelled (or gone), it is cancelled."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from smsq.config.cost_settings import CostSettings
from smsq.producers.campaigns.control import release_held_ids
from smsq.producers.core.keys import CampaignKeys
from smsq.producers.core.records import (
    BODY,
    CAMPAIGN_ID,
    LEASE_TOKEN,
    MESSAGE_CLASS,
    SCHEDULED_FOR_MS,
    WINDOW_DEFERRED,
)
from smsq.producers.messages.models import Omnimessage
from smsq.producers.windows.cache import WindowCache
from smsq.producers.windows.check import MARKETING
from smsq.workers.sending.single import Sender

Ready = tuple[str, dict[str, str], Omnimessage]  # a claimed message: id, record, what to send


@dataclass(frozen=True)
class SendWindows:
    """The deployment's window rules, with the decisions they keep (one per worker process)."""

    cache: WindowCache

    @classmethod
    def from_settings(cls, cost: CostSettings) -> SendWindows | None:
        """None when the windows are off (SMSQ_COST__WINDOWS__ENABLED=false, or SMSQ_COST__ENABLED)."""
        if not (cost.enabled and cost.windows.enabled):
            return None
        return cls(WindowCache(cost.windows.rules))


def hold_outside_windows(
    ready: list[Ready], sender: Sender, windows: SendWindows | None, count: Callable[[str, int], None]
) -> list[Ready]:
    """The messages of ``ready`` that may go now. The others are moved at once (one round trip for
    all of them) and counted with ``count(status, n)``."""
    # Even with the windows turned off since: a deferred message must not slip past its campaign's pause.
    ready = _hold_for_campaigns(ready, sender, count)
    if windows is None or not ready:
        return ready
    now = sender.store.now_ms()
    going: list[Ready] = []
    later: list[tuple[str, str, dict[str, Any]]] = []
    for item in ready:
        mid, record, message = item
        opens = windows.cache.opening_ms(message.to, now) if _marketing(record, sender) else None
        if opens is None:
            going.append(item)
            continue
        fields = {SCHEDULED_FOR_MS: opens, WINDOW_DEFERRED: "1", LEASE_TOKEN: ""}
        options = {"lease_token": record[LEASE_TOKEN], "schedule_at_ms": opens, "fields": fields}
        later.append((mid, "queued", options))
    if later:
        deferred = sum(answer.ok for answer in sender.store.transition_many(later))
        count("deferred", deferred)
    return going


def _marketing(record: dict[str, str], sender: Sender) -> bool:
    if MESSAGE_CLASS in record:
        return record[MESSAGE_CLASS] == MARKETING
    campaign_id = record.get(CAMPAIGN_ID)
    if not campaign_id or BODY in record or sender.templates is None:
        return False  # a single message of before classes: transactional, the default
    return sender.templates.message_class(campaign_id) == MARKETING


def _deferred_campaign(record: dict[str, str]) -> str:
    """The campaign of a message that was deferred to its window (and may be back now), else ""."""
    return record.get(CAMPAIGN_ID, "") if record.get(WINDOW_DEFERRED) else ""


def _hold_for_campaigns(ready: list[Ready], sender: Sender, count: Callable[[str, int], None]) -> list[Ready]:
    """Deferred campaign messages back from the schedule: sent only while their campaign runs."""
    back = {campaign_id for _, record, _ in ready if (campaign_id := _deferred_campaign(record))}
    if not back:
        return ready
    store = sender.store
    with store.redis.pipeline(transaction=False) as pipe:
        for campaign_id in back:
            pipe.hget(store.keys.campaign(campaign_id), "status")
        status = dict(zip(back, pipe.execute(), strict=True))
    going: list[Ready] = []
    moves: list[tuple[str, str, dict[str, Any]]] = []
    paused: dict[str, list[str]] = {}
    for item in ready:
        mid, record, _ = item
        campaign_id = _deferred_campaign(record)
        state = status.get(campaign_id, "running")
        if state == "running":
            going.append(item)
            continue
        held = {"lease_token": record[LEASE_TOKEN], "fields": {LEASE_TOKEN: ""}}
        moves.append((mid, "queued", held))  # no schedule entry: resume puts it back
        if state == "paused":
            paused.setdefault(campaign_id, []).append(mid)
        else:  # cancelled, or gone: the sweep may have passed it while it was being claimed
            moves.append((mid, "cancelled", {"allowed_from": {"queued"}}))
            count("cancelled", 1)
    # Into held_ids first, then back to `queued`: a worker dying in between leaves the record
    # `sending` under its lease, which recovery hands back (nothing was sent), and a stale id in
    # held_ids is harmless (resume schedules it; the claim is compare-and-set). The other order
    # could leave it `queued` with no schedule entry and in no list: stuck.
    for campaign_id, ids in paused.items():
        store.redis.rpush(CampaignKeys(store.keys, campaign_id).held_ids, *ids)
        count("held", len(ids))
    store.transition_many(moves)
    for campaign_id in paused:
        keys = CampaignKeys(store.keys, campaign_id)
        # A resume between the status read and the push has already looked at held_ids: look again.
        # (A resume after the push schedules them itself; the move to `queued` leaves that entry.)
        if store.redis.hget(keys.campaign, "status") != "paused":
            release_held_ids(store, keys)
    return going
