"""Spend caps (issue 16): per key and global, daily and monthly, in SMS parts and in cost, charged
in the same Lua script that accepts a message (or, for a campaign, once and whole at creation), so
racing producers never overshoot. A refusal names the limit and when it resets, and stores nothing;
a warning (log + event) at 80 %."""

from __future__ import annotations

import logging
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import redis

from smsq.config.cost_settings import CapSettings, CostSettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.cost import events
from smsq.producers.errors import CapExceeded
from tests.support.fakes import FakeClock, RecordingPublisher

EXAMPLE = Path(__file__).parents[3] / "config" / "prices.example.toml"
TWO_PARTS = "x" * 200


def sms(text: str = TWO_PARTS, to: str = "+37251234567") -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": text}]}


def smsq_with(store: MessageStore, **cost: Any) -> Smsq:
    return Smsq(store, RecordingPublisher(), schedule_horizon=timedelta(days=1), cost=CostSettings(**cost),
                sms_provider="messente")  # fmt: skip


def messages(client: redis.Redis) -> int:
    return len(client.keys("t:msg:*"))


def refused(smsq: Smsq, client: redis.Redis, *args: Any, **kwargs: Any) -> str:
    before = {key: client.get(key) for key in client.keys("t:caps:*")}
    count = messages(client)
    with pytest.raises(CapExceeded) as error:
        smsq.send(*args, **kwargs)
    assert messages(client) == count  # nothing stored for it
    assert {key: client.get(key) for key in client.keys("t:caps:*")} == before  # nothing charged
    return str(error.value)


