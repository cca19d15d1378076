"""Requests that got a 500 from the receiver (issue 13): non-ASCII tokens and signatures, JSON nested
thousands deep, bodies beyond the limit. Each is now refused with a 4xx and nothing is queued."""

from __future__ import annotations

import hashlib
import hmac
import uuid

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from smsq.config.limits import LimitSettings
from smsq.config.status_settings import WebhookSettings
from smsq.workers.status.followup import callback_path
from smsq.workers.webhooks.app import create_webhook_app
from tests.workers.webhooks.test_app import KEY, SECRET, Queue

MESSAGE_ID = str(uuid.uuid4())


def receiver(queue: Queue, **limits: int) -> TestClient:
    webhooks = WebhookSettings(
        public_base_url="https://smsq.example",
        secret=SecretStr(SECRET),
        messente_signature_key=SecretStr(KEY),
    )
    return TestClient(
        create_webhook_app(webhooks, queue, LimitSettings(**limits)), raise_server_exceptions=False
    )


@pytest.mark.parametrize("token", ["%C3%A9", "%ff", "%00", "\u00e9" * 40, "a" * 10_000])
def test_a_non_ascii_or_odd_token_is_401_not_500(token: str) -> None:
    queue = Queue()
    with receiver(queue) as client:
        for method, provider in (("GET", "smsapi"), ("GET", "direct_messenger"), ("POST", "messente")):
            answer = client.request(method, f"/dlr/{provider}/{MESSAGE_ID}/{token}")
            assert answer.status_code == 401, (provider, token, answer.status_code)
    assert queue.reports == []


@pytest.mark.parametrize("signature", ["\u00e9" * 64, "\udcff", "\u00ff\u00fe", " "])
def test_a_non_ascii_messente_signature_is_401_not_500(signature: str) -> None:
    queue = Queue()
    with receiver(queue) as client:
        answer = client.post(
            callback_path(SECRET, "messente", MESSAGE_ID),
            content=b"{}",
            headers={"X-Messente-Signature": signature.encode("utf-8", "surrogatepass")},  # raw bytes
        )
    assert answer.status_code == 401 and queue.reports == []


def test_deeply_nested_json_from_an_authentic_sender_is_400_not_500() -> None:
    queue = Queue()
    body = b"[" * 10_000
    signature = hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
    with receiver(queue) as client:
        answer = client.post(
            callback_path(SECRET, "messente", MESSAGE_ID),
            content=body,
            headers={"X-Messente-Signature": signature},
        )
        shallow = b'{"a":' * 40 + b"1" + b"}" * 40
        deep = client.post(
            callback_path(SECRET, "messente", MESSAGE_ID),
            content=shallow,
            headers={"X-Messente-Signature": hmac.new(KEY.encode(), shallow, hashlib.sha256).hexdigest()},
        )
    assert answer.status_code == 400 and "nested" in answer.json()["error"]
    assert deep.status_code == 400 and "SMSQ_LIMITS__JSON_DEPTH" in deep.json()["error"]
    assert queue.reports == []


def test_a_body_over_the_limit_is_413_whatever_its_declared_length() -> None:
    queue = Queue()
    with receiver(queue, webhook_body_bytes=2048) as client:
        declared = client.post(callback_path(SECRET, "messente", MESSAGE_ID), content=b"x" * 4096)
        chunked = client.post(
            callback_path(SECRET, "smsapi", MESSAGE_ID),
            content=iter([b"a" * 1500, b"b" * 1500]),  # no Content-Length: streamed
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
    assert declared.status_code == 413 and "SMSQ_LIMITS__WEBHOOK_BODY_BYTES" in declared.json()["error"]
    assert chunked.status_code == 413 and queue.reports == []


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("multipart/form-data; boundary=x", b"--x\r\ngarbage"),
        ("application/x-www-form-urlencoded", b"status=\xff\xfe"),
        ("application/x-www-form-urlencoded", b"&".join(b"f%d=1" % i for i in range(500))),
        ("text/plain", b"MsgId=1"),
    ],
)
def test_an_unreadable_smsapi_form_is_400_not_500(content_type: str, body: bytes) -> None:
    queue = Queue()
    with receiver(queue) as client:
        answer = client.post(
            callback_path(SECRET, "smsapi", MESSAGE_ID), content=body, headers={"Content-Type": content_type}
        )
    assert answer.status_code == 400 and "body" in answer.json()["error"] and queue.reports == []
