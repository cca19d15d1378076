"""The event loop paces each request at its rate-limit slot, sends nothing late, and marks a record
only when its request is about to leave (a connection and its slot): faked at the HTTP seam."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
import time

import httpx

from smsq.config.settings import Timeouts
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.records import CALL_PROVIDER
from smsq.producers.core.store import MessageStore
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.limits.ratelimit import Limit, RateLimiter
from smsq.workers.sending.batch import BatchOutcome
from smsq.workers.sending.event_loop import CallMarks, tokens_for
from smsq.workers.sending.loop_http import NOT_OURS, AsyncHttp, Token
from smsq.workers.sending.single import Sender
from tests.workers.campaigns.test_sending import FakeMessente, campaign, sender_for, statuses

INTERVAL = 0.02  # 50/s


def paced_sender(store: MessageStore, fake: FakeMessente) -> Sender:
    # Five slots may be reserved at once: the old way sent all five in one clump.
    limiter = RateLimiter(
        store.redis, {"messente": Limit(1 / INTERVAL, burst=5, high_reserve=0.0)}, prefix="t"
    )
    return dataclasses.replace(sender_for(store, fake), limiter=limiter)


def send_five_paced(
    store: MessageStore, fake: FakeMessente, campaign_id: str, client: AsyncHttp
) -> BatchOutcome:
    """The campaign's five messages as one chunk of singles through ``client``, at 50/s."""
    return send_batch(
        campaign_id,
        1,
        5,
        paced_sender(store, fake),
        BatchOptions(chunk=5, use_bulk=False, async_http=client),
        None,
    )


def test_a_group_of_granted_tokens_leaves_one_interval_apart(store: MessageStore) -> None:
    fake = FakeMessente()
    arrivals: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        return fake(request)

    client = AsyncHttp(
        "https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(handler), late_after=60
    )
    try:
        _, cid = campaign(store)
        started = time.monotonic()
        outcome = send_five_paced(store, fake, cid, client)
    finally:
        client.close()
    assert outcome.statuses == {"sent": 5}
    # Never early: request k leaves no sooner than k intervals after the tokens were asked for.
    assert len(arrivals) == 5
    assert all(at - started >= k * INTERVAL for k, at in enumerate(arrivals))


def test_a_request_that_missed_its_slot_is_not_sent_and_waits_without_an_attempt(store: MessageStore) -> None:
    fake = FakeMessente()
    # Nothing can leave within a nanosecond of its slot: the hop to the loop alone takes longer.
    client = AsyncHttp(
        "https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake), late_after=1e-9
    )
    try:
        _, cid = campaign(store)
        outcome = send_five_paced(store, fake, cid, client)
    finally:
        client.close()
    assert outcome.statuses == {"queued": 5} and fake.requests == []
    record = store.get(message_id(cid, 1))
    assert record is not None and record.get("attempts", "0") == "0" and not record.get(CALL_PROVIDER)
    assert store.scheduled_count() == 5


def test_only_a_request_on_a_connection_is_marked_as_calling(store: MessageStore) -> None:
    """With one connection, four requests wait while the first is on its way: a worker dying then
    leaves those four unmarked, so they go back to `queued` rather than `unknown` (issue 12)."""
    fake = FakeMessente()
    release = threading.Event()
    on_the_wire = threading.Event()

    async def handler(request: httpx.Request) -> httpx.Response:
        on_the_wire.set()
        while not release.is_set():
            await asyncio.sleep(0.005)
        return fake(request)

    client = AsyncHttp(
        "https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(handler), max_connections=1
    )
    _, cid = campaign(store)
    sending = threading.Thread(
        target=send_batch,
        args=(
            cid,
            1,
            5,
            sender_for(store, fake),
            BatchOptions(chunk=5, use_bulk=False, async_http=client),
            None,
        ),
    )
    sending.start()
    try:
        assert on_the_wire.wait(10)
        records = store.get_many([message_id(cid, p) for p in range(1, 6)])
        marked = [bool(r and r.get(CALL_PROVIDER)) for r in records]
        assert marked == [True, False, False, False, False]
        assert statuses(store, cid) == ["sending"] * 5
    finally:
        release.set()
        sending.join(10)
        client.close()
    assert statuses(store, cid) == ["sent"] * 5


def test_tokens_are_only_taken_for_requests_with_a_connection_so_none_comes_back_late(
    store: MessageStore,
) -> None:
    """A rate far above what the connections carry: requests used to wait for a connection past their
    slot, come back LATE and be requeued (scenario 2 fell from 1,672/s to 407/s). Now a token is
    taken only once a connection is reserved, so every one leaves on time."""
    fake = FakeMessente()

    async def slow(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0.05)  # two connections at 50 ms: 40/s, against a limit of 1,000/s
        return fake(request)

    client = AsyncHttp(
        "https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(slow), max_connections=2
    )
    limiter = RateLimiter(store.redis, {"messente": Limit(1000, burst=10, high_reserve=0.0)}, prefix="t")
    try:
        _, cid = campaign(store, count=9)
        outcome = send_batch(
            cid,
            1,
            9,
            dataclasses.replace(sender_for(store, fake), limiter=limiter),
            BatchOptions(chunk=9, use_bulk=False, async_http=client),
            None,
        )
    finally:
        client.close()
    assert outcome.statuses == {"sent": 9}
    assert len(fake.requests) == 9


