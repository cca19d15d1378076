"""The poll-schedule side of transitions, the hourly status counts the Lua scripts keep, and the
queries that read them (summary over a time range, campaign counts)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CampaignNotFound, InvalidInput
from tests.support.fakes import FakeClock, RecordingPublisher

HOUR = 3600.0


def new_record(store: MessageStore, status: str = "queued", **fields: str) -> str:
    message_id = str(uuid.uuid4())
    record: dict[str, str | int] = {
        "id": message_id,
        "status": status,
        "created_ms": store.now_ms(),
        **fields,
    }
    store.create(message_id, record, idempotency_key=None, due_ms=None)
    return message_id


def sent(store: MessageStore, poll_at_ms: int | None = None, **fields: str) -> str:
    message_id = new_record(store, **fields)
    store.transition(message_id, "sending")
    store.transition(message_id, "sent", poll_at_ms=poll_at_ms)
    return message_id


def test_sent_with_a_poll_time_enters_the_poll_schedule(store: MessageStore) -> None:
    message_id = sent(store, poll_at_ms=store.now_ms() + 30_000)
    assert store.redis.zscore(store.keys.polls, message_id) == store.now_ms() + 30_000
    assert sent(store) not in store.redis.zrange(store.keys.polls, 0, -1)  # no poll time: not entered


@pytest.mark.parametrize("final", ["delivered", "failed", "undeliverable", "expired", "cancelled", "unknown"])
def test_any_final_status_leaves_the_poll_schedule(store: MessageStore, final: str) -> None:
    message_id = sent(store, poll_at_ms=store.now_ms())
    assert store.transition(message_id, final).ok
    assert store.redis.zscore(store.keys.polls, message_id) is None


def test_a_refused_transition_leaves_the_poll_entry(store: MessageStore) -> None:
    message_id = sent(store, poll_at_ms=store.now_ms())
    assert not store.transition(message_id, "queued").ok  # sent -> queued is not allowed
    assert store.redis.zscore(store.keys.polls, message_id) is not None


def test_hourly_counts_follow_every_status_change(store: MessageStore, clock: FakeClock) -> None:
    smsq = Smsq(store, RecordingPublisher())
    now = datetime.fromtimestamp(clock.now, tz=UTC)
    queued = smsq.send({"to": "+37251234567", "messages": [{"channel": "sms", "text": "a"}]}).message_id
    scheduled = smsq.send({"to": "+37251234567", "messages": [{"channel": "sms", "text": "b"}],
                           "time_to_send": (now + timedelta(seconds=5)).isoformat()}).message_id  # fmt: skip
    assert smsq.summary(now, now + timedelta(seconds=1)).counts == {"scheduled": 1, "queued": 1}
    clock.advance(HOUR)  # later changes still count in the hour the messages were created
    store.claim_due(10, 1000)  # released: scheduled -> queued
    store.transition(queued, "sending")
    store.transition(queued, "sent")
    store.transition(queued, "delivered")
    summary = smsq.summary(now, now + timedelta(seconds=1))
    assert summary.counts == {"queued": 1, "delivered": 1} and summary.total == 2
    assert smsq.summary(now + timedelta(hours=1), now + timedelta(hours=2)).counts == {}
    assert scheduled


def test_a_summary_covers_whole_hours(store: MessageStore, clock: FakeClock) -> None:
    clock.now = 1_800_000_000.0 - (1_800_000_000.0 % HOUR) + 600  # 10 minutes into an hour
    new_record(store)
    clock.advance(HOUR)
    new_record(store, "blocked")
    start = datetime.fromtimestamp(clock.now, tz=UTC) - timedelta(hours=1)
    summary = Smsq(store, RecordingPublisher()).summary(
        start + timedelta(minutes=5), start + timedelta(minutes=6)
    )
    assert summary.counts == {"queued": 1}
    assert summary.since == start - timedelta(minutes=10) and summary.until == summary.since + timedelta(
        hours=1
    )
    both = Smsq(store, RecordingPublisher()).summary(
        start.isoformat(), (start + timedelta(hours=1, seconds=1)).isoformat()
    )
    assert both.counts == {"queued": 1, "blocked": 1}


@pytest.mark.parametrize(
    ("since", "until", "field"),
    [
        ("yesterday", "2026-01-02T00:00:00", "since"),
        ("2026-01-01T00:00:00", "soon", "until"),
        ("2026-01-02T00:00:00", "2026-01-01T00:00:00", "until"),
        ("2026-01-01T00:00:00", "2026-01-01T00:00:00", "until"),
        ("2024-01-01T00:00:00", "2026-01-01T00:00:00", "since"),
    ],
)
def test_a_bad_range_names_what_is_wrong(store: MessageStore, since: str, until: str, field: str) -> None:
    with pytest.raises(InvalidInput) as error:
        Smsq(store, RecordingPublisher()).summary(since, until)
    assert error.value.problems[0][0] == field


def test_campaign_counts_follow_its_messages(store: MessageStore) -> None:
    smsq = Smsq(store, RecordingPublisher())
    first, second = sent(store, campaign_id="spring"), sent(store, campaign_id="spring")
    store.transition(first, "delivered")
    counts = smsq.campaign_counts("spring")
    assert (
        counts["delivered"] == 1
        and counts["sent"] == 1
        and list(counts).index("sent") < list(counts).index("delivered")
    )
    assert second


@pytest.mark.parametrize("campaign_id", ["", "has space", "x" * 201])
def test_a_bad_campaign_id_is_refused(store: MessageStore, campaign_id: str) -> None:
    with pytest.raises(InvalidInput, match="campaign_id"):
        Smsq(store, RecordingPublisher()).campaign_counts(campaign_id)


def test_an_unknown_campaign_says_so(store: MessageStore) -> None:
    with pytest.raises(CampaignNotFound, match="no campaign with id nope"):
        Smsq(store, RecordingPublisher()).campaign_counts("nope")


def test_campaign_messages_count_in_the_summary_and_an_undone_campaign_leaves_no_trace(
    store: MessageStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    from smsq.producers.blacklist.store import Blacklist
    from smsq.producers.campaigns.api import Campaigns

    smsq = Smsq(store, RecordingPublisher())
    campaigns = Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))
    campaigns.expander.blacklist.add("+37251000003", source="api")
    template = {"messages": [{"channel": "sms", "text": "Sale"}]}
    campaigns.create(name="a", template=template, recipients=["+37251000001", "+37251000002", "+37251000003"])
    now = datetime.fromtimestamp(clock.now, tz=UTC)
    assert smsq.summary(now, now + timedelta(seconds=1)).counts == {"queued": 2, "blocked": 1}

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(campaigns, "_finish", broken)
    with pytest.raises(ConnectionError):
        campaigns.create(name="b", template=template, recipients=["+37251000004", "+37251000005"])
    assert smsq.summary(now, now + timedelta(seconds=1)).counts == {"queued": 2, "blocked": 1}
