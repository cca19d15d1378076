"""Campaign clean-up, run by `smsq beat` every ``SMSQ_RECOVERY__JANITOR_INTERVAL`` seconds, so a
campaign's own keys are as bounded as its message records:

- a campaign whose every message is final (nothing scheduled, queued, sending or sent) gets an expiry
  of ``SMSQ_RETENTION_DAYS`` on its hash, counts, skipped-lines sample and idempotency key, like its
  records, and leaves the janitor's list (``<p>:campaigns``); a paused or scheduled one stays;
- a campaign stuck in `creating` whose expansion stopped making progress for
  ``SMSQ_RECOVERY__EXPANSION_SECONDS`` (the process expanding it died: a producer reading a CSV, or a
  worker expanding phonebook groups) is undone: every record it stored is removed and it is marked
  `failed`, with its idempotency key released, so the caller can create it again. Its input was in the
  dead process's hands, so it cannot be finished by anyone else.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from smsq.producers.callbacks.events import CallbackEvents
from smsq.producers.campaigns.expansion import Expander
from smsq.producers.core.keys import CampaignKeys
from smsq.producers.core.records import IDEMPOTENCY_KEY
from smsq.producers.core.store import MessageStore

log = logging.getLogger(__name__)

PENDING = ("scheduled", "queued", "sending", "sent")
INTERRUPTED = "its expansion was interrupted (the process creating it stopped); create it again"


@dataclass
class Tidied:
    expired: int = 0
    undone: int = 0


def tidy_campaigns(
    store: MessageStore, expander: Expander, *, expansion_seconds: float, limit: int = 1000
) -> Tidied:
    report = Tidied()
    index = store.keys.campaigns
    campaign_ids: list[str] = store.redis.zrange(index, 0, limit - 1)  # type: ignore[assignment]
    now = store.now_ms()
    for campaign_id in campaign_ids:
        keys = CampaignKeys(store.keys, campaign_id)
        record: dict[str, str] = store.redis.hgetall(keys.campaign)  # type: ignore[assignment]
        status = record.get("status")
        if status is None:
            store.redis.zrem(index, campaign_id)  # removed (an undone creation) or expired
        elif status == "creating":
            since = int(record.get("expanding_ms") or 0)
            if since and now - since > expansion_seconds * 1000:
                _undo(store, expander, campaign_id, record)
                report.undone += 1
        elif status in ("running", "cancelled", "failed"):
            counts = store.redis.hmget(keys.counts, list(PENDING))
            if not any(int(count or 0) for count in counts):
                _tell_the_app(store, campaign_id, record, now)
                _expire(store, keys, record)
                report.expired += 1
    return report


def _tell_the_app(store: MessageStore, campaign_id: str, record: dict[str, str], now_ms: int) -> None:
    """A campaign's end is a callback event for the key that created it (if it has a callback URL)."""
    counts: dict[str, str] = store.redis.hgetall(store.keys.campaign_counts(campaign_id))  # type: ignore[assignment]
    CallbackEvents(store.redis, store.keys).emit_campaign_end(campaign_id, record, counts, now_ms)


def _expire(store: MessageStore, keys: CampaignKeys, record: dict[str, str]) -> None:
    ttl = store.retention_seconds
    with store.redis.pipeline(transaction=True) as pipe:
        for key in (keys.campaign, keys.counts, keys.skipped):
            pipe.expire(key, ttl)
        pipe.delete(keys.held, keys.held_ids)
        if record.get(IDEMPOTENCY_KEY):
            pipe.expire(store.keys.campaign_idempotency(record[IDEMPOTENCY_KEY]), ttl)
        pipe.zrem(store.keys.campaigns, keys.campaign_id)
        pipe.execute()


def _undo(store: MessageStore, expander: Expander, campaign_id: str, record: dict[str, str]) -> None:
    through = int(record.get("expanded_through") or 0)
    expander.remove(campaign_id, list(range(1, through + 1)))
    keys = CampaignKeys(store.keys, campaign_id)
    with store.redis.pipeline(transaction=True) as pipe:
        pipe.delete(keys.counts)
        pipe.hset(keys.campaign, mapping={"status": "failed", "failed_reason": INTERRUPTED})
        if record.get(IDEMPOTENCY_KEY):
            pipe.delete(store.keys.campaign_idempotency(record[IDEMPOTENCY_KEY]))
        pipe.execute()
    log.warning("campaign %s: %s; %d positions undone", campaign_id, INTERRUPTED, through)
