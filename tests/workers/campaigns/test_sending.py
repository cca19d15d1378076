from __future__ import annotations

import dataclasses
import json
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from smsq.config.settings import RetrySettings, Timeouts
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.store import MessageStore
from smsq.workers.campaigns.messages import CampaignTemplates
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.limits.ratelimit import Limit, RateLimiter
from smsq.workers.providers import http
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.single import Sender
from tests.support.fakes import RecordingPublisher
from tests.support.sending import make_sender

TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %firstName%", "sender": "Shop"}]}


class FakeMessente:
    """Answers Messente's single and bulk send calls; can refuse chosen numbers or fail outright."""

    def __init__(self, refuse: set[str] | None = None, status: int | None = None) -> None:
        self.refuse = refuse or set()
        self.status = status
        self.requests: list[httpx.Request] = []

    def entry(self, body: dict[str, Any]) -> dict[str, Any]:
        if body["to"] in self.refuse:
            return {
                "errors": [{"title": "Invalid data", "detail": "bad number", "code": "105", "source": "to"}]
            }
        return {
            "messages": [{"message_id": f"m-{body['to']}", "channel": "sms", "sender": "Shop"}],
            "to": body["to"],
            "omnimessage_id": f"o-{body['to']}",
        }

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        if self.status:
            return httpx.Response(
                self.status, json={"errors": [{"code": "104", "detail": "down", "title": "x"}]}
            )
        body = json.loads(request.content)
        if request.url.path.endswith("/omnimessages"):
            return httpx.Response(201, json={"messages": [self.entry(m) for m in body["messages"]]})
        answer = self.entry(body)
        return httpx.Response(400 if "errors" in answer else 201, json=answer)


def sender_for(store: MessageStore, fake: FakeMessente) -> Sender:
    client = http.make_client("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake))
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    return make_sender(
        store,
        MessenteClient(client),
        retry=RetrySettings(max_attempts=3),
        blocked_among=blacklist.blocked_among,
        templates=CampaignTemplates(store.redis, store.keys),
    )


def campaign(store: MessageStore, count: int = 5) -> tuple[Campaigns, str]:
    campaigns = Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))
    recipients = [{"to": f"+3725100000{n}", "firstName": f"N{n}"} for n in range(1, count + 1)]
    return campaigns, campaigns.create(name="c", template=TEMPLATE, recipients=recipients).id


def statuses(store: MessageStore, campaign_id: str, count: int = 5) -> list[str]:
    return [
        r["status"] if r else "-"
        for r in store.get_many([message_id(campaign_id, p) for p in range(1, count + 1)])
    ]


def test_a_batch_goes_out_in_bulk_calls_with_rendered_texts(store: MessageStore) -> None:
    fake = FakeMessente()
    campaigns, cid = campaign(store)
    outcome = send_batch(cid, 1, 5, sender_for(store, fake), BatchOptions(chunk=5, bulk_size=2), None)
    assert outcome.statuses == {"sent": 5}
    assert [r.url.path for r in fake.requests] == ["/v1/omnimessages"] * 3
    first_body = json.loads(fake.requests[0].content)["messages"][0]
    assert first_body["to"] == "+37251000001" and first_body["messages"][0]["text"] == "Hi N1"
    record = store.get(message_id(cid, 1))
    assert record is not None and (record["status"], record["provider_message_id"]) == (
        "sent",
        "o-+37251000001",
    )
    assert campaigns.progress(cid).counts == {"sent": 5}


def test_an_entry_the_provider_refuses_fails_alone(store: MessageStore) -> None:
    fake = FakeMessente(refuse={"+37251000002"})
    _, cid = campaign(store)
    outcome = send_batch(cid, 1, 5, sender_for(store, fake), BatchOptions(chunk=5, bulk_size=5), None)
    assert outcome.statuses == {"sent": 4, "failed": 1}
    assert statuses(store, cid) == ["sent", "failed", "sent", "sent", "sent"]
    assert store.get(message_id(cid, 2))["last_error_code"] == "105"  # type: ignore[index]


def test_a_failed_bulk_call_retries_each_message_later(store: MessageStore) -> None:
    _, cid = campaign(store)
    outcome = send_batch(cid, 1, 5, sender_for(store, FakeMessente(status=503)), BatchOptions(chunk=5), None)
    assert outcome.statuses == {"queued": 5}
    assert store.scheduled_count() == 5
    record = store.get(message_id(cid, 1))
    assert record is not None and record["attempts"] == "1" and record["last_error_code"] == "503"


def test_without_bulk_the_messages_go_in_parallel_single_calls(store: MessageStore) -> None:
    fake = FakeMessente()
    _, cid = campaign(store)
    with ThreadPoolExecutor(4) as pool:
        outcome = send_batch(cid, 1, 5, sender_for(store, fake), BatchOptions(chunk=5, use_bulk=False), pool)
    assert outcome.statuses == {"sent": 5}
    assert sorted(json.loads(r.content)["to"] for r in fake.requests) == [
        f"+3725100000{n}" for n in range(1, 6)
    ]


