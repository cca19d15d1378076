"""Delivery to a real receiver on loopback that verifies every request with the standardwebhooks
library: signed events in sequence order, retries with backoff, 410, dead letters, replay, redirects,
timeouts, the answer read no further than its limit, and the URL checked again at connect time."""

from __future__ import annotations

import time

import httpx
import pytest
from standardwebhooks import Webhook

from smsq.cli.processes import wait_until
from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.targets import set_callback, url_id
from smsq.producers.core.keys import CallbackKeys
from smsq.producers.core.store import MessageStore
from smsq.workers.callbacks.delivery import (
    CallbackClient,
    Deliverer,
    deliver,
    start_delivery,
    stop_delivering,
)
from smsq.workers.callbacks.receiver import Receiver
from tests.support.fakes import FakeClock
from tests.workers.callbacks.conftest import ID, SECRET, api_key, make_deliverer, message, pump

Hook = tuple[Receiver, str]


def state(store: MessageStore, event_id: str) -> dict[str, str]:
    return store.redis.hgetall(CallbackKeys(store.keys).event(event_id))  # type: ignore[return-value]


def test_events_arrive_signed_and_in_sequence(store: MessageStore, deliverer: Deliverer, hook: Hook) -> None:
    receiver, url = hook
    message(store, api_key(store, f"{url}/app"), status="queued")
    store.transition(ID, "sending", fields={"lease_token": "t"})
    store.transition(ID, "sent", lease_token="t")
    store.transition(ID, "delivered")
    finished = pump(deliverer)
    assert [f.outcome for f in finished] == ["delivered", "delivered"]
    events = receiver.received.for_message(ID)
    assert [(e["type"], e["data"]["sequence"]) for e in events] == [
        ("message.sent", 1),
        ("message.delivered", 2),
    ]
    assert receiver.received.refused == 0
    delivered = state(store, f"{ID}:1")
    assert (delivered["state"], delivered["attempts"], delivered["last_result"]) == ("delivered", "1", "204")
    assert 0 < store.redis.ttl(CallbackKeys(store.keys).event(f"{ID}:1")) <= 3 * 86400  # type: ignore[operator]
    assert store.redis.zcard(CallbackKeys(store.keys).due) == 0


def test_the_signature_is_what_a_receiver_verifies(store: MessageStore, deliverer: Deliverer) -> None:
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        return httpx.Response(200)

    settings = deliverer.settings
    deliverer.client.close()
    deliverer.client = CallbackClient(settings, transport=httpx.MockTransport(answer))
    message(store, api_key(store, "https://app.example/h"))
    store.transition(ID, "delivered")
    pump(deliverer)
    (request,) = requests
    headers = dict(request.headers)
    assert headers["webhook-id"] == f"{ID}:1"
    assert abs(int(headers["webhook-timestamp"]) - time.time()) < 60
    payload = Webhook(SECRET).verify(request.content, headers)
    assert payload["data"]["status"] == "delivered"
    with pytest.raises(Exception, match="No matching signature"):
        Webhook(SECRET).verify(request.content.replace(b"delivered", b"failed"), headers)


def test_5xx_is_retried_with_backoff_until_it_is_taken(
    store: MessageStore, deliverer: Deliverer, hook: Hook, clock: FakeClock
) -> None:
    receiver, url = hook
    receiver.script("/app", [500, 503])
    message(store, api_key(store, f"{url}/app"))
    store.transition(ID, "delivered")
    delays = []
    for _ in range(2):
        (finished,) = pump(deliverer)
        assert finished.outcome == "retry"
        delays.append(finished.next_due_ms - int(clock() * 1000))
        assert pump(deliverer) == []  # not due before its backoff
        clock.advance(delays[-1] / 1000)
    assert 500 <= delays[0] <= 1000 and 1000 <= delays[1] <= 2000  # base 1 s doubling, jitter 0.5
    (finished,) = pump(deliverer)
    assert finished.outcome == "delivered"
    assert state(store, f"{ID}:1")["attempts"] == "3"
    assert receiver.received.count() == 1


def test_410_stops_calling_that_url(store: MessageStore, deliverer: Deliverer, hook: Hook) -> None:
    receiver, url = hook
    receiver.script("/gone", [410])
    key = api_key(store, f"{url}/gone")
    message(store, key)
    store.transition(ID, "delivered")
    (finished,) = pump(deliverer)
    assert (finished.outcome, finished.result) == ("dead", "410: scripted answer")
    other = message(store, key, "00000000-0000-4000-8000-000000000002")
    store.transition(other, "failed")
    (finished,) = pump(deliverer)
    assert finished.outcome == "dead" and "answered 410 Gone earlier" in finished.result
    assert receiver.received.requests == 1  # the second was never sent
    dead = store.redis.zrange(CallbackKeys(store.keys).dead, 0, -1)
    assert sorted(dead) == sorted([f"{ID}:1", f"{other}:1"])  # type: ignore[type-var]
    # Setting the URL again calls it again.
    set_callback(store.redis, store.keys, key, f"{url}/gone", deliverer.settings)
    assert not deliverer.queue.is_gone(f"{url}/gone")


