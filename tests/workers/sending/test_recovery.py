"""Recovery of work a lost worker held (smsq.workers.sending.recovery), on a real Redis with the real
publisher's task envelopes in the lane lists: a worker "takes" a task by popping it off its lane, as
kombu's BRPOP does, and "dies" by never running it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.config.settings import RecoverySettings, Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.batches import Batch, Batches
from smsq.producers.campaigns.model import message_id
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.publisher import CeleryPublisher
from smsq.workers.campaigns.sending import BatchLease, BatchOptions, send_batch
from smsq.workers.sending.recovery import LaneWatch, release_batches
from smsq.workers.sending.release import release_due
from smsq.workers.sending.single import send_message
from tests.conftest import FakeClock
from tests.workers.campaigns.test_sending import FakeMessente, sender_for

LIMITS = RecoverySettings(high_seconds=5, regular_seconds=60, low_seconds=60)


def sms(priority: str = "high", to: str = "+37251234567") -> dict[str, Any]:
    return {"to": to, "priority": priority, "messages": [{"channel": "sms", "text": "1234"}]}


@pytest.fixture
def broker(redis_server: RedisServer, redis_client: redis.Redis) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url)  # the lanes' lists, as the transport sees them
    yield client
    client.close()


@pytest.fixture
def publisher(redis_server: RedisServer, clock: FakeClock) -> CeleryPublisher:
    app = make_celery(Settings(_env_file=None, redis_url=redis_server.url))  # type: ignore[call-arg]
    return CeleryPublisher(app, clock=clock)


@pytest.fixture
def watch(broker: redis.Redis) -> LaneWatch:
    return LaneWatch(broker, LIMITS)


def release(store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch) -> int:
    return release_due(store, publisher, batch=100, claim_lease_ms=30_000, watch=watch)


def take(broker: redis.Redis, lane: str) -> dict[str, Any]:
    """What a worker's BRPOP does: the oldest task leaves the list."""
    raw = broker.rpop(lane)
    assert raw is not None, f"nothing waiting in {lane}"
    envelope = json.loads(raw)  # type: ignore[arg-type]
    import base64

    return dict(json.loads(base64.b64decode(envelope["body"]))[1])


