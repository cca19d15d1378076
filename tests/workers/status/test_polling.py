"""Poll tasks with the provider faked at the Protocol seam: the 72 h give-up on an injected clock, the
rate limiter's status tier, 429s and failures, and entries that no longer need polling."""

from __future__ import annotations

import threading
import time

from smsq.producers.core.results import MessageResult
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.base import ChannelStatus
from smsq.workers.providers.errors import RateLimited, TransientError
from smsq.workers.status.polling import Poller, PollReport, poll_messages
from smsq.workers.status.schedule import PollSchedule
from tests.support.fakes import FakeClock, FakeLimiter
from tests.workers.status.helpers import ScriptedStatus, channel, polling, sent_message

HOUR = 3600.0


def status_of(store: MessageStore, message_id: str) -> MessageResult:
    record = store.get(message_id)
    assert record is not None
    return MessageResult.from_record(record)


def run_due(store: MessageStore, poller: Poller) -> PollReport:
    return poll_messages(PollSchedule(store, poller.polling).claim(1000), poller)


def test_no_final_status_for_72_hours_means_unknown(store: MessageStore, clock: FakeClock) -> None:
    always_ack = ScriptedStatus(lambda _: (channel("sms", "ACK"),))
    poller = Poller(store=store, providers={"messente": always_ack}, polling=polling())
    message_id = sent_message(store, poll_at_ms=store.now_ms() + 30_000)
    polls_at: list[float] = []
    start = clock.now
    while status_of(store, message_id).status == "sent":
        due = store.redis.zscore(store.keys.polls, message_id)
        assert due is not None
        clock.now = due / 1000
        asked = len(always_ack.asked)
        run_due(store, poller)
        if len(always_ack.asked) > asked:
            polls_at.append(clock.now - start)
    offsets = [30, 90, 210, 510, 1110, 2910]
    assert polls_at[: len(offsets)] == offsets
    assert polls_at[len(offsets)] == 2910 + HOUR and polls_at[-1] == 72 * HOUR
    assert len(polls_at) == len(offsets) + 71 + 1  # hourly from 48.5 min to 71 h 48.5 min, then the give-up
    final = status_of(store, message_id)
    assert final.status == "unknown" and final.final_at is not None
    assert final.last_error is not None and final.last_error.code == "no-final-status"
    assert PollSchedule(store, polling()).size() == 0


def test_giving_up_on_a_chain_the_provider_stopped_keeps_the_last_channels_outcome(
    store: MessageStore, clock: FakeClock
) -> None:
    sms_failed = ScriptedStatus(lambda _: (channel("sms", "UNDELIV", 1, "Delivery failure"),))
    poller = Poller(store=store, providers={"messente": sms_failed}, polling=polling(give_up_after=HOUR))
    message_id = sent_message(store, channels="sms,viber", poll_at_ms=store.now_ms())
    run_due(store, poller)
    assert status_of(store, message_id).status == "sent"  # viber may still come
    clock.advance(HOUR)
    store.redis.zadd(store.keys.polls, {message_id: store.now_ms()})
    run_due(store, poller)
    assert status_of(store, message_id).status == "undeliverable"


def test_a_provider_that_is_not_polled_only_gets_the_give_up_check(
    store: MessageStore, clock: FakeClock
) -> None:
    never = ScriptedStatus(lambda _: AssertionError("must not be polled"))
    poller = Poller(store=store, providers={"direct_messenger": never}, polling=polling())
    message_id = sent_message(
        store, provider="direct_messenger", poll_at_ms=store.now_ms() + int(72 * HOUR * 1000)
    )
    clock.advance(71 * HOUR)
    assert run_due(store, poller).polled == 0 and status_of(store, message_id).status == "sent"
    clock.advance(HOUR)
    run_due(store, poller)
    assert never.asked == [] and status_of(store, message_id).status == "unknown"


