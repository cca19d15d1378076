"""Messente bulk send (POST /omnimessages) at the HTTP seam: one result per input, in order."""

from __future__ import annotations

from typing import Any

import pytest

from smsq.workers.providers.base import SendResult
from smsq.workers.providers.errors import PermanentError, ProviderError, RateLimited, TransientError
from smsq.workers.providers.messente import omnichannel as messente
from tests.workers.providers.messente.test_omnichannel import (
    AUTH_HEADER,
    BASE_URL,
    BULK_CREATED,
    CREATED,
    ERROR_TITLES,
    EXPECTED_KIND,
    TO,
    FakeMessente,
    answer,
    client_for,
    error_body,
    outbound,
)

# Bulk send


def test_send_many_posts_one_bulk_request_and_maps_entries_in_order() -> None:
    fake = FakeMessente(answer(201, BULK_CREATED))
    messages = [outbound("sms", "m-1"), outbound("sms", "m-2", to="+37251234567"), outbound("viber", "m-3")]
    results = client_for(fake).send_many(messages)

    request = fake.last
    assert (request.method, str(request.url)) == ("POST", f"{BASE_URL}/omnimessages")
    assert request.headers["Authorization"] == AUTH_HEADER
    assert fake.last_json() == {"messages": [messente.send_body(message) for message in messages]}
    first, second, third = results
    assert first == messente.created_result(CREATED)
    assert isinstance(second, PermanentError)
    assert (second.code, second.field, second.detail) == ("105", "payload[to]", "Invalid phone number")
    assert isinstance(third, SendResult)
    assert [part.channel for part in third.parts] == ["viber", "sms"]


def test_send_many_of_nothing_sends_nothing() -> None:
    fake = FakeMessente(answer(201, {"messages": []}))
    assert client_for(fake).send_many([]) == []
    assert fake.requests == []


@pytest.mark.parametrize("code", sorted(ERROR_TITLES))
def test_bulk_entry_error_codes(code: str) -> None:
    fake = FakeMessente(answer(201, {"messages": [error_body(code, "entry refused")]}))
    (result,) = client_for(fake).send_many([outbound()])
    assert type(result) is EXPECTED_KIND[code]
    assert isinstance(result, ProviderError)
    assert (result.code, result.detail, result.status_code) == (code, "entry refused", None)


def test_bulk_entry_with_an_undocumented_code_is_a_refusal() -> None:
    entry = {"errors": [{"title": "New", "detail": "new rule", "code": "150", "source": None}]}
    (result,) = client_for(FakeMessente(answer(201, {"messages": [entry]}))).send_many([outbound()])
    assert type(result) is PermanentError


def test_malformed_bulk_entry_is_transient_for_that_entry_only() -> None:
    fake = FakeMessente(answer(201, {"messages": [CREATED, {"to": TO}]}))
    ok, broken = client_for(fake).send_many([outbound("sms", "m-1"), outbound("sms", "m-2")])
    assert isinstance(ok, SendResult)
    assert isinstance(broken, TransientError)
    assert (broken.code, broken.maybe_sent) == ("malformed", True)


@pytest.mark.parametrize(
    "body", [{"messages": [CREATED]}, {"messages": [CREATED, CREATED, CREATED]}, {}, []], ids=str
)
def test_bulk_answer_that_cannot_be_matched_to_the_inputs_fails_the_batch(body: Any) -> None:
    with pytest.raises(TransientError) as caught:
        client_for(FakeMessente(answer(201, body))).send_many([outbound(), outbound()])
    assert (caught.value.code, caught.value.maybe_sent) == ("malformed", True)


def test_bulk_request_level_error_raises_for_the_batch() -> None:
    fake = FakeMessente(answer(400, error_body("106", "messages is required", source="payload[messages]")))
    with pytest.raises(PermanentError) as caught:
        client_for(fake).send_many([outbound()])
    assert (caught.value.code, caught.value.field) == ("106", "payload[messages]")


def test_bulk_rate_limit_raises_for_the_batch() -> None:
    with pytest.raises(RateLimited):
        client_for(FakeMessente(answer(429, headers={"Retry-After": "2"}))).send_many([outbound()])
