"""Campaign singles through the event loop client (SMSQ_CAMPAIGNS__ASYNC_SEND), faked at the HTTP seam."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from smsq.config.settings import Timeouts
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.store import MessageStore
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.limits.ratelimit import Limit, RateLimiter
from smsq.workers.sending.loop_http import Answer, AsyncHttp, Deferred, NoToken, Token
from tests.workers.campaigns.test_sending import FakeMessente, campaign, sender_for, statuses


@pytest.fixture
def loop_client() -> Iterator[tuple[FakeMessente, AsyncHttp]]:
    fake = FakeMessente(refuse={"+37251000002"})
    client = AsyncHttp(
        "https://messente.test/v1",
        Timeouts(),
        auth=("u", "p"),
        transport=httpx.MockTransport(fake),
        late_after=60,  # a loaded machine's late wake-up is not what these tests are about
    )
    yield fake, client
    client.close()


def options(client: AsyncHttp) -> BatchOptions:
    return BatchOptions(chunk=5, use_bulk=False, async_http=client)


def test_singles_go_through_the_loop_and_each_answer_is_recorded(
    store: MessageStore, loop_client: tuple[FakeMessente, AsyncHttp]
) -> None:
    fake, client = loop_client
    _, cid = campaign(store)
    with ThreadPoolExecutor(4) as pool:
        outcome = send_batch(cid, 1, 5, sender_for(store, FakeMessente()), options(client), pool)
    assert outcome.statuses == {"sent": 4, "failed": 1}
    assert statuses(store, cid) == ["sent", "failed", "sent", "sent", "sent"]
    assert {r.url.path for r in fake.requests} == {"/v1/omnimessage"}
    assert fake.requests[0].headers["authorization"].startswith("Basic ")
    record = store.get(message_id(cid, 1))
    assert record is not None and record["provider_message_id"] == "o-+37251000001"


@pytest.mark.parametrize(("status", "code", "attempts"), [(503, "503", "1"), (429, "429", None)])
def test_a_failed_call_is_retried_later_and_a_429_spends_no_attempt(
    store: MessageStore, status: int, code: str, attempts: str | None
) -> None:
    fake = FakeMessente(status=status)
    client = AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake))
    try:
        _, cid = campaign(store)
        outcome = send_batch(cid, 1, 5, sender_for(store, fake), options(client), None)
    finally:
        client.close()
    assert outcome.statuses == {"queued": 5}
    record = store.get(message_id(cid, 1))
    assert record is not None and record["last_error_code"] == code and record.get("attempts") == attempts


def test_a_connection_that_cannot_be_made_is_a_transient_error(store: MessageStore) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    client = AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(refuse))
    try:
        _, cid = campaign(store)
        outcome = send_batch(cid, 1, 5, sender_for(store, FakeMessente()), options(client), None)
    finally:
        client.close()
    assert outcome.statuses == {"queued": 5}
    record = store.get(message_id(cid, 1))
    assert record is not None and record["last_error_code"] == "connect"


def test_what_gets_no_token_waits_and_spends_no_attempt(
    store: MessageStore, loop_client: tuple[FakeMessente, AsyncHttp]
) -> None:
    fake, client = loop_client
    _, cid = campaign(store)
    # Three slots 0.1 s apart are granted at once; the fourth would need a wait.
    limiter = RateLimiter(store.redis, {"messente": Limit(10, burst=3, high_reserve=0.0)}, prefix="t")
    sender = dataclasses.replace(sender_for(store, fake), limiter=limiter, max_inline_wait=0.0)
    outcome = send_batch(cid, 1, 5, sender, options(client), None)
    assert outcome.statuses == {"sent": 2, "failed": 1, "queued": 2}  # +37251000002 is refused
    assert len(fake.requests) == 3 and store.scheduled_count() == 2


def test_a_chunk_in_flight_is_recorded_even_when_starting_the_next_one_fails(
    store: MessageStore, loop_client: tuple[FakeMessente, AsyncHttp]
) -> None:
    fake, client = loop_client
    _, cid = campaign(store)
    sender = sender_for(store, fake)
    calls: list[int] = []

    def blocked_among(numbers: list[str]) -> set[str]:
        calls.append(len(numbers))
        if len(calls) == 2:  # the blacklist check of the second chunk
            raise ConnectionError("redis went away")
        return set()

    sender = dataclasses.replace(sender, blocked_among=blocked_among)
    with pytest.raises(ConnectionError):
        send_batch(cid, 1, 5, sender, BatchOptions(chunk=2, use_bulk=False, async_http=client), None)
    # The first chunk was on its way when the second failed: its answers are recorded, not left
    # `sending` for the lease to expire; the second chunk was claimed but never sent.
    assert statuses(store, cid) == ["sent", "failed", "sending", "sending", "queued"]
    assert len(fake.requests) == 2


def test_a_freed_connection_takes_the_next_waiting_request_and_tokens_come_only_with_one() -> None:
    """Six requests on two connections: never more than two at the provider, the third leaves as soon
    as the second comes back, while the first is still out (not in waves), and a token is only asked for a request holding a
    connection, for the requests asking at once in one call."""
    at_provider = 0
    most = 0
    freed = asyncio.Event()
    asked: list[int] = []

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal at_provider, most
        at_provider += 1
        most = max(most, at_provider)
        if request.content == b'"0"':  # the first stays until the third is at the provider
            await asyncio.wait_for(freed.wait(), timeout=5)
        elif request.content == b'"2"':
            freed.set()
        at_provider -= 1
        return httpx.Response(201, json={})

    def take(ids: list[str | None]) -> list[Token | NoToken | Answer]:
        asked.append(len(ids))
        return [Token(time.monotonic()) for _ in ids]

    client = AsyncHttp(
        "https://messente.test/v1",
        Timeouts(),
        transport=httpx.MockTransport(handler),
        max_connections=2,
        late_after=60,
    )
    try:
        answers = client.post_many("omnimessage", [str(n) for n in range(6)], take=take).result(timeout=10)
    finally:
        client.close()
    assert [getattr(a, "status", a) for a in answers] == [201] * 6
    assert most == 2
    assert sum(asked) == 6 and max(asked) <= 2  # a token per request, only for those with a connection
    assert asked[0] == 2  # the first two asked together: one call


def test_a_request_without_a_token_in_the_time_it_may_wait_is_deferred_unsent() -> None:
    sent: list[bytes] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.content)
        return httpx.Response(201, json={})

    def take(ids: list[str | None]) -> list[Token | NoToken | Answer]:
        return [NoToken(0.5) for _ in ids]

    client = AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(handler))
    try:
        future = client.post_many("omnimessage", ["a"], take=take, give_up_at=time.monotonic() + 0.2)
        answers = future.result(timeout=10)
    finally:
        client.close()
    assert answers == [Deferred("rate limit", 0.5)]
    assert sent == []
