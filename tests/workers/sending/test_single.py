from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from smsq.config.settings import RetrySettings, Timeouts
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.workers.providers import http
from smsq.workers.providers.messente.omnichannel import MessenteClient
from smsq.workers.sending.single import Sender, send_message
from tests.support.fakes import FakeClock, RecordingPublisher, Wire
from tests.support.sending import accept, make_sender

Handler = Callable[[httpx.Request], httpx.Response]
OK_BODY = {
    "messages": [{"message_id": "m-1", "channel": "sms", "sender": "Acme"}],
    "to": "+37251234567",
    "omnimessage_id": "omni-1",
}


def ok(_: httpx.Request) -> httpx.Response:
    return httpx.Response(201, json=OK_BODY)


def messente_error(status: int, code: str, detail: str = "bad", source: str | None = None) -> httpx.Response:
    return httpx.Response(
        status, json={"errors": [{"title": "x", "detail": detail, "code": code, "source": source}]}
    )


def messente_sender(store: MessageStore, wire: Wire, *, max_attempts: int = 3, **options: Any) -> Sender:
    client = http.make_client("https://messente.test/v1", Timeouts(), transport=httpx.MockTransport(wire))
    retry = RetrySettings(max_attempts=max_attempts, base_delay=2, max_delay=60, jitter=0.5)
    return make_sender(store, MessenteClient(client), retry=retry, seed=7, **options)


def test_a_send_records_sent_with_the_provider_ids(store: MessageStore) -> None:
    wire = Wire(ok)
    message_id = accept(store)
    outcome = send_message(message_id, messente_sender(store, wire))
    assert outcome.status == "sent"
    record = store.get(message_id)
    assert record is not None
    assert (record["status"], record["provider"], record["provider_message_id"]) == (
        "sent",
        "messente",
        "omni-1",
    )
    assert json.loads(record["provider_parts"]) == [{"channel": "sms", "id": "m-1", "sender": "Acme"}]
    assert record["attempts"] == "1" and record["lease_token"] == ""
    sent = json.loads(wire.requests[0].content)
    assert sent["to"] == "+37251234567" and sent["messages"][0]["text"] == "code 1234"


def test_a_redelivered_task_for_a_sent_message_changes_nothing(store: MessageStore) -> None:
    wire = Wire(ok)
    message_id = accept(store)
    sender = messente_sender(store, wire)
    send_message(message_id, sender)
    before = store.get(message_id)
    outcome = send_message(message_id, sender)
    assert outcome.status == "skipped" and "sent" in outcome.detail
    assert store.get(message_id) == before and len(wire.requests) == 1


def test_a_transient_error_requeues_with_backoff_then_succeeds(store: MessageStore, clock: FakeClock) -> None:
    wire = Wire(lambda _: httpx.Response(503, text="busy"), ok)
    message_id = accept(store)
    sender = messente_sender(store, wire)
    first = send_message(message_id, sender)
    assert first.status == "queued" and first.retry_in is not None and 1.0 <= first.retry_in <= 2.0
    due_ms = store.redis.zscore(store.keys.schedule, message_id)
    assert due_ms == store.now_ms() + int(first.retry_in * 1000)
    assert store.claim_due(10, 1000) == []  # waits for its backoff
    clock.advance(first.retry_in)
    assert [r.message_id for r in store.claim_due(10, 1000)] == [message_id]
    assert send_message(message_id, sender).status == "sent"
    result = Smsq(store, RecordingPublisher()).result(message_id)
    assert [(a.number, a.outcome) for a in result.attempt_log] == [(1, "transient"), (2, "sent")]
    assert result.attempts == 2


def test_transient_errors_fail_the_message_after_max_attempts(store: MessageStore) -> None:
    wire = Wire(*[lambda _: httpx.Response(500, text="down")] * 3)
    message_id = accept(store)
    sender = messente_sender(store, wire, max_attempts=3)
    statuses = [send_message(message_id, sender).status for _ in range(3)]
    assert statuses == ["queued", "queued", "failed"]
    record = store.get(message_id)
    assert record is not None and record["status"] == "failed" and record["attempts"] == "3"
    assert record["last_error_code"] == "500" and "down" in record["last_error_detail"]


def test_a_permanent_error_fails_at_once_with_the_provider_code(store: MessageStore) -> None:
    wire = Wire(lambda _: messente_error(400, "105", "Invalid sender", "messages[0].sender"))
    message_id = accept(store)
    assert send_message(message_id, messente_sender(store, wire)).status == "failed"
    record = store.get(message_id)
    assert record is not None
    assert (record["last_error_code"], record["last_error_detail"]) == ("105", "Invalid sender")
    assert store.scheduled_count() == 0


