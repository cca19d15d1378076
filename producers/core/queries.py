"""Counts by status: over a time range (the store's hourly counts, ``<prefix>:stats:<hour>``) and per
campaign (``<prefix>:campaign:<id>:counts``). Both are kept by the state store's Lua scripts in the
same step as each status change, so reading them costs one round trip, however many messages."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from smsq.producers.core.keys import HOUR_MS
from smsq.producers.core.states import STATUSES
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CampaignNotFound, InvalidInput

MAX_RANGE = timedelta(days=400)
_CAMPAIGN_ID = re.compile(r"^[\x21-\x7e]{1,200}$")


@dataclass(frozen=True)
class StatusSummary:
    """Messages created in [since, until) by their status now. The store counts per hour (UTC), so
    the range is widened to whole hours: ``since``/``until`` say which hours were counted."""

    since: datetime
    until: datetime
    counts: dict[str, int]

    @property
    def total(self) -> int:
        return sum(self.counts.values())


def parse_time(value: datetime | str, name: str) -> datetime:
    """An aware datetime, or ISO-8601 text (no zone = UTC). Raises InvalidInput naming ``name``."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInput([(name, f"{value!r} is not an ISO-8601 date or time")]) from None
    if not isinstance(value, datetime):
        raise InvalidInput([(name, "must be a date and time")])
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def summary(store: MessageStore, since: datetime | str, until: datetime | str) -> StatusSummary:
    start, end = parse_time(since, "since"), parse_time(until, "until")
    if end <= start:
        raise InvalidInput([("until", "must be later than since")])
    if end - start > MAX_RANGE:
        raise InvalidInput([("since", f"the range is longer than {MAX_RANGE.days} days")])
    first = math.floor(start.timestamp() * 1000 / HOUR_MS)
    last = math.ceil(end.timestamp() * 1000 / HOUR_MS)  # exclusive
    with store.redis.pipeline(transaction=False) as pipe:
        for hour in range(first, last):
            pipe.hgetall(store.keys.stats_hour(hour))
        buckets = pipe.execute()
    counts: dict[str, int] = {}
    for bucket in buckets:
        for status, count in bucket.items():
            counts[status] = counts.get(status, 0) + int(count)
    return StatusSummary(
        since=datetime.fromtimestamp(first * HOUR_MS / 1000, tz=UTC),
        until=datetime.fromtimestamp(last * HOUR_MS / 1000, tz=UTC),
        counts=_ordered(counts),
    )


def campaign_counts(store: MessageStore, campaign_id: str) -> dict[str, int]:
    if not isinstance(campaign_id, str) or not _CAMPAIGN_ID.match(campaign_id):
        raise InvalidInput(
            [("campaign_id", f"{campaign_id!r} is not a campaign id (1-200 printable characters)")]
        )
    raw: dict[str, str] = store.redis.hgetall(store.keys.campaign_counts(campaign_id))  # type: ignore[assignment]
    if not raw:
        raise CampaignNotFound(campaign_id, "or none of its messages is counted yet")
    return _ordered({status: int(count) for status, count in raw.items()})


def _ordered(counts: dict[str, int]) -> dict[str, int]:
    """Statuses in state-machine order, zeros left out (a message that moved on leaves a 0 behind)."""
    known = [s for s in STATUSES if counts.get(s)]
    others = sorted(s for s in counts if s not in STATUSES and counts[s])
    return {status: counts[status] for status in known + others}
