"""Poison broker messages through a real worker: each is taken off the queue, dead-lettered with its
raw body (cut to the limit) and a readable reason, acknowledged, and the worker goes on to send the
good message pushed after them. Without smsq.workers.poison the first of them (a body of ``42``)
stops the worker, and a restarted one dies on it again."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
import redis

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.config import contract as names
from smsq.producers.publisher import task_message
from tests.integration.conftest import received, wait_for
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

BODY_CHARS = 300  # SMSQ_LIMITS__DEAD_LETTER_BODY_CHARS for this stack


@pytest.fixture(scope="module")
def poison_stack(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    redis_url = db_url(redis_server.url, 14)
    redis.Redis.from_url(redis_url).flushdb()
    settings = stack_settings(
        redis_url, sandbox_url, "it-poison", limits__dead_letter_body_chars=str(BODY_CHARS)
    )
    with started_stack(
        settings,
        tmp_path_factory.mktemp("poison"),
        workers=(("poisoned", ("--concurrency", "1")),),
        beat=False,
    ) as running:
        yield running


def envelope(task: str = names.SUBMIT_TASK, body: bytes | None = None, **changes: Any) -> bytes:
    """A task message as kombu stores it, with its body and any envelope or header fields replaced."""
    message = json.loads(
        task_message(task, {"message_id": "00000000-0000-4000-8000-000000000001"}, "regular", "test")
    )
    if body is not None:
        message["body"] = base64.b64encode(body).decode()
    for name, value in changes.items():
        if name.startswith("header_"):
            message["headers"][name.removeprefix("header_")] = value
        else:
            message[name.replace("_", "-")] = value
    return json.dumps(message).encode()


def no_headers() -> bytes:
    message = json.loads(envelope(body=b'[[], {"message_id": "x"}, null]'))
    message["headers"] = {}
    return json.dumps(message).encode()


POISON: dict[str, Callable[[], bytes]] = {
    "body 42": lambda: envelope(body=b"42"),
    "raw garbage": lambda: b"\x00\xffgarbage",
    "raw JSON number": lambda: b"42",
    "envelope without properties": lambda: json.dumps({"body": "", "headers": {}}).encode(),
    "undecodable JSON": lambda: envelope(body=b"{not json"),
    "invalid UTF-8": lambda: envelope(body=b'[[], {"x": "\xff\xfe"}, {}]'),
    "nested 100,000 deep": lambda: envelope(body=b"[" * 100_000 + b"]" * 100_000),
    "kwargs not a mapping": lambda: envelope(body=b"[[], [1, 2], {}]"),
    "missing headers": no_headers,
    "unknown content type": lambda: envelope(content_type="application/x-python-serialize"),
    "huge body": lambda: envelope(body=b'[[], {"x": "' + b"a" * 2_000_000 + b'"}, {}]'),
    "protocol 1 body": lambda: envelope(
        body=json.dumps({"task": "smsq.send", "args": [], "kwargs": {}}).encode()
    ),
    "timelimit not seconds": lambda: envelope(header_timelimit="x"),
    "compressed": lambda: envelope(header_compression="application/x-gzip"),
    "an eta": lambda: envelope(header_eta="2999-01-01T00:00:00+00:00"),
    "unknown task": lambda: envelope(task="smsq.nonexistent", body=b"[[], {}, {}]"),
}


def test_every_poison_message_is_dead_lettered_and_the_worker_sends_the_next_good_one(
    poison_stack: Running, sandbox: httpx.Client
) -> None:
    smsq = poison_stack.smsq()
    broker = redis.Redis.from_url(poison_stack.settings.effective_broker_url)
    for make in POISON.values():
        broker.lpush(names.REGULAR, make())
    receipt = smsq.send({"to": "+37251234567", "messages": [{"channel": "sms", "text": "after the poison"}]})

    assert wait_for(smsq, receipt.message_id, {"sent"}, timeout=60).status == "sent"
    assert [r["body"]["to"] for r in received(sandbox)] == ["+37251234567"]
    wait_until(
        lambda: len(smsq.store.dead_letters(1000)) >= len(POISON), timeout=15, what="every dead letter"
    )
    letters = smsq.store.dead_letters(1000)
    assert len(letters) == len(POISON)
    for letter in letters:
        assert letter["error"] and "\n" not in letter["error"]
        assert len(letter["payload"]) <= BODY_CHARS + 3  # cut to the limit ("..." marks a cut)
    reasons = " | ".join(letter["error"] for letter in letters)
    for phrase in ("not [args, kwargs, embed]", "not a kombu message", "not JSON", "not UTF-8",
                   "nested", "kwargs are not a mapping", "no headers", "content type", "bytes; at most",
                   "protocol 1", "timelimit", "compressed", "eta", "unknown task"):  # fmt: skip
        assert phrase in reasons, phrase
    worker = next(child for child in poison_stack.stack.children if child.name == "poisoned")
    assert worker.alive()
    # Taken off the queue and acknowledged: nothing waits to be restored to a restarted worker. (The
    # good message's task is acknowledged once it returns, just after its record says `sent`.)
    wait_until(
        lambda: broker.llen(names.REGULAR) == 0 and broker.hlen("unacked") == 0,
        timeout=15,
        what="an empty lane and nothing unacked",
    )