def test_a_request_the_loop_held_past_its_slot_takes_a_new_slot_and_is_sent(store: MessageStore) -> None:
    """The first answer blocks the loop for 100 ms (a busy process): the four requests behind it miss
    their slots. They take new tokens and go, rather than being put back to be claimed again."""
    fake = FakeMessente()
    blocked = threading.Event()
    arrivals: list[float] = []

    def handler(request: httpx.Request) -> httpx.Response:
        arrivals.append(time.monotonic())
        if not blocked.is_set():
            blocked.set()
            time.sleep(0.1)  # on the loop's thread: nothing else on the loop runs meanwhile
        return fake(request)

    client = AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(handler))
    try:
        _, cid = campaign(store)
        outcome = send_five_paced(store, fake, cid, client)
    finally:
        client.close()
    assert outcome.statuses == {"sent": 5} and len(fake.requests) == 5
    # After the stall they left on new slots, not in one clump the moment the loop was free.
    assert arrivals[-1] - arrivals[1] >= 2 * INTERVAL


def test_a_request_whose_lease_was_lost_before_its_slot_never_leaves(store: MessageStore) -> None:
    """While the chunk waits for its slots, the fifth record's lease goes to another worker (recovery
    gave it away: a new token). Its request is not sent, and the record is left to that worker."""
    fake = FakeMessente()
    _, cid = campaign(store)
    taken = message_id(cid, 5)

    def handler(request: httpx.Request) -> httpx.Response:
        store.redis.hset(store.keys.record(taken), "lease_token", "another worker's")
        return fake(request)

    client = AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(handler))
    try:
        outcome = send_five_paced(store, fake, cid, client)
    finally:
        client.close()
    assert len(fake.requests) == 4
    assert outcome.statuses == {"sent": 4, "skipped": 1}
    record = store.get(taken)
    assert record is not None and (record["status"], record["lease_token"]) == ("sending", "another worker's")
    assert not record.get(CALL_PROVIDER)


def test_a_request_whose_slot_is_due_is_marked_with_its_token_once_not_again_by_the_loop(
    store: MessageStore,
) -> None:
    """At a rate far above what goes out, every slot is now: the records are marked in the same call
    that took their tokens (marking on the loop afterwards made a fifth of scenario 2's requests late
    for their slot), and each exactly once."""
    fake = FakeMessente()
    marked: list[str] = []
    mark_calling = store.mark_calling

    def counting(ids: list[str], token: str, provider: str) -> list[bool]:
        marked.extend(ids)
        return mark_calling(ids, token, provider)

    limiter = RateLimiter(store.redis, {"messente": Limit(10_000, burst=100, high_reserve=0.0)}, prefix="t")
    sender = dataclasses.replace(sender_for(store, fake), limiter=limiter)
    client = AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake))
    _, cid = campaign(store)
    store.mark_calling = counting  # type: ignore[method-assign]
    try:
        send_batch(cid, 1, 5, sender, BatchOptions(chunk=5, use_bulk=False, async_http=client), None)
    finally:
        client.close()
    assert sorted(marked) == sorted(message_id(cid, p) for p in range(1, 6))
    assert statuses(store, cid) == ["sent"] * 5


def test_once_grants_come_due_at_once_the_marks_go_with_the_take_and_later_slots_take_theirs_back(
    store: MessageStore,
) -> None:
    """A take whose tokens were all due marks its records on trust in the same round trip as the next
    take. That one grants slots one interval apart: the due one stays marked, the later ones' marks
    are taken back (the loop marks them just before their slot), and a record held by another worker
    is not sent."""
    for mid in ("a", "b", "c", "d", "e"):
        store.redis.hset(store.keys.record(mid), mapping={"lease_token": "ours", "status": "sending"})
    store.redis.hset(store.keys.record("e"), "lease_token", "another worker's")
    sender = paced_sender(store, FakeMessente())
    marks = CallMarks(store, "ours", "messente")
    take = tokens_for(sender, "messente", "high", marks)
    in_one_trip: list[list[str]] = []
    mark_calling_in = store.mark_calling_in

    def noting(pipe: object, ids: list[str], token: str, provider: str) -> None:
        in_one_trip.append(list(ids))
        mark_calling_in(pipe, ids, token, provider)  # type: ignore[arg-type]

    store.mark_calling_in = noting  # type: ignore[method-assign]
    first = take(["a"])
    assert in_one_trip == []  # the first take marks after it (mark_due)
    assert isinstance(first[0], Token) and first[0].marked
    second = take(["b", "c", "d", "e"])
    assert in_one_trip == [["b", "c", "d", "e"]]
    b, c, d, e = second
    assert isinstance(b, Token) and b.marked
    assert isinstance(c, Token) and not c.marked and c.slot > b.slot
    assert isinstance(d, Token) and not d.marked
    assert e is NOT_OURS
    call = {mid: store.redis.hget(store.keys.record(mid), CALL_PROVIDER) for mid in "abcde"}
    assert call == {"a": "messente", "b": "messente", "c": "", "d": "", "e": None}