def test_rate_limited_waits_retry_after_without_spending_an_attempt(store: MessageStore) -> None:
    wire = Wire(lambda _: httpx.Response(429, headers={"Retry-After": "7"}))
    message_id = accept(store)
    outcome = send_message(message_id, messente_sender(store, wire))
    assert (outcome.status, outcome.retry_in) == ("queued", 7.0)
    record = store.get(message_id)
    assert record is not None and record["attempts"] == "0"
    assert store.redis.zscore(store.keys.schedule, message_id) == store.now_ms() + 7000


def test_a_blacklisted_recipient_is_blocked_and_never_sent(store: MessageStore) -> None:
    wire = Wire()
    message_id = accept(store)
    outcome = send_message(message_id, messente_sender(store, wire, is_blacklisted=lambda phone: True))
    assert outcome.status == "blocked" and wire.requests == []


def test_no_enabled_provider_for_the_channel_fails_with_a_reason(store: MessageStore) -> None:
    message_id = accept(store)
    sender = messente_sender(store, Wire())
    sender.providers = {}
    outcome = send_message(message_id, sender)
    assert outcome.status == "failed"
    assert store.get(message_id)["last_error_code"] == "no-provider"  # type: ignore[index]


@pytest.mark.parametrize(
    ("text_store", "expected"),
    [("plaintext", "code 1234"), ("sha256", "sha256:"), ("nostore", None)],
)
def test_text_store_is_honoured_after_the_send(
    store: MessageStore, text_store: str, expected: str | None
) -> None:
    message_id = accept(store, text_store=text_store)
    assert "code 1234" in store.get(message_id)["body"]  # type: ignore[index]
    send_message(message_id, messente_sender(store, Wire(ok)))
    part = json.loads(store.get(message_id)["body"])["messages"][0]  # type: ignore[index]
    if expected is None:
        assert "text" not in part
    else:
        assert part["text"].startswith(expected)
    assert (text_store == "plaintext") == ("code 1234" in store.get(message_id)["body"])  # type: ignore[index]


@pytest.mark.parametrize(
    ("at_provider", "ahead", "held"), [(True, 3600, "1"), (True, -60, ""), (False, 3600, "")]
)
def test_a_message_the_provider_schedules_is_marked_as_held_by_it(
    store: MessageStore, clock: FakeClock, at_provider: bool, ahead: float, held: str
) -> None:
    from datetime import UTC, datetime

    when = datetime.fromtimestamp(clock() + ahead, tz=UTC).isoformat()
    message = {"to": "+37251234567", "time_to_send": when, "messages": [{"channel": "sms", "text": "x"}]}
    message_id = Smsq(store, RecordingPublisher(), schedule_at_provider=True).send(message).message_id
    sender = messente_sender(store, Wire(ok))
    sender.schedule_at_provider = at_provider
    assert send_message(message_id, sender).status == "sent"
    assert store.get(message_id)["provider_scheduled"] == held  # type: ignore[index]


class StealingLimiter:
    """Grants at once, but first gives the message's lease to another worker, as recovery does to a
    worker stalled past its lease."""

    def __init__(self, store: MessageStore, message_id: str) -> None:
        self.store, self.message_id = store, message_id

    def acquire_within(self, *_: object) -> float:
        self.store.redis.hset(self.store.keys.record(self.message_id), "lease_token", "another worker's")
        return 0.0


def test_a_send_whose_lease_was_lost_before_the_request_is_not_made(store: MessageStore) -> None:
    wire = Wire(ok)
    message_id = accept(store)
    sender = messente_sender(store, wire, limiter=StealingLimiter(store, message_id))
    assert send_message(message_id, sender).status == "skipped"
    assert wire.requests == []
    record = store.get(message_id)
    assert record is not None and record["lease_token"] == "another worker's"
    assert not record.get("call_provider") and record["status"] == "sending"


def test_an_attempt_the_provider_may_have_taken_is_marked_in_the_attempt_log(store: MessageStore) -> None:
    # A read timeout: the request may have reached the provider, so the retry that sends it may be
    # a second copy, and the record says so; the attempt that was answered carries no such mark.
    wire = Wire(httpx.ReadTimeout("slow"), ok)
    message_id = accept(store)
    sender = messente_sender(store, wire)
    assert send_message(message_id, sender).status == "queued"
    assert send_message(message_id, sender).status == "sent"  # its backoff is not checked here
    record = store.get(message_id)
    assert record is not None
    entries = json.loads("[" + record["attempt_log"] + "]")
    assert [(e["outcome"], e.get("code"), e.get("maybe_sent", False)) for e in entries] == [
        ("transient", "timeout", True),
        ("sent", None, False),
    ]
