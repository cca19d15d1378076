"""Reading and controlling a campaign: progress, pause, resume, cancel, and starting scheduled
campaigns (``Campaigns`` adds creating them)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from smsq.config import contract as names
from smsq.producers.campaigns.expansion import Expander
from smsq.producers.campaigns.model import CampaignProgress, checked_campaign_id, progress_from
from smsq.producers.core.keys import CampaignKeys
from smsq.producers.core.lua import read
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CampaignNotFound, CampaignStateError
from smsq.producers.publisher import Publisher

_CAS_STATUS = read(__package__, "cas_status.lua")
HELD_IDS_CHUNK = 1000  # held message ids moved back to the schedule per round trip on resume


class CampaignControl:
    store: MessageStore
    publisher: Publisher
    expander: Expander

    def __init__(self, store: MessageStore) -> None:
        self._cas = store.redis.register_script(_CAS_STATUS)

    def _keys(self, campaign_id: str) -> CampaignKeys:
        return CampaignKeys(self.store.keys, campaign_id)

    @property
    def _schedule(self) -> str:
        return self.store.keys.campaign_schedule

    def _queue_all(self, campaign_id: str, priority: str, last_position: int) -> None:
        if last_position:
            self.expander.queue_batches(campaign_id, names.LANE_FOR_PRIORITY[priority], 1, last_position)

    # -- reading --------------------------------------------------------------------------------

    def progress(self, campaign_id: str) -> CampaignProgress:
        keys = self._keys(checked_campaign_id(campaign_id))
        with self.store.redis.pipeline(transaction=False) as pipe:
            pipe.hgetall(keys.campaign)
            pipe.hgetall(keys.counts)
            record, counts = pipe.execute()
        if not record:
            raise CampaignNotFound(campaign_id)
        return progress_from(campaign_id, record, counts)

    def skipped(self, campaign_id: str, limit: int = 100) -> list[dict[str, Any]]:
        raw = self.store.redis.lrange(self._keys(checked_campaign_id(campaign_id)).skipped, 0, limit - 1)
        return [json.loads(entry) for entry in raw]

    # -- control --------------------------------------------------------------------------------

    def _move(self, campaign_id: str, allowed: Sequence[str], to: str) -> str:
        keys = self._keys(checked_campaign_id(campaign_id))
        moved, current = self._cas(keys=[keys.campaign], args=["," + ",".join(allowed) + ",", to])
        if not current:
            raise CampaignNotFound(campaign_id)
        if not moved:
            raise CampaignStateError(f"campaign {campaign_id} is {current}: cannot make it {to}")
        return str(current)

    def pause(self, campaign_id: str) -> CampaignProgress:
        """Stop new sends within a second; messages already handed to a provider are not recalled."""
        self._move(campaign_id, ["running"], "paused")
        return self.progress(campaign_id)

    def resume(self, campaign_id: str) -> CampaignProgress:
        self._move(campaign_id, ["paused"], "running")
        keys = self._keys(campaign_id)
        priority = self.progress(campaign_id).priority
        while (held := self.store.redis.lpop(keys.held)) is not None:
            first, last = (int(n) for n in str(held).split(":"))
            self.expander.queue_batches(campaign_id, names.LANE_FOR_PRIORITY[priority], first, last)
        release_held_ids(self.store, keys)
        return self.progress(campaign_id)

    def cancel(self, campaign_id: str) -> CampaignProgress:
        """Every queued or scheduled message of the campaign becomes cancelled; sent ones are kept."""
        self._move(campaign_id, ["running", "paused", "scheduled"], "cancelled")
        self.store.redis.zrem(self._schedule, campaign_id)
        self.publisher.publish(
            names.CAMPAIGN_SWEEP_TASK, names.CampaignSweepPayload(campaign_id=campaign_id), names.SYNC
        )
        return self.progress(campaign_id)

    def release_due(self) -> int:
        """Start scheduled campaigns whose time has come (called by the release loop)."""
        due: list[str] = self.store.redis.zrangebyscore(self._schedule, "-inf", self.store.now_ms())  # type: ignore[assignment]
        started = 0
        for campaign_id in due:
            if not self.store.redis.zrem(self._schedule, campaign_id):
                continue  # another releaser took it
            try:
                self._move(str(campaign_id), ["scheduled"], "running")
            except CampaignStateError:
                continue
            record: dict[str, str] = self.store.redis.hgetall(self._keys(campaign_id).campaign)  # type: ignore[assignment]
            self._queue_all(campaign_id, record.get("priority", "low"), int(record.get("last_position", 0)))
            started += 1
        return started


def release_held_ids(store: MessageStore, keys: CampaignKeys) -> int:
    """Messages that came back from the schedule (their send window opened) while the campaign was
    paused wait in ``held_ids``; on resume they go back to the schedule, due now, and the release
    loop sends them. Returns how many."""
    moved = 0
    while True:
        with store.redis.pipeline(transaction=True) as pipe:
            pipe.lrange(keys.held_ids, 0, HELD_IDS_CHUNK - 1)
            pipe.ltrim(keys.held_ids, HELD_IDS_CHUNK, -1)
            ids, _ = pipe.execute()
        if not ids:
            return moved
        now = store.now_ms()
        store.redis.zadd(store.keys.schedule, {str(message_id): now for message_id in ids})
        moved += len(ids)
