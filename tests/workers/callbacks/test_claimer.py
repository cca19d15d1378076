"""The claimer: a cap on requests in flight per URL across workers (a slow receiver never takes
another key's turn), one task per URL's batch, back-pressure on the callbacks queue."""

from __future__ import annotations

from smsq.config import contract as names
from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.targets import url_id
from smsq.producers.core.store import MessageStore
from smsq.workers.callbacks.claimer import release_callbacks
from smsq.workers.callbacks.delivery import deliver
from smsq.workers.callbacks.queue import CallbackQueue, Finished
from smsq.workers.callbacks.receiver import Receiver, running_receiver
from tests.support.fakes import FakeClock, RecordingPublisher
from tests.workers.callbacks.conftest import SECRET, api_key, make_deliverer, message

SLOW, FAST = "https://slow.example/h", "https://fast.example/h"


def ids(n: int, start: int = 1) -> list[str]:
    return [f"00000000-0000-4000-8000-{i:012d}" for i in range(start, start + n)]


def events_for(store: MessageStore, key: str, message_ids: list[str]) -> None:
    for message_id in message_ids:
        message(store, key, message_id)
        store.transition(message_id, "delivered")


def test_a_url_gets_at_most_its_cap_in_flight_and_others_go_on(store: MessageStore, clock: FakeClock) -> None:
    settings = CallbackSettings(per_url_concurrency=2, busy_delay=0.5)
    queue = CallbackQueue(store.redis, store.keys, settings)
    events_for(store, api_key(store, SLOW, "slow"), ids(5))
    events_for(store, api_key(store, FAST, "fast"), ids(3, start=100))
    now = store.now_ms()
    claimed = queue.claim(now, 100)
    by_url = {u: sum(1 for c in claimed if c.url_id == url_id(u)) for u in (SLOW, FAST)}
    assert by_url == {SLOW: 2, FAST: 2}
    # The rest of each waits its busy delay, then still finds its URL full until a slot frees.
    assert queue.claim(now, 100) == []
    assert queue.claim(now + 500, 100) == []
    slow = [c for c in claimed if c.url_id == url_id(SLOW)]
    queue.finish([Finished(slow[0].event_id, slow[0].claim, slow[0].url_id, "delivered", "204")], now + 500)
    again = queue.claim(now + 1000, 100)  # due again one busy delay after the last look
    assert [c.url_id for c in again] == [url_id(SLOW)]


def test_the_claimer_publishes_one_task_per_urls_batch_and_holds_back_when_the_queue_is_full(
    store: MessageStore,
) -> None:
    settings = CallbackSettings(batch_size=2, max_queued_tasks=10)
    queue = CallbackQueue(store.redis, store.keys, settings)
    events_for(store, api_key(store, SLOW, "slow"), ids(3))
    events_for(store, api_key(store, FAST, "fast"), ids(1, start=100))
    publisher = RecordingPublisher()
    assert release_callbacks(queue, publisher, settings, now_ms=store.now_ms(), queued_tasks=lambda: 10) == 0
    assert release_callbacks(queue, publisher, settings, now_ms=store.now_ms(), queued_tasks=lambda: 0) == 4
    sizes = sorted(len(kwargs["events"]) for _, kwargs, _ in publisher.published)
    assert sizes == [1, 1, 2]
    assert {task for task, _, _ in publisher.published} == {names.CALLBACK_DELIVER_TASK}
    assert {queue_name for _, _, queue_name in publisher.published} == {names.CALLBACKS}
    for _, kwargs, _ in publisher.published:
        assert len({event["url_id"] for event in kwargs["events"]}) == 1
        names.CallbackDeliverPayload.model_validate(kwargs)


def test_a_slow_receiver_holds_only_its_cap(store: MessageStore, clock: FakeClock) -> None:
    # Real requests: a receiver answering after 0.3 s sees at most the cap at once.
    receiver = Receiver(SECRET, latency=0.3)
    settings = CallbackSettings(allow_http=True, allow_private=True, per_url_concurrency=3)
    deliverer = make_deliverer(store, settings, clock)
    try:
        with running_receiver(receiver) as url:
            events_for(store, api_key(store, f"{url}/slow", "slow"), ids(7))
            while receiver.received.count() < 7:
                claimed = deliverer.queue.claim(int(clock() * 1000), 100)
                assert len(claimed) <= 3
                deliver(deliverer, claimed)
                clock.advance(settings.busy_delay)
    finally:
        deliverer.client.close()
    assert receiver.received.max_in_flight["/slow"] == 3


def test_a_slow_receivers_batch_never_holds_up_another_keys(store: MessageStore, clock: FakeClock) -> None:
    # The task hands its batch to the process's loop and returns: a fast key's batch is delivered
    # while a slow receiver still holds every request of its own.
    from concurrent.futures import Future

    from smsq.workers.callbacks.delivery import start_delivery

    slow_receiver, fast_receiver = Receiver(SECRET, latency=8.0), Receiver(SECRET)
    settings = CallbackSettings(allow_http=True, allow_private=True, timeout=20)
    deliverer = make_deliverer(store, settings, clock)
    try:
        with running_receiver(slow_receiver) as slow_url, running_receiver(fast_receiver) as fast_url:
            events_for(store, api_key(store, f"{slow_url}/h", "slow"), ids(5))
            events_for(store, api_key(store, f"{fast_url}/h", "fast"), ids(5, start=100))
            claimed = deliverer.queue.claim(int(clock() * 1000), 100)
            slow = [c for c in claimed if c.url_id == url_id(f"{slow_url}/h")]
            fast = [c for c in claimed if c.url_id == url_id(f"{fast_url}/h")]
            slow_done: Future[list[Finished]] = Future()
            start_delivery(deliverer, slow, slow_done.set_result)  # returns at once
            assert deliver(deliverer, fast) and fast_receiver.received.count() == 5
            assert not slow_done.done() and slow_receiver.received.count() == 0
            assert [f.outcome for f in slow_done.result(timeout=30)] == ["delivered"] * 5
    finally:
        deliverer.client.close()


def full_slow_url(store: MessageStore) -> tuple[CallbackQueue, int]:
    """Seven events for a URL with a cap of 2 (busy delay 0.5 s), the first two claimed: the queue
    and when."""
    queue = CallbackQueue(store.redis, store.keys, CallbackSettings(per_url_concurrency=2, busy_delay=0.5))
    events_for(store, api_key(store, SLOW, "slow"), ids(7))
    now = store.now_ms()
    assert len(queue.claim(now, 100)) == 2
    return queue, now


def put_off_ms(queue: CallbackQueue, now: int) -> list[int]:
    """When the unclaimed events are due, from ``now`` (the claimed ones' lease is further out)."""
    due = queue.redis.zrange(queue.keys.due, 0, -1, withscores=True)
    return sorted(int(score) - now for _, score in due if score < now + 10_000)


def test_a_full_urls_backlog_is_put_off_in_slices_of_its_cap(store: MessageStore) -> None:
    queue, now = full_slow_url(store)
    assert put_off_ms(queue, now) == [500, 500, 1000, 1000, 1500]


def test_an_event_that_comes_due_while_its_url_is_still_full_goes_to_the_back_of_the_line(
    store: MessageStore,
) -> None:
    """Put off once to its place: not a slice ahead, where every pass would read it again."""
    queue, now = full_slow_url(store)
    assert queue.claim(now + 500, 100) == []  # the first slice came due; the URL is still full
    assert put_off_ms(queue, now) == [1000, 1000, 1500, 1500, 2000]
