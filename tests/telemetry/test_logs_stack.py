"""JSON logs from a real stack (a worker of two prefork processes and beat, SMSQ_LOG__FORMAT=json):
every line is one JSON object, Celery's own lines included; a send's lines name its message, lane,
provider and attempt; no full phone number, secret or two-factor PIN is ever written."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.sandbox.server import running_sandbox
from tests.integration.stack import Running, stack_settings, started_stack

pytestmark = pytest.mark.integration

NUMBER = "+37251009077"
OTP_NUMBER = "+37251009078"
TOKEN = "sandbox-token"  # the sandbox's Direct Messenger token
WEBHOOK_SECRET = "log-test-secret-0123456789"


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, str]]:
    redis_server = RedisServer(tmp_path_factory.mktemp("logs-redis"))
    redis_server.start()
    try:
        with running_sandbox() as sandbox_url:
            settings = stack_settings(
                redis_server.url, sandbox_url, "it-logs", log__format="json",
                direct_messenger__enabled="true", direct_messenger__base_url=f"{sandbox_url}/dm",
                direct_messenger__api_token=TOKEN, direct_messenger__two_factor_base_url=f"{sandbox_url}/dm2fa",
                webhooks__secret=WEBHOOK_SECRET, routing__sms='["messente"]',
            )  # fmt: skip
            with started_stack(settings, tmp_path_factory.mktemp("logs")) as running:
                yield running, sandbox_url
    finally:
        redis_server.stop()


def log_lines(running: Running) -> list[str]:
    text = "".join(Path(child.log_path).read_text() for child in running.stack.children)
    return [line for line in text.splitlines() if line.strip()]


def test_json_logs_have_the_fields_and_never_a_number_secret_or_pin(stack: tuple[Running, str]) -> None:
    running, sandbox_url = stack
    smsq = running.smsq()
    with httpx.Client(base_url=sandbox_url, timeout=5) as sandbox:
        # The first attempt gets a 500: a retry line with its attempt and provider.
        sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                             "kind": "status", "status": 500, "count": 1}).raise_for_status()  # fmt: skip
        receipt = smsq.send(
            {"to": NUMBER, "priority": "high", "messages": [{"channel": "sms", "text": "hi"}]}
        )
        wait_until(lambda: smsq.result(receipt.message_id).status == "sent", timeout=60, what="the send")
        session = smsq.two_factor.send_code(OTP_NUMBER, pin_length=8)
        codes = sandbox.get("/_admin/messages", params={"provider": "dm2fa"}).json()["dm2fa"]
        (code,) = [c for c in codes if c["receiver"].endswith(OTP_NUMBER[-8:])]
        assert smsq.two_factor.verify(session.session_id, code["pin"]).authenticated
    message_id = receipt.message_id
    wait_until(lambda: any(message_id in line and "attempt 1 failed" in line for line in log_lines(running)),
               timeout=30, what="the failed attempt to be logged")  # fmt: skip
    lines = log_lines(running)
    events = [json.loads(line) for line in lines]  # every line, Celery's own included, is JSON
    assert all({"event", "level", "timestamp", "logger"} <= event.keys() for event in events)
    assert any(event["logger"].startswith("celery") for event in events)
    mine = [event for event in events if event.get("message_id") == message_id]
    assert mine, "no line names the message"
    assert all(event.get("lane") == "high" for event in mine)
    retry = [event for event in mine if "attempt 1 failed" in str(event["event"])]
    assert retry and retry[0]["provider"] == "messente" and retry[0]["attempt"] == 1
    text = "\n".join(lines)
    for digits in (NUMBER[1:], OTP_NUMBER[1:], NUMBER[4:], OTP_NUMBER[4:]):
        assert digits not in text, "a phone number reached the logs"
    for secret in (code["pin"], TOKEN, WEBHOOK_SECRET):
        assert secret not in text
