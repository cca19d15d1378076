"""Live figures are read from Redis at scrape time: lanes, circuits, limiter, backlogs, campaigns."""

from __future__ import annotations

import redis

from smsq.config import contract as names
from smsq.producers.client import Smsq
from smsq.producers.core.keys import CallbackKeys, Keys
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import task_message
from smsq.telemetry.exporter import SmsqCollector
from smsq.telemetry.live import LiveReader
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.telemetry.support import exposition, samples, value


def push(client: redis.Redis, lane: str, published_at: float) -> None:
    kwargs = {"message_id": "00000000-0000-0000-0000-000000000000"}
    client.lpush(lane, task_message(names.SEND_TASK, kwargs, lane, "test", clock=lambda: published_at))


def test_lane_depth_and_the_age_of_its_oldest_task(redis_client: redis.Redis, clock: FakeClock) -> None:
    reader = LiveReader(redis_client, redis_client, "t", clock=clock)
    push(redis_client, "high", clock() - 40)  # the oldest: pushed first, at the tail
    push(redis_client, "high", clock() - 2)
    push(redis_client, "low", clock() - 1)
    lanes = {lane.name: lane for lane in reader.lanes()}
    assert (lanes["high"].depth, lanes["high"].oldest_age_seconds) == (2, 40)
    assert (lanes["low"].depth, lanes["low"].oldest_age_seconds) == (1, 1)
    assert (lanes["regular"].depth, lanes["regular"].oldest_age_seconds) == (0, 0)
    redis_client.rpop("high")  # a worker took the oldest
    assert {lane.name: lane for lane in reader.lanes()}["high"].oldest_age_seconds == 2


def test_a_task_without_smsqs_header_has_age_zero(redis_client: redis.Redis) -> None:
    redis_client.lpush("regular", b'{"headers": {}}')
    lanes = {lane.name: lane for lane in LiveReader(redis_client, redis_client, "t").lanes()}
    assert (lanes["regular"].depth, lanes["regular"].oldest_age_seconds) == (1, 0)


def test_circuits_dead_letters_and_polls_in_the_exposition(
    redis_client: redis.Redis, store: MessageStore, collector: SmsqCollector
) -> None:
    keys = Keys("t")
    redis_client.set(keys.circuit("smsapi"), "1", px=30_000)
    store.dead_letter("smsq.send", {"kwargs": {}}, "bad payload")
    redis_client.zadd(keys.polls, {"a": 1, "b": 2, "c": 10**15})  # two due, one far ahead
    found = samples(exposition(collector))
    assert value(found, "smsq_circuit_open", provider="smsapi") == 1
    assert value(found, "smsq_circuit_open", provider="messente") == 0
    assert value(found, "smsq_dead_letters") == 1
    assert value(found, "smsq_dead_letters_written_total") == 1
    assert value(found, "smsq_status_poll_backlog") == 2
    assert value(found, "smsq_status_polls_pending") == 3
    assert value(found, "smsq_lane_depth", lane="high") == 0


def test_callback_backlog_counts_due_events_not_claimed_ones(
    redis_client: redis.Redis, collector: SmsqCollector
) -> None:
    callbacks = CallbackKeys(Keys("t"))
    redis_client.zadd(callbacks.due, {"due-1": 1, "due-2": 2, "claimed": 10**15})
    redis_client.zadd(callbacks.dead, {"dead-1": 1})
    found = samples(exposition(collector))
    assert value(found, "smsq_callback_backlog") == 2
    assert value(found, "smsq_callbacks_dead") == 1


def test_the_limiter_backlog_is_read_on_redis_time(
    redis_client: redis.Redis, collector: SmsqCollector
) -> None:
    seconds, micros = redis_client.time()
    ahead_us = int(seconds) * 1_000_000 + int(micros) + 3_000_000
    redis_client.set(Keys("t").rate("messente"), str(ahead_us), px=10_000)
    found = samples(exposition(collector))
    assert 2.5 < (value(found, "smsq_limiter_backlog_seconds", provider="messente") or 0) <= 3
    assert value(found, "smsq_limiter_backlog_seconds", provider="smsapi") == 0


def test_campaign_progress_sums_campaigns_in_progress(
    store: MessageStore, redis_client: redis.Redis, collector: SmsqCollector
) -> None:
    smsq = Smsq(store, RecordingPublisher())
    template = {"messages": [{"channel": "sms", "text": "hi", "sender": "Shop"}]}
    smsq.campaigns.create(name="a", template=template, recipients=["+37251234567", "+37251234568"])
    second = smsq.campaigns.create(name="b", template=template, recipients=["+37251234569"])
    smsq.campaigns.pause(second.id)
    snapshot = LiveReader(redis_client, redis_client, "t").snapshot()
    assert sorted((line.name, line.status, line.pending) for line in snapshot.campaigns) == [
        ("a", "running", 2),
        ("b", "paused", 1),
    ]
    found = samples(exposition(collector))
    assert value(found, "smsq_campaigns", state="running") == 1
    assert value(found, "smsq_campaigns", state="paused") == 1
    assert value(found, "smsq_campaign_messages", status="queued") == 3


def test_a_scrape_with_redis_away_still_answers_and_counts_the_error() -> None:
    gone = redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2, decode_responses=True)
    collector = SmsqCollector(gone, LiveReader(gone, gone, "t"), "t")
    found = samples(exposition(collector))
    assert value(found, "smsq_exporter_errors_total", source="recorded") == 1
    assert value(found, "smsq_exporter_errors_total", source="live") == 1
