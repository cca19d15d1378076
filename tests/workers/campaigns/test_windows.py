"""Campaign messages held to their recipients' send windows at send time, on an injected clock:
time zones, a DST change, a public holiday; a deferred message released at its opening; pause and
cancel of deferred messages; and the decisions kept per country and zones, not made per recipient."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from smsq.config.cost_settings import CostSettings, WindowSettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.records import MESSAGE_CLASS, SCHEDULED_FOR_MS, WINDOW_DEFERRED
from smsq.producers.core.store import MessageStore
from smsq.producers.windows import cache as window_cache
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.campaigns.tasks import sweep_cancelled
from smsq.workers.sending.batch import BatchOutcome, send_chunk
from smsq.workers.sending.windows import SendWindows
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.workers.campaigns.test_sending import FakeMessente, sender_for

NEW_YORK, LOS_ANGELES, PARIS = "+12125550104", "+13105550123", "+33612345678"
TEMPLATE = {"messages": [{"channel": "sms", "text": "Sale!", "sender": "Shop"}]}


def at(clock: FakeClock, *when: int) -> None:
    clock.now = datetime(*when, tzinfo=UTC).timestamp()  # type: ignore[misc]


def ms(*when: int) -> int:
    return int(datetime(*when, tzinfo=UTC).timestamp() * 1000)  # type: ignore[misc]


def windows() -> SendWindows:
    found = SendWindows.from_settings(CostSettings())
    assert found is not None
    return found


def create(store: MessageStore, numbers: list[str], **options: Any) -> tuple[Campaigns, str]:
    campaigns = Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))
    return campaigns, campaigns.create(name="sale", template=TEMPLATE, recipients=numbers, **options).id


def sent_to(fake: FakeMessente) -> list[str]:
    found = []
    for request in fake.requests:
        body = json.loads(request.content)
        bulk = request.url.path.endswith("/omnimessages")
        found += [entry["to"] for entry in body["messages"]] if bulk else [body["to"]]
    return sorted(found)


def record(store: MessageStore, campaign_id: str, position: int) -> dict[str, str]:
    found = store.get(message_id(campaign_id, position))
    assert found is not None
    return found


def release(store: MessageStore, fake: FakeMessente, options: BatchOptions) -> BatchOutcome:
    """What beat and a worker do with what is due: claim it from the schedule, send it (SEND_MANY)."""
    due = [entry.message_id for entry in store.claim_due(100, 30_000)]
    outcome = BatchOutcome()
    if due:
        send_chunk(due, sender_for(store, fake), options, None, outcome)
    return outcome


def test_each_recipient_waits_for_the_window_of_their_own_time_zone(
    store: MessageStore, clock: FakeClock
) -> None:
    at(clock, 2026, 12, 8, 14, 30)  # Tuesday: 09:30 in New York, 06:30 in Los Angeles, 15:30 in Paris
    _, cid = create(store, [NEW_YORK, LOS_ANGELES, PARIS])
    fake, options = FakeMessente(), BatchOptions(windows=windows())
    outcome = send_batch(cid, 1, 3, sender_for(store, fake), options, None)
    assert outcome.statuses == {"sent": 2, "deferred": 1}
    assert sent_to(fake) == [NEW_YORK, PARIS]
    waiting = record(store, cid, 2)
    opening = ms(2026, 12, 8, 16, 0)  # 08:00 in Los Angeles
    assert (waiting["status"], waiting[SCHEDULED_FOR_MS], waiting[WINDOW_DEFERRED]) == (
        "queued",
        str(opening),
        "1",
    )
    assert waiting.get("attempts", "0") == "0"  # nothing was tried
    assert store.redis.zscore(store.keys.schedule, message_id(cid, 2)) == opening

    at(clock, 2026, 12, 8, 15, 59, 59)
    assert release(store, fake, options).statuses == {}  # not due yet
    at(clock, 2026, 12, 8, 16, 0)
    assert release(store, fake, options).statuses == {"sent": 1}
    assert sent_to(fake) == [NEW_YORK, LOS_ANGELES, PARIS]
    assert record(store, cid, 2)["status"] == "sent"


@pytest.mark.parametrize(
    ("number", "now", "opening"),
    [
        # Saturday 21:30 in New York (EST); the clocks go forward that night: Sunday 08:00 is EDT.
        (NEW_YORK, (2026, 3, 8, 2, 30), (2026, 3, 8, 12, 0)),
        # Saturday 20:30 in Paris (CET); no Sunday; Monday 08:00 is CEST, after the change.
        (PARIS, (2026, 3, 28, 19, 30), (2026, 3, 30, 6, 0)),
    ],
    ids=["us-spring-forward", "fr-summer-time"],
)
def test_the_opening_after_a_dst_change_is_in_the_new_offset(
    store: MessageStore, clock: FakeClock, number: str, now: tuple[int, ...], opening: tuple[int, ...]
) -> None:
    at(clock, *now)
    _, cid = create(store, [number])
    fake = FakeMessente()
    outcome = send_batch(cid, 1, 1, sender_for(store, fake), BatchOptions(windows=windows()), None)
    assert outcome.statuses == {"deferred": 1} and fake.requests == []
    assert record(store, cid, 1)[SCHEDULED_FOR_MS] == str(ms(*opening))


def test_a_public_holiday_waits_where_the_rule_says_so(store: MessageStore, clock: FakeClock) -> None:
    at(clock, 2026, 7, 14, 10, 0)  # Bastille Day, a Tuesday; 06:00 in New York
    _, cid = create(store, [PARIS, "+12125550199"])
    at(clock, 2026, 7, 14, 13, 0)  # 09:00 in New York: the US rule allows public holidays
    fake = FakeMessente()
    outcome = send_batch(cid, 1, 2, sender_for(store, fake), BatchOptions(windows=windows()), None)
    assert outcome.statuses == {"deferred": 1, "sent": 1}
    assert sent_to(fake) == ["+12125550199"]
    assert record(store, cid, 1)[SCHEDULED_FOR_MS] == str(ms(2026, 7, 15, 6, 0))  # Wednesday 08:00


def test_a_transactional_campaign_or_windows_turned_off_send_at_night(
    store: MessageStore, clock: FakeClock
) -> None:
    at(clock, 2026, 12, 8, 2, 0)  # 03:00 in Paris
    _, transactional = create(store, [PARIS], message_class="transactional")
    _, marketing = create(store, [PARIS])
    fake = FakeMessente()
    sender = sender_for(store, fake)
    assert send_batch(transactional, 1, 1, sender, BatchOptions(windows=windows()), None).statuses == {
        "sent": 1
    }
    assert SendWindows.from_settings(CostSettings(windows=WindowSettings(enabled=False))) is None
    assert SendWindows.from_settings(CostSettings(enabled=False)) is None
    assert send_batch(marketing, 1, 1, sender, BatchOptions(windows=None), None).statuses == {"sent": 1}


def test_a_marketing_single_whose_window_shut_before_its_retry_waits_again(
    store: MessageStore, clock: FakeClock
) -> None:
    from smsq.producers.client import Smsq

    at(clock, 2026, 12, 8, 18, 59)  # 19:59 in Paris: open
    receipt = Smsq(store, RecordingPublisher()).send(
        {"to": PARIS, "messages": [{"channel": "sms", "text": "Sale!"}]}, message_class="marketing"
    )
    at(clock, 2026, 12, 8, 19, 0, 5)  # its send (a retry, say) comes after 20:00
    outcome = BatchOutcome()
    send_chunk(
        [receipt.message_id],
        sender_for(store, FakeMessente()),
        BatchOptions(windows=windows()),
        None,
        outcome,
    )
    assert outcome.statuses == {"deferred": 1}
    found = store.get(receipt.message_id) or {}
    assert (found["status"], found[SCHEDULED_FOR_MS], found[MESSAGE_CLASS]) == (
        "queued", str(ms(2026, 12, 9, 7, 0)), "marketing"
    )  # fmt: skip


def test_a_deferred_message_of_a_paused_campaign_waits_for_resume(
    store: MessageStore, clock: FakeClock
) -> None:
    at(clock, 2026, 12, 8, 14, 30)
    campaigns, cid = create(store, [NEW_YORK, LOS_ANGELES])
    fake, options = FakeMessente(), BatchOptions(windows=windows())
    send_batch(cid, 1, 2, sender_for(store, fake), options, None)
    campaigns.pause(cid)
    at(clock, 2026, 12, 8, 16, 0)  # Los Angeles opens while the campaign is paused
    assert release(store, fake, options).statuses == {"held": 1}
    assert sent_to(fake) == [NEW_YORK]
    mid = message_id(cid, 2)
    assert record(store, cid, 2)["status"] == "queued"
    assert store.redis.lrange(f"t:campaign:{cid}:held_ids", 0, -1) == [mid]
    assert store.redis.zscore(store.keys.schedule, mid) is None

    campaigns.resume(cid)
    assert store.redis.zscore(store.keys.schedule, mid) == store.now_ms()
    assert release(store, fake, options).statuses == {"sent": 1}
    assert sent_to(fake) == [NEW_YORK, LOS_ANGELES]


def test_a_worker_lost_while_holding_a_paused_message_leaves_it_under_its_lease(
    store: MessageStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worker dies (here: Redis refuses the push) while putting a message aside for resume: it is
    still `sending` under its lease, which recovery hands back, never `queued` with no schedule
    entry and in no list, which nothing would ever pick up."""
    at(clock, 2026, 12, 8, 14, 30)
    campaigns, cid = create(store, [NEW_YORK, LOS_ANGELES])
    fake, options = FakeMessente(), BatchOptions(windows=windows())
    send_batch(cid, 1, 2, sender_for(store, fake), options, None)
    campaigns.pause(cid)
    at(clock, 2026, 12, 8, 16, 0)

    def died(*_: object) -> None:
        raise ConnectionError("the worker is gone")

    monkeypatch.setattr(store.redis, "rpush", died)
    with pytest.raises(ConnectionError):
        release(store, fake, options)
    mid = message_id(cid, 2)
    assert record(store, cid, 2)["status"] == "sending"
    assert store.redis.zscore(store.keys.leases, mid) is not None
    assert sent_to(fake) == [NEW_YORK]