def test_polls_take_the_status_tier_and_defer_the_batch_when_told_to_wait(
    store: MessageStore, clock: FakeClock
) -> None:
    provider = ScriptedStatus(lambda _: (channel("sms", "DELIVRD"),))
    limiter = FakeLimiter(waits=[0.0, 5.0])
    slept: list[float] = []
    poller = Poller(store=store, providers={"messente": provider}, polling=polling(concurrency=1),
                    limiter=limiter, max_inline_wait=0.5, sleep=slept.append)  # fmt: skip
    ids = [sent_message(store, poll_at_ms=store.now_ms() - 10 + n) for n in range(3)]
    report = run_due(store, poller)
    assert (report.polled, report.deferred) == (1, 2) and slept == []
    assert limiter.asked == [("messente", "status"), ("messente", "status")]
    assert [status_of(store, i).status for i in ids] == ["delivered", "sent", "sent"]
    assert [store.redis.zscore(store.keys.polls, i) for i in ids[1:]] == [store.now_ms() + 5000] * 2
    clock.advance(5)
    assert run_due(store, poller).polled == 2


def test_a_short_wait_for_a_token_is_slept(store: MessageStore) -> None:
    provider = ScriptedStatus(lambda _: (channel("sms", "DELIVRD"),))
    slept: list[float] = []
    poller = Poller(store=store, providers={"messente": provider}, polling=polling(),
                    limiter=FakeLimiter(waits=[0.2]), sleep=slept.append)  # fmt: skip
    message_id = sent_message(store, poll_at_ms=store.now_ms())
    assert run_due(store, poller).polled == 1 and slept == [0.2]
    assert status_of(store, message_id).status == "delivered"


def test_a_429_pauses_the_limiter_and_defers_the_rest(store: MessageStore) -> None:
    provider = ScriptedStatus(
        lambda _: RateLimited("messente", "slow down", retry_after=2.0, status_code=429)
    )
    limiter = FakeLimiter()
    poller = Poller(
        store=store, providers={"messente": provider}, polling=polling(concurrency=1), limiter=limiter
    )
    ids = [sent_message(store, poll_at_ms=store.now_ms() - n) for n in range(2)]
    report = run_due(store, poller)
    assert (report.polled, report.deferred) == (0, 2) and len(provider.asked) == 1
    assert limiter.paused == [("messente", 2.0)]
    assert {store.redis.zscore(store.keys.polls, i) for i in ids} == {store.now_ms() + 2000}


def test_a_failed_poll_is_retried_on_the_next_offset(store: MessageStore) -> None:
    provider = ScriptedStatus(lambda _: TransientError("messente", "boom", status_code=503))
    poller = Poller(store=store, providers={"messente": provider}, polling=polling())
    message_id = sent_message(store, poll_at_ms=store.now_ms())
    report = run_due(store, poller)
    assert (report.errors, report.rescheduled) == (1, 1) and status_of(store, message_id).status == "sent"
    sent_at = status_of(store, message_id).sent_at
    assert sent_at is not None
    assert store.redis.zscore(store.keys.polls, message_id) == int(sent_at.timestamp() * 1000) + 30_000


def test_entries_of_settled_or_expired_messages_are_dropped_without_a_call(store: MessageStore) -> None:
    provider = ScriptedStatus(lambda _: AssertionError("must not be polled"))
    poller = Poller(store=store, providers={"messente": provider}, polling=polling())
    settled = sent_message(store)
    store.transition(settled, "delivered")
    schedule = PollSchedule(store, polling())
    store.redis.zadd(
        store.keys.polls, {settled: store.now_ms(), "00000000-0000-4000-8000-00000000dead": store.now_ms()}
    )
    report = run_due(store, poller)
    assert report.dropped == 2 and provider.asked == [] and schedule.size() == 0


def test_a_task_keeps_several_status_calls_in_flight(store: MessageStore) -> None:
    in_flight, peak, lock = 0, 0, threading.Lock()

    def slow(_: str) -> tuple[ChannelStatus, ...]:
        nonlocal in_flight, peak
        with lock:
            in_flight += 1
            peak = max(peak, in_flight)
        time.sleep(0.05)
        with lock:
            in_flight -= 1
        return (channel("sms", "DELIVRD"),)

    poller = Poller(store=store, providers={"messente": ScriptedStatus(slow)}, polling=polling(concurrency=4))
    ids = [sent_message(store, poll_at_ms=store.now_ms()) for _ in range(12)]
    report = run_due(store, poller)
    assert report.settled == {"delivered": 12} and peak == 4
    assert {status_of(store, i).status for i in ids} == {"delivered"}
