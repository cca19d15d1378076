"""Producer -> Redis -> real Celery worker (subprocess) -> sandbox over loopback -> results store."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from celery import Celery

from smsq.cli.processes import wait_until
from smsq.config.contract import SendPayload
from smsq.producers.client import Smsq
from tests.integration.conftest import Running, received, wait_for

pytestmark = pytest.mark.integration


def sms(to: str = "+37251234567", **extra: Any) -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": "hello", "sender": "smsq"}], **extra}


@pytest.mark.parametrize("priority", ["high", "regular", "low"])
def test_a_message_of_each_priority_is_sent_and_readable(
    smsq: Smsq, sandbox: httpx.Client, priority: str
) -> None:
    receipt = smsq.send(sms(priority=priority))
    result = wait_for(smsq, receipt.message_id, {"sent", "failed"})
    assert result.status == "sent" and result.provider == "messente" and result.attempts == 1
    (request,) = received(sandbox)
    assert request["body"]["to"] == "+37251234567" and request["body"]["messages"][0]["text"] == "hello"
    assert result.provider_message_id == sandbox.get("/_admin/messages").json()["messente"][0]["message_id"]


def test_a_transient_failure_is_retried_then_sent(smsq: Smsq, sandbox: httpx.Client) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "status", "status": 503, "count": 1}).raise_for_status()  # fmt: skip
    receipt = smsq.send(sms())
    result = wait_for(smsq, receipt.message_id, {"sent", "failed"})
    assert result.status == "sent" and result.attempts == 2
    assert [(a.outcome, a.code) for a in result.attempt_log] == [("transient", "503"), ("sent", None)]
    assert [r["status"] for r in received(sandbox)] == [503, 201]


def test_a_permanent_failure_fails_at_once_with_the_provider_error(smsq: Smsq, sandbox: httpx.Client) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "status", "status": 400}).raise_for_status()  # fmt: skip
    receipt = smsq.send(sms())
    result = wait_for(smsq, receipt.message_id, {"sent", "failed"})
    assert result.status == "failed" and result.attempts == 1
    assert result.last_error is not None and result.last_error.code == "105"
    assert len(received(sandbox)) == 1


def test_transient_failures_end_in_failed_after_max_attempts(smsq: Smsq, sandbox: httpx.Client) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "status", "status": 500}).raise_for_status()  # fmt: skip
    receipt = smsq.send(sms())
    result = wait_for(smsq, receipt.message_id, {"sent", "failed"})
    assert result.status == "failed" and result.attempts == 3  # max_attempts in the stack's settings
    assert len(received(sandbox)) == 3


def test_an_idempotency_key_sends_once(smsq: Smsq, sandbox: httpx.Client) -> None:
    key = f"order-{uuid.uuid4()}"
    first = smsq.send(sms(), idempotency_key=key)
    second = smsq.send(sms(), idempotency_key=key)
    assert second.message_id == first.message_id and second.duplicate
    wait_for(smsq, first.message_id, {"sent"})
    wait_until(lambda: len(received(sandbox)) >= 1, timeout=5, what="the send")
    assert len(received(sandbox)) == 1


def test_republishing_the_task_of_a_sent_message_changes_nothing(
    smsq: Smsq, sandbox: httpx.Client, running: Running
) -> None:
    receipt = smsq.send(sms())
    before = wait_for(smsq, receipt.message_id, {"sent"})
    smsq.publisher.publish("smsq.send", SendPayload(message_id=receipt.message_id), "regular")
    marker = smsq.send(sms(to="+37251234568"))  # FIFO lane: once this is sent, the redelivery ran
    wait_for(smsq, marker.message_id, {"sent"})
    assert smsq.result(receipt.message_id) == before
    assert [r["body"]["to"] for r in received(sandbox)] == ["+37251234567", "+37251234568"]


def test_a_scheduled_message_is_released_by_beat_when_due(smsq: Smsq, sandbox: httpx.Client) -> None:
    due = datetime.now(UTC) + timedelta(seconds=1.5)
    receipt = smsq.send(sms(time_to_send=due.isoformat()))
    assert receipt.status == "scheduled"
    result = wait_for(smsq, receipt.message_id, {"sent"})
    assert result.sent_at is not None and result.sent_at >= due


def test_an_app_without_smsq_can_submit_by_task_name(
    smsq: Smsq, sandbox: httpx.Client, running: Running
) -> None:
    """What another application does: a plain Celery app, the task name and a JSON payload."""
    other_app = Celery(broker=running.settings.effective_broker_url)
    other_app.conf.task_serializer = "json"
    key = f"ext-{uuid.uuid4()}"
    other_app.send_task("smsq.submit", kwargs={"message": sms(priority="high"), "idempotency_key": key},
                        queue="high")  # fmt: skip
    wait_until(lambda: smsq.store.redis.exists(smsq.store.keys.idempotency(key)) == 1, timeout=15,
               what="the submitted message to be stored")  # fmt: skip
    message_id = smsq.store.redis.get(smsq.store.keys.idempotency(key))
    assert isinstance(message_id, str)
    assert wait_for(smsq, message_id, {"sent"}).priority == "high"


@pytest.mark.parametrize(
    ("task", "kwargs", "error"),
    [
        ("smsq.send", {"message_id": "not-a-uuid"}, "message_id"),
        ("smsq.send", {"message_id": "00000000-0000-4000-8000-000000000001", "evil": 1}, "evil"),
        ("smsq.submit", {"message": {"to": "12", "messages": []}}, "to:"),
        ("smsq.nonexistent", {}, "unknown task"),
        ("smsq.send_many", {"message_ids": []}, "message_ids"),
        ("smsq.send_many", {"message_ids": ["nope"]}, "message_ids"),
        ("smsq.send_batch", {"campaign_id": "x", "first": 1, "last": 2}, "campaign_id"),
        ("smsq.send_batch", {"campaign_id": "a" * 32, "first": 0, "last": 2}, "first"),
        ("smsq.campaign_sweep", {}, "campaign_id"),
        ("smsq.campaign_from_groups", {"campaign_id": "a" * 32, "group_ids": []}, "group_ids"),
    ],
)
def test_an_undecodable_payload_goes_to_the_dead_letter_list(
    smsq: Smsq, sandbox: httpx.Client, running: Running, task: str, kwargs: dict[str, Any], error: str
) -> None:
    before = len(smsq.store.dead_letters(1000))
    Celery(broker=running.settings.effective_broker_url).send_task(task, kwargs=kwargs, queue="regular")
    wait_until(lambda: len(smsq.store.dead_letters(1000)) > before, timeout=15, what="a dead letter")
    entry = smsq.store.dead_letters(1000)[-1]
    assert entry["task"] == task and error in entry["error"]
    assert received(sandbox) == []
