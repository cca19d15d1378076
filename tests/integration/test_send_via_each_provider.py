"""SMS end to end through Direct Messenger and through SMSAPI, not only through Messente.

Each provider gets its own stack (a real `smsq worker` and `smsq beat` as subprocesses) whose routing
sends SMS through that provider alone, on its own Redis db and key prefix so its queues never mix with
the main stack's (db 1). Assertions read both sides: what the sandbox received and the stored result.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from pydantic import SecretStr

from smsq.cli.redis_server import RedisServer
from smsq.config import contract as names
from smsq.config.settings import SmsapiSettings
from smsq.producers.client import Smsq
from smsq.producers.errors import TwoFactorFailed
from smsq.workers.providers.smsapi.sms import SmsapiClient
from smsq.workers.sending.single import DUPLICATE_NOTE
from tests.integration.conftest import wait_for
from tests.integration.stack import db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

TOKEN = "sandbox-token"
DM_TO, SMSAPI_TO = "+37251234567", "+48500600700"
# SMSAPI's read timeout and first backoff, chosen so a request held 2 s by the sandbox times out
# (1 s) and its retry (2.5 s later, no jitter) arrives after the sandbox has accepted the first one.
SMSAPI_READ_TIMEOUT, SMSAPI_FIRST_BACKOFF, SMSAPI_HELD_MS = 1.0, 2.5, 2000


def provider_stack(
    name: str, db: int, redis_server: RedisServer, sandbox_url: str, log_dir: Path, **extra: str
) -> Iterator[Smsq]:
    """A worker and beat on Redis db ``db`` with key prefix ``it-<name>`` and Messente switched off, so
    SMS can only go out through the provider ``extra`` configures; yields a producer for them."""
    redis_url = db_url(redis_server.url, db)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()  # only this stack's db: nothing left from an earlier run
    settings = stack_settings(redis_url, sandbox_url, f"it-{name}", messente__enabled="false", **extra)
    with started_stack(settings, log_dir, workers=(("worker", ("--concurrency", "1")),)) as running:
        yield running.smsq()


@pytest.fixture(scope="module")
def dm_smsq(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smsq]:
    yield from provider_stack(
        "dm", 2, redis_server, sandbox_url, tmp_path_factory.mktemp("stack-dm"),
        routing__sms='["direct_messenger"]', direct_messenger__enabled="true",
        direct_messenger__base_url=f"{sandbox_url}/dm", direct_messenger__api_token=TOKEN,
        direct_messenger__two_factor_base_url=f"{sandbox_url}/dm2fa",
    )  # fmt: skip


@pytest.fixture(scope="module")
def smsapi_smsq(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smsq]:
    yield from provider_stack(
        "smsapi", 3, redis_server, sandbox_url, tmp_path_factory.mktemp("stack-smsapi"),
        routing__sms='["smsapi"]', smsapi__enabled="true", smsapi__base_url=f"{sandbox_url}/smsapi",
        smsapi__token=TOKEN, smsapi__timeouts__read=str(SMSAPI_READ_TIMEOUT),
        retry__base_delay=str(SMSAPI_FIRST_BACKOFF), retry__max_delay="5", retry__jitter="0",
    )  # fmt: skip


def sms(to: str, sender: str = "smsq", text: str = "hello") -> dict[str, Any]:
    return {"to": to, "messages": [{"channel": "sms", "text": text, "sender": sender}]}


def received(sandbox: httpx.Client, provider: str, path: str) -> list[dict[str, Any]]:
    found = sandbox.get("/_admin/requests", params={"provider": provider, "path": path}).json()["requests"]
    return [r for r in found if r["method"] == "POST"]


def accepted(sandbox: httpx.Client, provider: str) -> list[dict[str, Any]]:
    messages: list[dict[str, Any]] = sandbox.get("/_admin/messages", params={"provider": provider}).json()[
        provider
    ]
    return messages


def add_fault(sandbox: httpx.Client, **rule: Any) -> None:
    sandbox.post("/_admin/faults", json=rule).raise_for_status()


# --- Direct Messenger ---------------------------------------------------------------------------------


def test_an_sms_goes_out_through_direct_messenger(dm_smsq: Smsq, sandbox: httpx.Client) -> None:
    receipt = dm_smsq.send(sms(DM_TO, sender="Acme", text="Your code is 1234"))
    result = wait_for(dm_smsq, receipt.message_id, {"sent", "failed"})
    assert (result.status, result.provider, result.attempts) == ("sent", "direct_messenger", 1)
    (request,) = received(sandbox, "dm", "/dm")
    assert request["status"] == 200
    # Form-encoded, digits-only receiver, the token in the body (masked by the sandbox's recorder).
    assert request["body"] == {
        "api_token": "***",
        "smstext": "Your code is 1234",
        "receiver": "37251234567",
        "sender": "Acme",
    }
    (message,) = accepted(sandbox, "dm")
    assert (message["to"], message["extra"]["text"]) == ("37251234567", "Your code is 1234")
    # Without a dlruri Direct Messenger answers no id at all: the smsq id is the handle.
    assert result.provider_message_id == receipt.message_id


def test_a_direct_messenger_refusal_fails_at_once_with_its_field(
    dm_smsq: Smsq, sandbox: httpx.Client
) -> None:
    """A numeric sender without '+' counts as alphanumeric at DM (11 at most): a 422 on `sender`."""
    receipt = dm_smsq.send(sms(DM_TO, sender="123456789012"))
    result = wait_for(dm_smsq, receipt.message_id, {"sent", "failed"})
    assert (result.status, result.provider, result.attempts) == ("failed", "direct_messenger", 1)
    assert result.last_error is not None and result.last_error.code == "sender"
    assert "11 characters" in result.last_error.detail
    assert [(a.outcome, a.code) for a in result.attempt_log] == [("permanent", "sender")]
    assert [r["status"] for r in received(sandbox, "dm", "/dm")] == [422]
    assert accepted(sandbox, "dm") == []


def test_a_direct_messenger_5xx_is_retried_then_sent(dm_smsq: Smsq, sandbox: httpx.Client) -> None:
    add_fault(sandbox, provider="dm", endpoint="POST /dm", kind="status", status=503, count=1)
    receipt = dm_smsq.send(sms(DM_TO))
    result = wait_for(dm_smsq, receipt.message_id, {"sent", "failed"})
    assert (result.status, result.attempts) == ("sent", 2)
    assert [(a.outcome, a.code) for a in result.attempt_log] == [("transient", "503"), ("sent", None)]
    assert [r["status"] for r in received(sandbox, "dm", "/dm")] == [503, 200]


# --- SMSAPI -------------------------------------------------------------------------------------------


def test_an_sms_goes_out_through_smsapi(smsapi_smsq: Smsq, sandbox: httpx.Client) -> None:
    receipt = smsapi_smsq.send(sms(SMSAPI_TO, sender="Acme", text="Your code is 1234"))
    result = wait_for(smsapi_smsq, receipt.message_id, {"sent", "failed"})
    assert (result.status, result.provider, result.attempts) == ("sent", "smsapi", 1)
    (request,) = received(sandbox, "smsapi", "/smsapi/sms.do")
    assert request["status"] == 200
    assert request["headers"]["content-type"] == "application/json"
    # JSON, digits-only `to`, the smsq id as idx with check_idx (SMSAPI's idempotency key).
    assert request["body"] == {
        "to": "48500600700",
        "message": "Your code is 1234",
        "format": "json",
        "encoding": "utf-8",
        "idx": receipt.message_id,
        "check_idx": 1,
        "from": "Acme",
    }
    (message,) = accepted(sandbox, "smsapi")
    assert result.provider_message_id == message["message_id"]
    assert message["extra"]["idx"] == receipt.message_id


def test_an_smsapi_refusal_in_a_200_body_fails_at_once_with_its_code(
    smsapi_smsq: Smsq, sandbox: httpx.Client, sandbox_url: str
) -> None:
    """The number is on SMSAPI's blacklist (put there with smsq's own Blacklist API client): sms.do
    answers HTTP 200 with error 13, which the error table makes permanent."""
    settings = SmsapiSettings(base_url=f"{sandbox_url}/smsapi", token=SecretStr(TOKEN))
    client = SmsapiClient.from_settings(settings)
    try:
        assert client.blacklist_add(SMSAPI_TO) is True
        assert [entry.phone for entry in client.blacklist()] == [SMSAPI_TO]  # back as E.164
    finally:
        client.close()
    receipt = smsapi_smsq.send(sms(SMSAPI_TO))
    result = wait_for(smsapi_smsq, receipt.message_id, {"sent", "failed"})
    assert (result.status, result.provider, result.attempts) == ("failed", "smsapi", 1)
    assert result.last_error is not None and result.last_error.code == "13"
    assert "48500600700: The number is blacklisted for this user" in result.last_error.detail
    assert [r["status"] for r in received(sandbox, "smsapi", "/smsapi/sms.do")] == [200]
    assert accepted(sandbox, "smsapi") == []


def test_an_smsapi_429_waits_retry_after_without_spending_an_attempt(
    smsapi_smsq: Smsq, sandbox: httpx.Client
) -> None:
    add_fault(
        sandbox, provider="smsapi", endpoint="POST /smsapi/sms.do", kind="rate_limit", retry_after=1, count=1
    )
    receipt = smsapi_smsq.send(sms(SMSAPI_TO))
    result = wait_for(smsapi_smsq, receipt.message_id, {"sent", "failed"})
    assert (result.status, result.attempts) == ("sent", 1)
    limited, sent = result.attempt_log
    assert (limited.outcome, limited.code, sent.outcome) == ("rate_limited", "429", "sent")
    assert (sent.at - limited.at).total_seconds() >= 1.0  # Retry-After: 1 honoured
    assert [r["status"] for r in received(sandbox, "smsapi", "/smsapi/sms.do")] == [429, 200]


def test_a_lost_smsapi_answer_is_resent_safely_and_recorded_as_a_duplicate(
    smsapi_smsq: Smsq, sandbox: httpx.Client
) -> None:
    """The sandbox holds the first request past the client's read timeout and then accepts it; the
    retry carries the same idx, SMSAPI refuses it as a repeat (53), and the message is `sent` once."""
    add_fault(
        sandbox,
        provider="smsapi",
        endpoint="POST /smsapi/sms.do",
        kind="latency",
        latency_ms=SMSAPI_HELD_MS,
        count=1,
    )
    receipt = smsapi_smsq.send(sms(SMSAPI_TO))
    result = wait_for(smsapi_smsq, receipt.message_id, {"sent", "failed"}, timeout=30)
    assert (result.status, result.provider, result.attempts) == ("sent", "smsapi", 2)
    assert [(a.outcome, a.code) for a in result.attempt_log] == [
        ("transient", "timeout"),
        ("sent", "duplicate"),
    ]
    assert result.attempt_log[-1].detail == DUPLICATE_NOTE
    assert result.provider_message_id == receipt.message_id  # SMSAPI echoes idx in its callbacks
    assert len(accepted(sandbox, "smsapi")) == 1  # one message went out, not two
    second = received(sandbox, "smsapi", "/smsapi/sms.do")[-1]
    assert second["body"]["idx"] == receipt.message_id
    record = smsapi_smsq.store.get(receipt.message_id)
    assert record is not None and json.loads(record["provider_parts"]) == []


def test_a_two_factor_pin_is_sent_and_verified_once_through_a_worker(
    dm_smsq: Smsq, sandbox: httpx.Client
) -> None:
    session = dm_smsq.two_factor.send_code("+372 5100 9001", pin_length=6)
    codes = sandbox.get("/_admin/messages", params={"provider": "dm2fa"}).json()["dm2fa"]
    (code,) = [c for c in codes if c["receiver"].endswith("51009001")]
    assert len(code["pin"]) == 6 and session.expires_in == 300 and len(session.session_id) == 32
    assert dm_smsq.two_factor.verify(session.session_id, "WRONG1").outcome == "not_found"
    assert dm_smsq.two_factor.verify(session.session_id, code["pin"]).authenticated
    assert dm_smsq.two_factor.verify(session.session_id, code["pin"]).outcome == "expired"  # used up


def test_two_factor_without_direct_messenger_says_what_to_configure(smsq: Smsq) -> None:
    with pytest.raises(TwoFactorFailed, match="TWO_FACTOR_BASE_URL") as caught:
        smsq.two_factor.send_code("+37251009002")
    assert caught.value.code == "unavailable"


def test_a_two_factor_task_with_a_bad_payload_is_dead_lettered_not_sent(
    dm_smsq: Smsq, sandbox: httpx.Client
) -> None:
    # Published as another application would: smsq's own publisher only sends valid payloads.
    app = dm_smsq.publisher.app  # type: ignore[attr-defined]
    bad = {"session_id": "x", "pin": "SECRET1"}
    answer = app.send_task(names.TWO_FACTOR_VERIFY_TASK, kwargs=bad, queue=names.HIGH).get(timeout=15)
    assert answer["error"] == "invalid" and "session_id" in answer["detail"]
    dead = [d for d in dm_smsq.store.dead_letters() if d["task"] == names.TWO_FACTOR_VERIFY_TASK]
    assert len(dead) == 1 and "SECRET1" not in json.dumps(dead[0])  # the PIN is not kept
    assert sandbox.get("/_admin/requests", params={"provider": "dm2fa"}).json()["requests"] == []
