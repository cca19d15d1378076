"""Messente client failures at the HTTP layer: 429, 5xx, timeouts, connection errors, malformed
answers (the fakes and canned answers are test_messente.py's)."""

from __future__ import annotations

import httpx
import pytest

from smsq.workers.providers.errors import RateLimited, TransientError
from tests.workers.providers.messente.test_omnichannel import (
    CREATED,
    OMNIMESSAGE_ID,
    TO,
    FakeMessente,
    answer,
    client_for,
    error_body,
    outbound,
)


def test_rate_limited_with_retry_after() -> None:
    fake = FakeMessente(answer(429, headers={"Retry-After": "7"}))
    with pytest.raises(RateLimited) as caught:
        client_for(fake).send(outbound())
    assert caught.value.retry_after == 7.0


def test_rate_limited_without_retry_after() -> None:
    fake = FakeMessente(answer(429))
    with pytest.raises(RateLimited) as caught:
        client_for(fake).status(OMNIMESSAGE_ID)
    assert caught.value.retry_after is None


@pytest.mark.parametrize("status", [500, 502, 503, 504])
def test_server_errors_are_transient_and_maybe_sent(status: int) -> None:
    fake = FakeMessente(answer(status, error_body("104")))
    with pytest.raises(TransientError) as caught:
        client_for(fake).send(outbound())
    assert not isinstance(caught.value, RateLimited)
    assert (caught.value.code, caught.value.maybe_sent) == (str(status), True)
    assert len(fake.requests) == 1  # a POST that may have been acted on is never repeated here


def test_read_timeout_is_transient_and_maybe_sent() -> None:
    fake = FakeMessente(httpx.ReadTimeout("slow"))
    with pytest.raises(TransientError) as caught:
        client_for(fake).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("timeout", True)
    assert len(fake.requests) == 1


def test_connect_failure_is_retried_briefly_then_transient_and_not_sent() -> None:
    fake = FakeMessente(httpx.ConnectError("refused"))
    with pytest.raises(TransientError) as caught:
        client_for(fake).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("connect", False)
    assert len(fake.requests) == 3


def test_connect_failure_then_success() -> None:
    fake = FakeMessente(httpx.ConnectTimeout("slow"), answer(201, CREATED))
    assert client_for(fake).send(outbound()).provider_message_id == OMNIMESSAGE_ID


def test_send_accepts_any_2xx_with_a_created_body() -> None:
    assert (
        client_for(FakeMessente(answer(200, CREATED))).send(outbound()).provider_message_id == OMNIMESSAGE_ID
    )


@pytest.mark.parametrize(
    "reply",
    [
        httpx.Response(201, text="{not json"),
        httpx.Response(200, text="{not json"),
        answer(201, {"to": TO}),
        answer(201, {"messages": [{"channel": "sms"}], "omnimessage_id": OMNIMESSAGE_ID}),
    ],
    ids=["not-json", "200-not-json", "no-messages", "part-without-id"],
)
def test_malformed_send_answer_is_transient_and_maybe_sent(reply: httpx.Response) -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(reply)).send(outbound())
    assert (caught.value.code, caught.value.maybe_sent) == ("malformed", True)
