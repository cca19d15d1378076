"""SMSAPI and Direct Messenger singles through the event loop (issue 17), as the campaign task builds
their loop clients: each provider's own base URL, credentials and body encoding; answers read by
the same rules as their sync clients. Faked at the HTTP seam."""

from __future__ import annotations

import json
from collections.abc import Callable
from urllib.parse import parse_qs

import httpx
import pytest
from pydantic import SecretStr

from smsq.config.settings import DirectMessengerSettings, RetrySettings, SmsapiSettings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.core.store import MessageStore
from smsq.workers.campaigns.messages import CampaignTemplates
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.providers.base import LoopSingles
from smsq.workers.providers.direct_messenger.sms import DirectMessengerClient
from smsq.workers.providers.smsapi.sms import SmsapiClient
from smsq.workers.sending.event_loop import LoopClients, client_for
from smsq.workers.sending.loop_http import AsyncHttp
from tests.support.sending import make_sender
from tests.workers.campaigns.test_sending import campaign, statuses

Handler = Callable[[httpx.Request], httpx.Response]


def loop_for(provider: SmsapiClient | DirectMessengerClient, handler: Handler) -> AsyncHttp:
    """As smsq.workers.campaigns.tasks.loop_client builds it, over a mock transport."""
    target = provider.loop_target()
    return AsyncHttp(target.base_url, target.timeouts, headers=target.headers, encoding=provider.single_encoding,
                     transport=httpx.MockTransport(handler), late_after=60)  # fmt: skip


def run(
    store: MessageStore, provider: SmsapiClient | DirectMessengerClient, handler: Handler
) -> dict[str, int]:
    _, cid = campaign(store)
    sender = make_sender(store, provider, retry=RetrySettings(max_attempts=3),
                         blocked_among=Blacklist(store.redis, prefix="t", clock=store.clock).blocked_among,
                         templates=CampaignTemplates(store.redis, store.keys))  # fmt: skip
    client = loop_for(provider, handler)
    try:
        outcome = send_batch(
            cid, 1, 5, sender, BatchOptions(chunk=5, use_bulk=False, async_http=client), None
        )
    finally:
        client.close()
    assert len(statuses(store, cid)) == 5
    return outcome.statuses


def smsapi_client() -> SmsapiClient:
    settings = SmsapiSettings(enabled=True, base_url="https://api.smsapi.test", token=SecretStr("tok"))
    # Its sync pool must never be used on this path: a transport that fails the test if it is.
    return SmsapiClient.from_settings(settings, transport=httpx.MockTransport(pytest.fail))


def test_smsapi_singles_go_through_the_loop_as_json_with_its_bearer_token(store: MessageStore) -> None:
    seen: list[httpx.Request] = []

    def smsapi(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        body = json.loads(request.content)
        if body["to"] == "37251000002":  # a repeat of an id SMSAPI already has: not sent again
            return httpx.Response(200, json={"error": 53, "message": "idx already used"})
        return httpx.Response(200, json={"count": 1, "list": [{"id": f"s-{body['to']}", "points": 1}]})

    assert run(store, smsapi_client(), smsapi) == {"sent": 5}
    assert {r.url.path for r in seen} == {"/sms.do"} and len(seen) == 5
    assert {r.headers["authorization"] for r in seen} == {"Bearer tok"}
    assert {r.headers["content-type"] for r in seen} == {"application/json"}
    first = json.loads(seen[0].content)
    assert first["check_idx"] == 1 and first["message"].startswith("Hi N")
    repeat = next(json.loads(r.content)["idx"] for r in seen if json.loads(r.content)["to"] == "37251000002")
    record = store.get(repeat)
    assert record is not None and record["provider"] == "smsapi" and record["provider_message_id"] == repeat


def test_direct_messenger_singles_go_through_the_loop_form_encoded_with_its_token(
    store: MessageStore,
) -> None:
    seen: list[httpx.Request] = []

    def dm(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        form = parse_qs(request.content.decode())
        if form["receiver"] == ["37251000003"]:
            return httpx.Response(422, json={"message": "invalid", "errors": {"receiver": ["bad number"]}})
        return httpx.Response(200, json={"status": "Success"})

    settings = DirectMessengerSettings(
        enabled=True, base_url="https://dm.test/sms", api_token=SecretStr("dmtok")
    )
    provider = DirectMessengerClient.from_settings(settings, transport=httpx.MockTransport(pytest.fail))
    assert run(store, provider, dm) == {"sent": 4, "failed": 1}
    assert {str(r.url) for r in seen} == {"https://dm.test/sms/"} and len(seen) == 5
    assert {r.headers["content-type"] for r in seen} == {"application/x-www-form-urlencoded"}
    form = parse_qs(seen[0].content.decode())
    assert form["api_token"] == ["dmtok"] and form["smstext"][0].startswith("Hi N")


def test_an_smsapi_429_is_a_wait_not_an_attempt(store: MessageStore) -> None:
    def limited(request: httpx.Request) -> httpx.Response:
        return httpx.Response(429, json={"error": 429})

    assert run(store, smsapi_client(), limited) == {"queued": 5}


def test_each_provider_gets_its_own_loop_client_made_once() -> None:
    made: list[str] = []
    provider = smsapi_client()
    assert isinstance(provider, LoopSingles)

    def make(p: LoopSingles) -> AsyncHttp | None:
        made.append(p.name)
        return None  # e.g. a provider without a loop target: its singles go the sync way

    clients = LoopClients(make)
    assert client_for(clients, provider) is None and client_for(clients, provider) is None
    assert made == ["smsapi"]
    assert client_for(None, provider) is None