@pytest.mark.parametrize("status", [400, 401, 404, 422, 302, 301])
def test_other_4xx_and_redirects_are_tried_a_few_times_then_dead_lettered(
    store: MessageStore, deliverer: Deliverer, hook: Hook, clock: FakeClock, status: int
) -> None:
    receiver, url = hook
    receiver.script("/app", [status] * 5)
    message(store, api_key(store, f"{url}/app"))
    store.transition(ID, "delivered")
    outcomes = []
    for _ in range(3):
        (finished,) = pump(deliverer)
        outcomes.append(finished.outcome)
        clock.advance(10)
    assert outcomes == ["retry", "retry", "dead"]
    assert state(store, f"{ID}:1")["last_result"] == f"{status}: scripted answer (after 3 attempts)"
    assert store.redis.zscore(CallbackKeys(store.keys).dead, f"{ID}:1") is not None
    assert receiver.received.requests == 3  # a redirect was never followed


def test_a_timeout_is_retried(store: MessageStore, hook: Hook, clock: FakeClock) -> None:
    receiver, url = hook
    receiver.latency = 1.0
    deliverer = make_deliverer(
        store, CallbackSettings(allow_http=True, allow_private=True, timeout=0.2), clock
    )
    try:
        message(store, api_key(store, f"{url}/slow"))
        store.transition(ID, "delivered")
        (finished,) = pump(deliverer)
    finally:
        deliverer.client.close()
    assert finished.outcome == "retry" and finished.result == "timeout (ReadTimeout)"


def test_the_answer_is_read_no_further_than_the_limit(store: MessageStore, deliverer: Deliverer) -> None:
    sent_chunks = []

    async def endless():  # type: ignore[no-untyped-def]
        for n in range(10_000):
            sent_chunks.append(n)
            yield b"x" * 1000

    def answer(request: httpx.Request) -> httpx.Response:
        return httpx.Response(503, content=endless())

    settings = deliverer.settings
    deliverer.client.close()
    deliverer.client = CallbackClient(settings, transport=httpx.MockTransport(answer))
    message(store, api_key(store, "https://app.example/h"))
    store.transition(ID, "delivered")
    (finished,) = pump(deliverer)
    assert finished.outcome == "retry" and finished.result == "503: " + "x" * 120
    assert len(sent_chunks) <= 3  # 1 KiB read of a 10 MB answer


def test_a_huge_answer_is_read_to_the_limit_only(
    store: MessageStore, deliverer: Deliverer, hook: Hook
) -> None:
    receiver, url = hook
    receiver.script("/big", [(503, b"y" * 20_000_000)])
    message(store, api_key(store, f"{url}/big"))
    store.transition(ID, "delivered")
    started = time.monotonic()
    (finished,) = pump(deliverer)
    assert finished.outcome == "retry" and finished.result == "503: " + "y" * 120
    assert time.monotonic() - started < 5  # 1 KiB of 20 MB read, the connection dropped


@pytest.mark.parametrize(
    ("host", "refusal"),
    [("localhost", "refused: its host 'localhost' resolves to 127.0.0.1, a loopback address"),
     ("127.0.0.1", "refused: 127.0.0.1, a loopback address")],
)  # fmt: skip
def test_the_address_is_checked_again_when_connecting(
    store: MessageStore, hook: Hook, clock: FakeClock, host: str, refusal: str
) -> None:
    receiver, url = hook
    # The URL was public when set; its host now resolves to loopback (DNS rebinding), or it was
    # stored without the check.
    strict = CallbackSettings(allow_http=True, allow_private=False, client_error_attempts=1)
    deliverer = make_deliverer(store, strict, clock)
    try:
        message(store, api_key(store, url.replace("127.0.0.1", host) + "/app"))
        store.transition(ID, "delivered")
        (finished,) = pump(deliverer)
    finally:
        deliverer.client.close()
    assert finished.outcome == "dead"
    assert refusal in finished.result
    assert receiver.received.requests == 0


def test_a_key_without_a_callback_url_dead_letters_its_events(
    store: MessageStore, deliverer: Deliverer, hook: Hook
) -> None:
    _, url = hook
    key = api_key(store, f"{url}/app")
    message(store, key)
    store.transition(ID, "delivered")
    store.redis.hdel(f"{store.keys.prefix}:apikey:{key}", "callback_url")
    (finished,) = pump(deliverer)
    assert (finished.outcome, finished.result) == ("dead", "the key is revoked or has no callback URL")