def test_the_global_daily_cap_refuses_naming_the_limit_and_the_reset(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    smsq = smsq_with(store, caps=CapSettings(daily_segments=5))
    smsq.send(sms())
    smsq.send(sms())
    error = refused(smsq, redis_client, sms())
    day = clock.iso()[:10]
    assert error.startswith(
        "the global daily SMS-parts cap of 5 SMS parts would be exceeded: 4 SMS parts used,"
    )
    assert "this needs 2 SMS parts; resets " in error and error.endswith("T00:00:00Z")
    assert error[-20:-10] > day
    smsq.send(sms("one part"))  # 5 of 5: still within
    assert refused(smsq, redis_client, sms("one part"))
    clock.advance(86400)  # the next UTC day
    smsq.send(sms())


def test_the_monthly_cap_resets_on_the_first(
    store: MessageStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    smsq = smsq_with(store, caps=CapSettings(monthly_segments=2))
    smsq.send(sms())
    error = refused(smsq, redis_client, sms("hi"))
    assert "the global monthly SMS-parts cap of 2" in error and "-01T00:00:00Z" in error
    clock.advance(32 * 86400)
    smsq.send(sms())


def test_key_caps_by_id(store: MessageStore, redis_client: redis.Redis) -> None:
    smsq = smsq_with(
        store, key_caps=CapSettings(daily_segments=2), key_caps_by_id={"big": CapSettings(daily_segments=6)}
    )
    smsq.send(sms(), key_id="k1")
    assert "key k1's daily SMS-parts cap of 2" in refused(smsq, redis_client, sms(), key_id="k1")
    smsq.send(sms(), key_id="k2")  # each key its own counter
    for _ in range(3):
        smsq.send(sms(), key_id="big")
    assert "key big's daily" in refused(smsq, redis_client, sms(), key_id="big")
    smsq.send(sms())  # no key: under the global caps only (none here)


def test_cost_caps_where_prices_are_known(store: MessageStore, redis_client: redis.Redis) -> None:
    smsq = smsq_with(store, prices_file=EXAMPLE, caps=CapSettings(daily_cost=0.2))
    smsq.send(sms())  # 2 parts to EE at 0.045: 0.09
    smsq.send(sms())  # 0.18
    error = refused(smsq, redis_client, sms())
    assert error.startswith(
        "the global daily cost cap of 0.20 would be exceeded: 0.18 used, this needs 0.09;"
    )
    smsq.send(sms("hi", to="+12125550104"))  # one part to the US at 0.01: 0.19


def test_a_duplicate_is_not_charged_again(store: MessageStore, redis_client: redis.Redis) -> None:
    smsq = smsq_with(store, caps=CapSettings(daily_segments=2))
    first = smsq.send(sms(), idempotency_key="once")
    assert smsq.send(sms(), idempotency_key="once").message_id == first.message_id


def test_no_sms_part_no_charge(store: MessageStore) -> None:
    smsq = smsq_with(store, caps=CapSettings(daily_segments=0))
    smsq.send({"to": "+37251234567", "messages": [{"channel": "viber", "text": "hi"}]})


def test_a_warning_at_80_percent(store: MessageStore, caplog: pytest.LogCaptureFixture) -> None:
    seen: list[tuple[str, dict[str, str]]] = []
    events.add_hook(lambda name, labels: seen.append((name, labels)))
    try:
        smsq = smsq_with(store, caps=CapSettings(daily_segments=10))
        with caplog.at_level(logging.WARNING, logger="smsq.producers.cost.caps"):
            for _ in range(3):
                smsq.send(sms())  # 2, 4, 6: below 8
            assert not caplog.records
            smsq.send(sms())  # 8 of 10: crosses 80 % once
            smsq.send(sms())  # 10 of 10: no second warning
    finally:
        events._hooks.clear()
    assert [record.getMessage()[:64] for record in caplog.records] == [
        "the global daily SMS-parts cap: 8 SMS parts of 10 SMS parts used"
    ]
    assert seen == [
        ("cap_warning", {"limit": "the global daily SMS-parts cap", "cap": "global_daily_segments"})
    ]


def test_two_producers_racing_at_the_boundary_never_overshoot(redis_server: Any, clock: FakeClock) -> None:
    """Two producers, each with its own connection, send one-part messages as fast as they can at a
    cap of 101 parts: exactly 101 are accepted, and the counter stops at the limit."""
    cap = CapSettings(daily_segments=101)
    producers = []
    for _ in range(2):
        client = redis.Redis.from_url(redis_server.url, decode_responses=True)
        producers.append(
            smsq_with(MessageStore(client, prefix="t", clock=clock, retention_seconds=3600), caps=cap)
        )
    producers[0].store.redis.flushdb()
    start = threading.Barrier(2)
    accepted = [0, 0]
    refusals = [0, 0]

    def run(index: int) -> None:
        start.wait()
        for _ in range(80):
            try:
                producers[index].send(sms("one part"))
                accepted[index] += 1
            except CapExceeded:
                refusals[index] += 1

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    client = producers[0].store.redis
    assert sum(accepted) == 101 and sum(refusals) == 59
    assert min(accepted) > 0  # both got some: they really raced
    assert messages(client) == 101
    (counter,) = client.keys("t:caps:global:day:segments:*")
    assert client.get(counter) == "101"


@pytest.fixture
def campaigns(store: MessageStore) -> Campaigns:
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    blacklist.add("+37251000099", source="api")
    return Campaigns(
        store, RecordingPublisher(), blacklist, cost=CostSettings(caps=CapSettings(daily_segments=10))
    )


def test_a_campaign_is_checked_whole_at_creation(campaigns: Campaigns, store: MessageStore) -> None:
    client = store.redis
    recipients = [f"+372510000{n:02d}" for n in range(1, 7)]
    before = set(client.keys("*"))
    with pytest.raises(CapExceeded) as error:  # 6 x 2 parts = 12 > 10
        campaigns.create(name="big", template={"messages": [{"channel": "sms", "text": TWO_PARTS}]},
                         recipients=recipients)  # fmt: skip
    assert str(error.value).startswith(
        "the global daily SMS-parts cap of 10 SMS parts would be exceeded: 0 SMS"
    )
    assert set(client.keys("*")) == before  # nothing left stored, nothing charged
    # 5 to send (the blacklisted one is never sent, so never charged): 10 of 10.
    progress = campaigns.create(
        name="fits", template={"messages": [{"channel": "sms", "text": TWO_PARTS}]},
        recipients=[*recipients[:5], "+37251000099"],
    )  # fmt: skip
    assert progress.counts == {"queued": 5, "blocked": 1}
    smsq = Smsq(store, RecordingPublisher(), cost=campaigns.cost)
    with pytest.raises(CapExceeded):
        smsq.send(sms("hi"))


def test_send_many_refuses_each_message_over_the_cap_on_its_own(
    store: MessageStore, redis_client: redis.Redis
) -> None:
    smsq = smsq_with(store, caps=CapSettings(daily_segments=5))
    answers = smsq.send_many([sms(), sms(), sms(), sms("hi")])
    kinds = [type(answer).__name__ for answer in answers]
    assert kinds == ["Receipt", "Receipt", "CapExceeded", "Receipt"]  # 2 + 2 + (2 refused) + 1 = 5
    assert messages(redis_client) == 3


def test_a_campaign_from_phonebook_groups_is_charged_whole_when_its_contacts_arrive(
    campaigns: Campaigns, store: MessageStore
) -> None:
    """The contacts of a group campaign are fetched by a worker, which expands it there
    (``expand_into``): the same whole-campaign charge applies, and a refusal undoes it."""
    template = {"messages": [{"channel": "sms", "text": TWO_PARTS}]}
    big = campaigns.create(name="groups", template=template, group_ids=["g1"])
    contacts = [{"to": f"+372510000{n:02d}"} for n in range(1, 7)]  # 6 x 2 parts > 10
    with pytest.raises(CapExceeded):
        campaigns.expand_into(big.id, contacts)
    assert store.redis.exists(f"t:campaign:{big.id}") == 0  # undone, nothing charged
    fits = campaigns.create(name="groups 2", template=template, group_ids=["g2"])
    assert campaigns.expand_into(fits.id, contacts[:5]).counts == {"queued": 5}
    with pytest.raises(CapExceeded):
        Smsq(store, RecordingPublisher(), cost=campaigns.cost).send(sms("hi"))  # 10 of 10 used
