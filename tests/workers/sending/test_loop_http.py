"""Campaign singles through the event loop client (SMSQ_CAMPAIGNS__ASYNC_SEND), faked at the HTTP seam."""

from __future__ import annotations

import dataclasses
import threading
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
from smsq.workers.sending.loop_http import AsyncHttp
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


def test_with_every_connection_busy_freed_ones_are_gathered_into_one_group() -> None:
    """One reserve per freed connection would cost a rate-limiter round trip per request: when the
    connections are the limit, the ones freed within GATHER_SECONDS go out as one group."""
    client = AsyncHttp(
        "https://messente.test/v1",
        Timeouts(),
        transport=httpx.MockTransport(lambda r: httpx.Response(201)),
        max_connections=4,
    )
    try:
        assert client.reserve(4) == 4  # all busy now

        def free_one_by_one() -> None:
            for _ in range(4):
                time.sleep(0.002)
                client.unreserve(1)

        freeing = threading.Thread(target=free_one_by_one)
        freeing.start()
        assert client.reserve(4) == 4  # not 1: the first, then the three freed just after it
        freeing.join()
        client.unreserve(4)
        assert client.reserve(2) == 2  # free ones: taken at once, nothing waited for
    finally:
        client.close()