def test_a_replayed_event_comes_again_with_its_webhook_id(
    store: MessageStore, deliverer: Deliverer, hook: Hook, clock: FakeClock
) -> None:
    receiver, url = hook
    message(store, api_key(store, f"{url}/app"))
    store.transition(ID, "delivered")
    pump(deliverer)
    deliverer.events.replay_one(f"{ID}:1", int(clock() * 1000))
    (finished,) = pump(deliverer)
    assert finished.outcome == "delivered"
    assert (receiver.received.count(), receiver.received.repeats) == (1, 1)  # the receiver dropped it by id


def test_an_event_held_by_a_dead_worker_comes_back_after_its_lease(
    store: MessageStore, deliverer: Deliverer, hook: Hook, clock: FakeClock
) -> None:
    receiver, url = hook
    message(store, api_key(store, f"{url}/app"))
    store.transition(ID, "delivered")
    now = lambda: int(clock() * 1000)  # noqa: E731
    (lost,) = deliverer.queue.claim(now(), 10)  # its worker dies before delivering
    assert deliverer.queue.claim(now(), 10) == []
    clock.advance(deliverer.settings.claim_lease_seconds + 1)
    (again,) = deliverer.queue.claim(now(), 10)
    assert again.claim == lost.claim + 1
    assert deliver(deliverer, [lost]) == []  # the old task, back late: not its claim any more
    assert receiver.received.requests == 0
    (finished,) = deliver(deliverer, [again])
    assert finished.outcome == "delivered"


def test_retries_end_after_the_window(store: MessageStore, hook: Hook, clock: FakeClock) -> None:
    receiver, url = hook
    receiver.script("/app", [500] * 3)
    settings = CallbackSettings(
        allow_http=True, allow_private=True, base_delay=1, jitter=0, give_up_after=2.5
    )
    deliverer = make_deliverer(store, settings, clock)
    try:
        message(store, api_key(store, f"{url}/app"))
        store.transition(ID, "delivered")
        outcomes = []
        for _ in range(3):
            finished = pump(deliverer)
            outcomes += [(f.outcome, f.result) for f in finished]
            clock.advance(1.01 * 2 ** (len(outcomes) - 1))
    finally:
        deliverer.client.close()
    assert outcomes == [
        ("retry", "500: scripted answer"),
        ("dead", "500: scripted answer (gave up after 2.5 s)"),
    ]


def test_the_url_id_is_the_one_claim_lua_computes(
    store: MessageStore, deliverer: Deliverer, hook: Hook
) -> None:
    _, url = hook
    message(store, api_key(store, f"{url}/app"))
    store.transition(ID, "delivered")
    (claimed,) = deliverer.queue.claim(int(time.time() * 1000) + 10_000, 10)
    assert claimed.url_id == url_id(f"{url}/app")


def two_events(store: MessageStore, url: str) -> None:
    """message.sent and message.delivered for one message, due to ``url``."""
    message(store, api_key(store, url), status="queued")
    store.transition(ID, "sending", fields={"lease_token": "t"})
    store.transition(ID, "sent", lease_token="t")
    store.transition(ID, "delivered")


def test_a_stopping_worker_hands_back_what_its_receiver_has_not_answered(
    store: MessageStore, deliverer: Deliverer, hook: Hook, clock: FakeClock
) -> None:
    receiver, url = hook
    receiver.latency = 5.0  # longer than the stop waits
    two_events(store, f"{url}/stopping")
    claimed = deliverer.queue.claim(int(clock() * 1000), 10)
    assert len(claimed) == 2
    start_delivery(deliverer, claimed)
    wait_until(
        lambda: receiver.received.max_in_flight["/stopping"] >= 2, timeout=10, what="both requests out"
    )
    assert stop_delivering(deliverer, wait=0.2) == 2
    keys = CallbackKeys(store.keys)
    for event_id in (f"{ID}:1", f"{ID}:2"):
        event = state(store, event_id)
        assert (event["state"], event.get("attempts", "0")) == ("pending", "0")  # no attempt spent
        assert store.redis.zscore(keys.due, event_id) <= clock() * 1000  # type: ignore[operator]  # due at once
    assert store.redis.zcard(keys.busy(claimed[0].url_id)) == 0  # the URL's slots are free again
    receiver.latency = 0.0
    again = make_deliverer(store, deliverer.settings, clock)  # another worker
    try:
        assert sorted(f.outcome for f in pump(again)) == ["delivered", "delivered"]
    finally:
        again.client.close()
    assert state(store, f"{ID}:1")["attempts"] == "1"


def test_a_stopping_worker_records_the_answers_that_come_within_its_wait(
    store: MessageStore, deliverer: Deliverer, hook: Hook, clock: FakeClock
) -> None:
    receiver, url = hook
    receiver.latency = 0.5
    two_events(store, f"{url}/quick")
    start_delivery(deliverer, deliverer.queue.claim(int(clock() * 1000), 10))
    assert stop_delivering(deliverer, wait=10) == 0
    assert {state(store, f"{ID}:{n}")["state"] for n in (1, 2)} == {"delivered"}
    assert store.redis.zcard(CallbackKeys(store.keys).due) == 0