def test_an_otp_taken_by_a_worker_that_died_is_published_again_after_the_high_limit(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    smsq = Smsq(store, publisher, recovery=LIMITS)
    otp = smsq.send(sms("high")).message_id
    assert take(broker, "high") == {"message_id": otp}  # ...and the worker is gone
    clock.advance(4.9)
    assert release(store, publisher, watch) == 0  # within the limit: a worker may be claiming it now
    clock.advance(0.2)
    assert release(store, publisher, watch) == 1
    assert take(broker, "high") == {"message_ids": [otp]}
    assert store.get(otp)["status"] == "queued"  # type: ignore[index]


def test_messages_still_waiting_in_a_deep_queue_are_never_copied(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    smsq = Smsq(store, publisher, recovery=LIMITS)
    ids = []
    for n in range(3):
        ids.append(smsq.send(sms("regular", to=f"+3725123456{n}")).message_id)
        clock.advance(0.01)
    for _ in range(3):  # a backlog: nobody takes anything for minutes
        clock.advance(61)
        assert release(store, publisher, watch) == 0
    assert broker.llen("regular") == 3
    take(broker, "regular")  # a worker takes the oldest and dies; the other two still wait
    clock.advance(61)
    assert release(store, publisher, watch) == 1
    assert broker.llen("regular") == 3 and json.loads(broker.lindex("regular", 0))["headers"]["task"] == (  # type: ignore[arg-type]
        "smsq.send_many"
    )
    assert take(broker, "regular") == {"message_id": ids[1]}  # FIFO: the others come first


def test_a_claimed_message_is_no_longer_watched(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    fake = FakeMessente()
    smsq = Smsq(store, publisher, recovery=LIMITS)
    otp = smsq.send(sms("high")).message_id
    take(broker, "high")
    assert send_message(otp, sender_for(store, fake)).status == "sent"
    assert store.scheduled_count() == 0  # the claim took its watch away
    clock.advance(3600)
    assert release(store, publisher, watch) == 0


def test_the_compare_and_set_claim_makes_a_second_send_impossible(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    """The worst case recovery can cause: the lost worker was only slow, and it, the copy recovery
    published, and the original that kombu hands back after the visibility timeout all run. Exactly
    one moves the message `queued -> sending`; the provider receives one request."""
    fake = FakeMessente()
    sender = sender_for(store, fake)
    smsq = Smsq(store, publisher, recovery=LIMITS)
    otp = smsq.send(sms("high")).message_id
    original = take(broker, "high")
    clock.advance(6)
    assert release(store, publisher, watch) == 1
    copy = take(broker, "high")
    assert copy == {"message_ids": [otp]} and original == {"message_id": otp}
    outcomes = [send_message(otp, sender) for _ in range(3)]  # the copy, the slow worker, kombu's restore
    assert [o.status for o in outcomes] == ["sent", "skipped", "skipped"]
    assert len(fake.requests) == 1
    clock.advance(3600)
    assert release(store, publisher, watch) == 0 and broker.llen("high") == 0


def test_a_scheduled_message_is_watched_once_released(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    from datetime import UTC, datetime

    smsq = Smsq(store, publisher, recovery=LIMITS)
    later = datetime.fromtimestamp(clock() + 30, tz=UTC).isoformat()
    mid = smsq.send({**sms("regular"), "time_to_send": later}).message_id
    clock.advance(30)
    assert release(store, publisher, watch) == 1  # due: released (not a recovery)
    take(broker, "regular")  # taken by a worker that dies
    clock.advance(59)
    assert release(store, publisher, watch) == 0
    clock.advance(2)
    assert release(store, publisher, watch) == 1
    assert take(broker, "regular") == {"message_ids": [mid]}


# -- campaign batches -----------------------------------------------------------------------------


def campaign(store: MessageStore, publisher: CeleryPublisher, count: int, **options: Any) -> str:
    campaigns = Campaigns(
        store, publisher, Blacklist(store.redis, prefix="t", clock=store.clock), recovery=LIMITS, **options
    )
    recipients = [f"+372510000{n:02d}" for n in range(1, count + 1)]
    template = {"messages": [{"channel": "sms", "text": "sale", "sender": "Shop"}]}
    return campaigns.create(name="c", template=template, recipients=recipients).id


def run_batch(store: MessageStore, kwargs: dict[str, Any], fake: FakeMessente, **lease: Any) -> Any:
    options = BatchOptions(chunk=2, use_bulk=True, bulk_size=2)
    batch_lease = BatchLease(Batches(store), 60, **lease)
    return send_batch(kwargs["campaign_id"], kwargs["first"], kwargs["last"], sender_for(store, fake),
                      options, None, batch_lease)  # fmt: skip


def publish_batches(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, max_queued: int = 100
) -> int:
    return release_batches(Batches(store), publisher, watch, max_queued=max_queued)


def test_a_batch_whose_worker_died_mid_way_is_published_again_and_sends_only_the_rest(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    cid = campaign(store, publisher, 6, batch_size=6)
    kwargs = take(broker, "low")
    fake = FakeMessente()

    class Died(Exception):
        pass

    chunks = iter([False, True])  # the worker dies after its first chunk of 2

    def dies() -> bool:
        if next(chunks):
            raise Died
        return False

    with pytest.raises(Died):
        run_batch(store, kwargs, fake, stopping=dies)
    assert len(fake.requests) == 1  # positions 1-2 went out in one bulk call
    clock.advance(59)
    assert publish_batches(store, publisher, watch) == 0  # its last heartbeat still holds
    clock.advance(2)
    assert publish_batches(store, publisher, watch) == 1
    again = take(broker, "low")
    assert again == kwargs
    run_batch(store, again, fake)
    sent = [json.loads(r.content)["messages"] for r in fake.requests]
    assert [m["to"] for call in sent for m in call] == [f"+372510000{n:02d}" for n in range(1, 7)]
    assert {store.get(message_id(cid, p))["status"] for p in range(1, 7)} == {"sent"}  # type: ignore[index]
    assert Batches(store).count() == 0


def test_a_batch_handed_back_on_shutdown_is_published_at_once_from_where_it_stopped(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis
) -> None:
    campaign(store, publisher, 6, batch_size=6)
    kwargs = take(broker, "low")
    fake = FakeMessente()
    stops = iter([False, False, True])  # SIGTERM arrives while the second chunk is being sent
    outcome = run_batch(store, kwargs, fake, stopping=lambda: next(stops))
    assert outcome.stopped == "shutdown" and outcome.statuses == {"sent": 4}
    assert publish_batches(store, publisher, watch) == 1  # no wait: it is due now
    assert take(broker, "low") == {**kwargs, "first": 5}


def test_batches_a_producer_did_not_live_to_publish_are_published_by_beat(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    cid = campaign(store, publisher, 10, batch_size=2, max_queued_batches=2)  # room for 2 of 5
    assert broker.llen("low") == 2
    assert publish_batches(store, publisher, watch, 2) == 0  # within the outbox grace: the producer's
    clock.advance(11)
    assert publish_batches(store, publisher, watch, 2) == 0  # the lane is full: back-pressure
    take(broker, "low")
    clock.advance(1)
    assert publish_batches(store, publisher, watch, 2) == 1
    take(broker, "low")
    take(broker, "low")
    clock.advance(1)
    assert publish_batches(store, publisher, watch, 2) == 2
    firsts = sorted(take(broker, "low")["first"] for _ in range(2))
    assert firsts == [7, 9] and Batches(store).count() == 5
    assert store.redis.hget(f"t:campaign:{cid}", "status") == "running"


def test_batches_of_a_paused_campaign_wait_and_of_a_cancelled_one_are_dropped(
    store: MessageStore, publisher: CeleryPublisher, watch: LaneWatch, broker: redis.Redis, clock: FakeClock
) -> None:
    campaigns = Campaigns(store, publisher, Blacklist(store.redis, prefix="t", clock=clock), recovery=LIMITS)
    template = {"messages": [{"channel": "sms", "text": "sale"}]}
    paused = campaigns.create(name="p", template=template, recipients=["+37251000001"]).id
    cancelled = campaigns.create(name="c", template=template, recipients=["+37251000002"]).id
    broker.delete("low")  # both tasks taken by a worker that died
    campaigns.pause(paused)
    campaigns.cancel(cancelled)
    clock.advance(61)
    assert publish_batches(store, publisher, watch) == 0
    assert [b.campaign_id for b in map(Batch.parse, store.redis.zrange(store.keys.batches, 0, -1))] == [
        paused
    ]
    campaigns.resume(paused)
    clock.advance(61)
    assert publish_batches(store, publisher, watch) >= 1


def test_sending_leaves_no_unclaimed_http_request_marker_behind(store: MessageStore) -> None:
    """The call marker is written just before the request, for the lease check only."""
    fake = FakeMessente()
    smsq = Smsq(store, _NoPublish(), recovery=LIMITS)
    mid = smsq.send(sms("regular")).message_id
    send_message(mid, sender_for(store, fake))
    assert store.get(mid)["call_provider"] == "messente"  # type: ignore[index]
    assert isinstance(fake.requests[0], httpx.Request)


class _NoPublish:
    def publish(self, *_: Any) -> None:
        pass

    def publish_many(self, *_: Any) -> None:
        pass

    def call(self, *_: Any) -> None:
        pass