def test_parallel_singles_without_a_token_wait_for_one_and_spend_no_attempt(store: MessageStore) -> None:
    # Each send thread takes its own token; three fit in the burst, the other two go back to wait.
    fake = FakeMessente()
    _, cid = campaign(store)
    # (acquire would sleep until each token's slot, 10 s apart: not what this test is about)
    limiter = RateLimiter(
        store.redis, {"messente": Limit(0.1, burst=3, high_reserve=0.0)}, prefix="t", sleep=lambda _: None
    )
    sender = dataclasses.replace(sender_for(store, fake), limiter=limiter, max_inline_wait=0.0)
    with ThreadPoolExecutor(4) as pool:
        outcome = send_batch(cid, 1, 5, sender, BatchOptions(chunk=5, use_bulk=False), pool)
    assert outcome.statuses == {"sent": 3, "queued": 2}
    assert len(fake.requests) == 3
    assert store.scheduled_count() == 2
    records = [r for r in store.get_many([message_id(cid, p) for p in range(1, 6)]) if r is not None]
    assert [r.get("attempts", "0") for r in records if r["status"] == "queued"] == ["0", "0"]


def test_a_number_blacklisted_after_creation_is_blocked_at_send_time(store: MessageStore) -> None:
    fake = FakeMessente()
    _, cid = campaign(store)
    Blacklist(store.redis, prefix="t", clock=store.clock).add("+37251000003", source="api")
    send_batch(cid, 1, 5, sender_for(store, fake), BatchOptions(chunk=5), None)
    assert statuses(store, cid) == ["sent", "sent", "blocked", "sent", "sent"]
    assert "+37251000003" not in fake.requests[0].content.decode()


def test_a_paused_campaign_parks_the_rest_of_the_batch(store: MessageStore) -> None:
    fake = FakeMessente()
    campaigns, cid = campaign(store)
    campaigns.pause(cid)
    outcome = send_batch(cid, 1, 5, sender_for(store, fake), BatchOptions(chunk=2), None)
    assert (outcome.stopped, outcome.held_from) == ("paused", 1) and fake.requests == []
    assert store.redis.lrange(f"t:campaign:{cid}:held", 0, -1) == ["1:5"]
    assert statuses(store, cid) == ["queued"] * 5


def test_a_pause_between_chunks_stops_the_next_chunk(
    store: MessageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = FakeMessente()
    campaigns, cid = campaign(store)
    real = fake.__call__

    def pause_after_first_call(request: httpx.Request) -> httpx.Response:
        campaigns.pause(cid)  # the operator pauses while the first chunk is on the wire
        return real(request)

    sender = sender_for(store, fake)
    sender.providers["messente"].http._transport = httpx.MockTransport(pause_after_first_call)  # type: ignore[attr-defined]
    outcome = send_batch(cid, 1, 5, sender, BatchOptions(chunk=2, bulk_size=2), None)
    assert outcome.statuses == {"sent": 2} and outcome.held_from == 3
    assert statuses(store, cid) == ["sent", "sent", "queued", "queued", "queued"]


def test_cancel_sweeps_waiting_messages_and_keeps_sent_ones(store: MessageStore) -> None:
    from smsq.workers.campaigns.tasks import sweep_cancelled

    campaigns, cid = campaign(store)
    send_batch(cid, 1, 2, sender_for(store, FakeMessente()), BatchOptions(chunk=2), None)
    campaigns.cancel(cid)
    context = type("Context", (), {"store": store, "redis": store.redis})()
    assert sweep_cancelled(context, cid) == 3  # type: ignore[arg-type]
    assert statuses(store, cid) == ["sent", "sent", "cancelled", "cancelled", "cancelled"]
    assert campaigns.progress(cid).counts == {"sent": 2, "cancelled": 3}
    assert (
        send_batch(cid, 3, 5, sender_for(store, FakeMessente()), BatchOptions(), None).stopped == "cancelled"
    )


def test_a_redelivered_batch_sends_nothing_twice(store: MessageStore) -> None:
    fake = FakeMessente()
    _, cid = campaign(store)
    sender = sender_for(store, fake)
    send_batch(cid, 1, 5, sender, BatchOptions(chunk=5), None)
    again = send_batch(cid, 1, 5, sender, BatchOptions(chunk=5), None)
    assert again.statuses == {} and len(fake.requests) == 1


@pytest.mark.parametrize("async_send", [False, True])
def test_a_chunk_whose_provider_circuit_is_open_waits_without_spending_attempts(
    store: MessageStore, async_send: bool
) -> None:
    """Issue 12: the chunk goes back to wait for the circuit to close; nothing is called."""
    from smsq.workers.limits.health import HealthPolicy, ProviderHealth
    from smsq.workers.sending.loop_http import AsyncHttp

    fake = FakeMessente()
    _, cid = campaign(store)
    health = ProviderHealth(store.redis, HealthPolicy(min_requests=1), prefix="t", clock=store.clock)
    assert health.record("messente", ok=False)  # the circuit opens
    sender = dataclasses.replace(sender_for(store, fake), health=health)
    loop = (
        AsyncHttp("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(fake))
        if async_send
        else None
    )
    try:
        outcome = send_batch(cid, 1, 5, sender, BatchOptions(chunk=5, use_bulk=False, async_http=loop), None)
    finally:
        if loop is not None:
            loop.close()
    assert outcome.statuses == {"queued": 5} and fake.requests == []
    records = [r for r in store.get_many([message_id(cid, p) for p in range(1, 6)]) if r is not None]
    assert {(r.get("attempts", "0"), r["last_error_code"]) for r in records} == {("0", "circuit-open")}
    assert store.scheduled_count() == 5
