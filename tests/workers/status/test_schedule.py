"""Poll offsets, the give-up time, and the claim-lease behaviour of the poll schedule."""

from __future__ import annotations

import pytest

from smsq.producers.core.store import MessageStore
from smsq.workers.status.schedule import PollSchedule, first_poll_ms, gave_up, next_poll_ms, poll_base_ms
from tests.support.fakes import FakeClock
from tests.workers.status.helpers import polling, sent_message

S = 1000  # ms
MIN = 60 * S
BASE = 1_800_000_000_000


@pytest.mark.parametrize(
    ("elapsed_ms", "next_offset_ms"),
    [
        (0, 30 * S),
        (29 * S, 30 * S),
        (30 * S, 90 * S),  # polled on time: the next is 1 min later
        (45 * S, 90 * S),  # polled late: the later offsets do not move
        (90 * S, 210 * S),
        (210 * S, 510 * S),
        (510 * S, 1110 * S),
        (1110 * S, 2910 * S),
        (2910 * S, 2910 * S + 60 * MIN),  # then hourly
        (2910 * S + 60 * MIN, 2910 * S + 120 * MIN),
        (2910 * S + 61 * MIN, 2910 * S + 120 * MIN),
        (71 * 60 * MIN, 258_510 * S),
        (258_510 * S, 72 * 60 * MIN),  # never past the give-up time
        (72 * 60 * MIN, 72 * 60 * MIN),
    ],
)
def test_the_default_offsets(elapsed_ms: int, next_offset_ms: int) -> None:
    assert next_poll_ms(BASE, BASE + elapsed_ms, polling()) - BASE == next_offset_ms


def test_offsets_come_from_settings() -> None:
    settings = polling(intervals=[1, 2], then_every=10, give_up_after=100)
    offsets, now = [], BASE
    while not gave_up(BASE, now, settings):
        now = next_poll_ms(BASE, now, settings)
        offsets.append((now - BASE) // S)
    assert offsets == [1, 3, 13, 23, 33, 43, 53, 63, 73, 83, 93, 100]


def test_the_first_poll_and_the_deadline_only_entry() -> None:
    assert first_poll_ms(BASE, polling(), pollable=True) == BASE + 30 * S
    assert first_poll_ms(BASE, polling(), pollable=False) == BASE + 72 * 60 * MIN


def test_the_base_is_the_send_or_the_time_the_provider_held_it_until() -> None:
    assert poll_base_ms({"sent_ms": "100"}) == 100
    assert poll_base_ms({"sent_ms": "100", "scheduled_for_ms": "900"}) == 100
    assert poll_base_ms({"sent_ms": "100", "scheduled_for_ms": "900", "provider_scheduled": "1"}) == 900


def test_a_claimed_entry_comes_due_again_after_the_lease(store: MessageStore, clock: FakeClock) -> None:
    schedule = PollSchedule(store, polling(claim_lease_seconds=60))
    message_id = sent_message(store, poll_at_ms=store.now_ms())
    assert schedule.claim(10) == [message_id]
    assert schedule.claim(10) == []  # claimed: not handed out twice
    clock.advance(59)
    assert schedule.claim(10) == []
    clock.advance(1)
    assert schedule.claim(10) == [message_id]  # the task that had it was lost: due again


def test_claims_come_in_batches_oldest_first(store: MessageStore, clock: FakeClock) -> None:
    schedule = PollSchedule(store, polling())
    ids = [sent_message(store, poll_at_ms=store.now_ms() - n) for n in range(5)]
    assert schedule.claim(2) == [ids[4], ids[3]]
    assert schedule.claim(10) == [ids[2], ids[1], ids[0]]


def test_reschedule_does_not_bring_back_a_settled_message(store: MessageStore) -> None:
    schedule = PollSchedule(store, polling())
    message_id = sent_message(store, poll_at_ms=store.now_ms())
    schedule.claim(10)
    store.transition(message_id, "delivered")  # a report settled it while the poll ran
    schedule.reschedule([message_id], store.now_ms() + 1000)
    assert schedule.size() == 0


def test_recheck_never_delays_an_earlier_entry(store: MessageStore) -> None:
    schedule = PollSchedule(store, polling())
    message_id = sent_message(store, poll_at_ms=store.now_ms() + 5000)
    schedule.recheck(message_id, store.now_ms() + 9000)
    assert store.redis.zscore(store.keys.polls, message_id) == store.now_ms() + 5000
    schedule.recheck(message_id, store.now_ms() + 1000)
    assert store.redis.zscore(store.keys.polls, message_id) == store.now_ms() + 1000


def test_a_give_up_sooner_than_the_offsets_caps_them() -> None:
    settings = polling(intervals=[30, 60], give_up_after=40)
    assert next_poll_ms(BASE, BASE + 30 * S, settings) == BASE + 40 * S
    assert gave_up(BASE, BASE + 40 * S, settings)
