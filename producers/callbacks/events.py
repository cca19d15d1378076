"""Callback events: what the app is told, one Redis hash per event (``CallbackKeys``).

A message's event is written by ``lua/records.lua`` in the very step that changes its status (so a
status change and its callback cannot be parted, and the send path only appends); a campaign's end
by the campaign janitor (``emit_campaign_end``). Workers deliver them (workers/callbacks/); this
module reads, lists and replays them and builds the JSON the app receives.

An event's id is ``<message id>:<seq>``: ``seq`` counts the message's events from 1, so the app can
order them (a retried older event can arrive after a newer one). The id is the ``webhook-id`` of
every delivery of that event, retries and replays included: a receiver drops a repeat by it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import redis

from smsq.producers.callbacks import lua
from smsq.producers.core.keys import CallbackKeys, Keys
from smsq.producers.core.records import KEY_ID
from smsq.producers.errors import CallbackNotFound

# The status changes the app hears of (lua/records.lua spells the same list).
CALLBACK_STATUSES: Final = frozenset(
    {"sent", "delivered", "failed", "undeliverable", "expired", "blocked", "cancelled", "unknown"}
)

# -- an event's fields -------------------------------------------------------------------------------
KIND: Final = "kind"  # message | campaign
MESSAGE_ID: Final = "message_id"
CAMPAIGN_ID: Final = "campaign_id"
EVENT_KEY_ID: Final = "key_id"
SEQ: Final = "seq"
STATUS: Final = "status"
PREVIOUS: Final = "previous"
AT_MS: Final = "at_ms"  # when the status changed
ERROR_CODE: Final = "error_code"
ERROR_DETAIL: Final = "error_detail"
TEST: Final = "test"
COUNTS: Final = "counts"  # campaign events: status -> messages, JSON
STATE: Final = "state"  # pending | delivering | delivered | dead
ATTEMPTS: Final = "attempts"
CLAIMS: Final = "claims"  # claims so far: a task's outcome counts only for the latest claim
WINDOW_MS: Final = "window_ms"  # retries run until this + give_up_after (a replay restarts it)
LAST_RESULT: Final = "last_result"  # the last attempt's outcome: "200", "503: busy", "timeout"...
FINISHED_MS: Final = "finished_ms"
# The message's trace context (tracing on), copied from its record by lua/records.lua; never in the body.
TRACE: Final = "traceparent"

PENDING, DELIVERING, DELIVERED, DEAD = "pending", "delivering", "delivered", "dead"


@dataclass(frozen=True)
class Event:
    id: str
    fields: Mapping[str, str]

    @property
    def key_id(self) -> str:
        return self.fields.get(EVENT_KEY_ID, "")

    @property
    def state(self) -> str:
        return self.fields.get(STATE, "")

    @property
    def attempts(self) -> int:
        return int(self.fields.get(ATTEMPTS) or 0)

    @property
    def at_ms(self) -> int:
        return int(self.fields.get(AT_MS) or 0)

    @property
    def type(self) -> str:
        if self.fields.get(KIND) == "campaign":
            return "campaign.finished"
        return f"message.{self.fields.get(STATUS, '')}"

    def payload(self) -> dict[str, Any]:
        """The JSON body the app receives (the README's "Callbacks" shows one)."""
        f = self.fields
        timestamp = datetime.fromtimestamp(self.at_ms / 1000, UTC).isoformat(timespec="milliseconds")
        data: dict[str, Any]
        if f.get(KIND) == "campaign":
            data = {
                "campaign_id": f.get(CAMPAIGN_ID),
                "status": f.get(STATUS),
                "counts": json.loads(f.get(COUNTS) or "{}"),
                "sequence": int(f.get(SEQ) or 1),
            }
        else:
            code, detail = f.get(ERROR_CODE), f.get(ERROR_DETAIL)
            error = {"code": code, "detail": detail} if code or detail else None
            data = {
                "message_id": f.get(MESSAGE_ID),
                "status": f.get(STATUS),
                "previous_status": f.get(PREVIOUS) or None,
                "sequence": int(f.get(SEQ) or 0),
                "campaign_id": f.get(CAMPAIGN_ID) or None,
                "error": error if f.get(STATUS) not in ("sent", "delivered") else None,
                "test": f.get(TEST) == "1",
            }
        return {"type": self.type, "timestamp": timestamp.replace("+00:00", "Z"), "data": data}

    def body(self) -> str:
        """The payload as sent and signed: compact JSON, the same bytes for every delivery."""
        return json.dumps(self.payload(), separators=(",", ":"), sort_keys=True)


class CallbackEvents:
    """Reading, listing and replaying events (``smsq callbacks``)."""

    def __init__(self, client: redis.Redis, keys: Keys, *, keep_seconds: float = 3 * 86400) -> None:
        self.redis = client
        self.keys = CallbackKeys(keys)
        self.keep_seconds = keep_seconds
        self._replay = client.register_script(lua.REPLAY)

    def get(self, event_id: str) -> Event:
        fields: dict[str, str] = self.redis.hgetall(self.keys.event(event_id))  # type: ignore[assignment]
        if not fields:
            raise CallbackNotFound(event_id)
        return Event(event_id, fields)

    def get_many(self, event_ids: Sequence[str]) -> list[Event | None]:
        with self.redis.pipeline(transaction=False) as pipe:
            for event_id in event_ids:
                pipe.hgetall(self.keys.event(event_id))
            found = pipe.execute()
        return [Event(i, f) if f else None for i, f in zip(event_ids, found, strict=True)]

    def recent(self, *, since_ms: int = 0, limit: int = 50, dead: bool = False) -> list[Event]:
        """The newest events (dead-lettered only, with ``dead``) since ``since_ms``, newest first."""
        index = self.keys.dead if dead else self.keys.log
        ids: list[str] = self.redis.zrevrangebyscore(index, "+inf", since_ms, start=0, num=limit)  # type: ignore[assignment]
        return [event for event in self.get_many(ids) if event is not None]

    def since(self, since_ms: int, *, limit: int = 100_000) -> list[str]:
        ids: list[str] = self.redis.zrangebyscore(self.keys.log, since_ms, "+inf", start=0, num=limit)  # type: ignore[assignment]
        return ids

    def replay(self, event_ids: Sequence[str], now_ms: int) -> int:
        """Deliver these events again from the start (fresh attempts and retry window), whatever
        their state; ids that no longer exist are skipped. Returns how many were queued."""
        queued = 0
        for start in range(0, len(event_ids), 500):
            chunk = event_ids[start : start + 500]
            replayed = self._replay(
                keys=[self.keys.due, self.keys.dead], args=[self.keys.event_prefix, now_ms, *chunk]
            )
            queued += int(replayed)
        return queued

    def replay_one(self, event_id: str, now_ms: int) -> Event:
        if not self.replay([event_id], now_ms):
            raise CallbackNotFound(event_id)
        return self.get(event_id)

    def emit_campaign_end(
        self, campaign_id: str, campaign: Mapping[str, str], counts: Mapping[str, str], now_ms: int
    ) -> str | None:
        """The event of a campaign whose every message is final, if its key has a callback URL."""
        key_id = campaign.get(KEY_ID, "")
        if not key_id or not self.redis.hget(self.keys.api_key_prefix + key_id, "callback_url"):
            return None
        event_id = f"campaign-{campaign_id}:1"
        fields: dict[Any, Any] = {
            KIND: "campaign", CAMPAIGN_ID: campaign_id, EVENT_KEY_ID: key_id, SEQ: 1,
            STATUS: campaign.get("status", ""), AT_MS: now_ms, STATE: PENDING, ATTEMPTS: 0, WINDOW_MS: now_ms,
            COUNTS: json.dumps({k: int(v) for k, v in counts.items() if int(v)}, sort_keys=True),
            TEST: campaign.get(TEST, ""),
        }  # fmt: skip
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self.keys.event(event_id), mapping=fields)
            pipe.zadd(self.keys.due, {event_id: now_ms})
            pipe.zadd(self.keys.log, {event_id: now_ms})
            pipe.execute()
        return event_id
