"""Delivery status through the real stack: `smsq worker`, `smsq beat` (poll claimer) and `smsq webhooks`
as subprocesses against the sandbox. The first poll is 4 s after the send, so a report pushed at once
is seen to settle a message before any poll does."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from smsq.cli.processes import http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.producers.client import Smsq
from tests.integration.conftest import wait_for
from tests.integration.stack import db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration
SECRET = "integration-secret-0123456789"


@pytest.fixture(scope="module")
def webhooks_url() -> str:
    return f"http://127.0.0.1:{free_port()}"


@pytest.fixture(scope="module")
def status_smsq(
    redis_server: RedisServer, sandbox_url: str, webhooks_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smsq]:
    redis_url = db_url(redis_server.url, 9)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    settings = stack_settings(
        redis_url, sandbox_url, "it-status",
        polling__intervals="[4]", polling__then_every="1", polling__claim_interval="0.1",
        webhooks__public_base_url=webhooks_url, webhooks__secret=SECRET,
    )  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("status")) as running:
        port = webhooks_url.rsplit(":", 1)[1]
        child = running.stack.start("webhooks", smsq_command("webhooks", "--port", port), running.env)
        try:
            wait_until(http_ready(f"{webhooks_url}/health"), timeout=30, what="smsq webhooks to answer")
        except TimeoutError:
            pytest.fail(f"webhooks:\n{child.log_tail()}")
        yield running.smsq()


def sms(**extra: Any) -> dict[str, Any]:
    return {
        "to": "+37251234567",
        "messages": [{"channel": "sms", "text": "hello", "sender": "smsq"}],
        **extra,
    }


def status_polls(sandbox: httpx.Client) -> list[dict[str, Any]]:
    requests = sandbox.get("/_admin/requests", params={"provider": "messente"}).json()["requests"]
    return [r for r in requests if r["method"] == "GET" and r["path"].endswith("/status")]


def test_beat_polls_a_sent_message_to_its_final_status(status_smsq: Smsq, sandbox: httpx.Client) -> None:
    sandbox.post("/_admin/outcomes", json={"phone": "+37251234567", "outcome": "undeliverable"})
    receipt = status_smsq.send(sms())
    wait_for(status_smsq, receipt.message_id, {"sent"})
    sandbox.post("/_admin/clock", json={"advance": 10}).raise_for_status()  # final at the sandbox now
    result = wait_for(status_smsq, receipt.message_id, {"undeliverable"}, timeout=30)
    (sms_result,) = result.channel_results
    assert (sms_result.provider_status, sms_result.err, sms_result.via) == ("UNDELIV", 1, "poll")
    assert result.last_error is not None and result.last_error.code == "1"
    assert len(status_polls(sandbox)) == 1  # settled by its first poll, then out of the schedule


def test_the_sandbox_pushes_reports_to_smsq_webhooks_and_they_settle_the_message(
    status_smsq: Smsq, sandbox: httpx.Client, webhooks_url: str
) -> None:
    message = {**sms(), "messages": [{"channel": "sms", "text": "hi"}, {"channel": "viber", "text": "hi"}]}
    sandbox.post("/_admin/outcomes", json={"phone": "+37251234567", "outcome": "failed", "channel": "sms"})
    receipt = status_smsq.send(message)
    wait_for(status_smsq, receipt.message_id, {"sent"})
    (send_request,) = [r for r in sandbox.get("/_admin/requests").json()["requests"] if r["method"] == "POST"]
    assert send_request["body"]["dlr_url"].startswith(f"{webhooks_url}/dlr/messente/{receipt.message_id}/")
    sandbox.post("/_admin/clock", json={"advance": 10}).raise_for_status()  # sms failed, viber delivered
    sandbox.post("/_admin/delivery_reports/flush").raise_for_status()
    wait_for(status_smsq, receipt.message_id, {"delivered"}, timeout=15)
    # The four reports are applied by concurrent tasks in any order; wait for the last of them.
    channels = lambda: [c.status for c in status_smsq.result(receipt.message_id).channel_results]  # noqa: E731
    wait_until(lambda: channels() == ["failed", "delivered"], timeout=15, what="both channels to be settled")
    result = status_smsq.result(receipt.message_id)
    assert [(c.channel, c.status, c.via) for c in result.channel_results] == [
        ("sms", "failed", "report"),
        ("viber", "delivered", "report"),
    ]
    assert [r["status"] for r in sandbox.get("/_admin/delivery_reports").json()["reports"]] == [200] * 4
    assert status_polls(sandbox) == []  # settled before its first poll was due


def test_smsq_webhooks_refuses_a_report_without_the_messages_token(
    status_smsq: Smsq, webhooks_url: str
) -> None:
    report = {"status": "DELIVRD", "channel": "sms", "omnimessage_id": "x", "err": 0}
    response = httpx.post(f"{webhooks_url}/dlr/messente/{uuid.uuid4()}/{'0' * 40}", json=report, timeout=5)
    assert response.status_code == 401