def test_cancel_sweeps_deferred_messages_and_nothing_goes_at_the_opening(
    store: MessageStore, clock: FakeClock
) -> None:
    at(clock, 2026, 12, 8, 14, 30)
    campaigns, cid = create(store, [NEW_YORK, LOS_ANGELES, "+17025550100"])
    fake, options = FakeMessente(), BatchOptions(windows=windows())
    assert send_batch(cid, 1, 3, sender_for(store, fake), options, None).statuses == {
        "sent": 1,
        "deferred": 2,
    }
    campaigns.cancel(cid)
    context = type("Context", (), {"store": store, "redis": store.redis})()
    assert sweep_cancelled(context, cid) == 2  # type: ignore[arg-type]
    at(clock, 2026, 12, 8, 16, 0)
    assert release(store, fake, options).statuses == {}
    assert sent_to(fake) == [NEW_YORK]
    assert campaigns.progress(cid).counts == {"sent": 1, "cancelled": 2}


def test_a_deferred_message_back_before_the_sweep_reached_it_is_cancelled(
    store: MessageStore, clock: FakeClock
) -> None:
    at(clock, 2026, 12, 8, 14, 30)
    campaigns, cid = create(store, [LOS_ANGELES, "+17025550100"])
    fake, options = FakeMessente(), BatchOptions(windows=windows())
    send_batch(cid, 1, 2, sender_for(store, fake), options, None)
    campaigns.cancel(cid)  # its sweep task is published, not yet run
    at(clock, 2026, 12, 8, 16, 0)
    assert release(store, fake, options).statuses == {"cancelled": 2}
    assert fake.requests == []
    assert campaigns.progress(cid).counts == {"cancelled": 2}


def test_a_chunk_of_100_costs_one_decision_per_country_and_zones(
    store: MessageStore, clock: FakeClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    at(clock, 2026, 12, 8, 3, 0)  # 22:00 in New York: shut
    numbers = [f"+121255501{n:02d}" for n in range(100)] + [f"+33612345{n:03d}" for n in range(100)]
    _, cid = create(store, numbers)
    calls = {"zones": 0, "spans": 0}
    real_zones, real_span = window_cache.zones_of_number, window_cache.WindowCache._span

    def zones(e164: str) -> tuple[str, ...]:
        calls["zones"] += 1
        return real_zones(e164)

    def span(self: window_cache.WindowCache, *args: Any) -> window_cache.Span:
        calls["spans"] += 1
        return real_span(self, *args)

    monkeypatch.setattr(window_cache, "zones_of_number", zones)
    monkeypatch.setattr(window_cache.WindowCache, "_span", span)
    outcome = send_batch(
        cid, 1, 200, sender_for(store, FakeMessente()), BatchOptions(windows=windows()), None
    )
    assert outcome.statuses == {"deferred": 200}
    assert calls == {"zones": 2, "spans": 2}  # one number range and one decision per country
