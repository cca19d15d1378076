"""Redis unreachable: every producer call fails within a bounded time with one StoreUnavailable that
names the server and the cause (never a hang, never a raw redis error, never the password)."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from smsq.cli.redis_server import RedisServer, free_port
from smsq.config.settings import Settings
from smsq.producers.client import Smsq
from smsq.producers.errors import SmsqError, StoreUnavailable

SMS = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]}
FAST = {"connect_timeout": 0.3, "socket_timeout": 0.3, "retries": 1}
# (retries + 1) tries of at most the larger timeout, plus the backoff between them, plus slack.
BOUND_SECONDS = 2 * 0.3 + 0.5 + 1.0


@pytest.fixture
def silent_server() -> Iterator[int]:
    """A port that accepts connections and never answers: the hang a dead or partitioned host causes."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
        yield int(sock.getsockname()[1])


def producer(port: int) -> Smsq:
    settings = Settings(
        _env_file=None,  # type: ignore[call-arg]
        redis_url=f"redis://:s3cret@127.0.0.1:{port}/3",
        redis_client=FAST,  # type: ignore[arg-type]
    )
    return Smsq.from_settings(settings)


CALLS: dict[str, Callable[[Smsq], Any]] = {
    "send": lambda smsq: smsq.send(SMS),
    "send with a key": lambda smsq: smsq.send(SMS, idempotency_key="k-1"),
    "result": lambda smsq: smsq.result("00000000-0000-4000-8000-000000000001"),
    "summary": lambda smsq: smsq.summary("2026-01-01T00:00", "2026-01-01T05:00"),
    "campaign": lambda smsq: smsq.campaigns.create(
        name="c", template={"messages": [{"channel": "sms", "text": "x"}]}, recipients=["+37251234567"]
    ),
    "blacklist": lambda smsq: smsq.blacklist.add("+37251234567"),
}


@pytest.mark.parametrize("call", list(CALLS), ids=list(CALLS))
@pytest.mark.parametrize("how", ["refused", "silent"])
def test_every_call_fails_fast_with_one_clear_error(call: str, how: str, silent_server: int) -> None:
    port = free_port() if how == "refused" else silent_server
    smsq = producer(port)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable) as caught:
        CALLS[call](smsq)
    assert time.monotonic() - started < BOUND_SECONDS
    message = str(caught.value)
    assert message.startswith(f"Redis at 127.0.0.1:{port}/3 is unreachable (")
    assert ("Connection" in message or "Timeout" in message) and "s3cret" not in message
    assert isinstance(caught.value, SmsqError) and caught.value.__cause__ is None


def test_with_redis_back_the_same_producer_works_again(tmp_path: Any) -> None:
    server = RedisServer(tmp_path)
    smsq = producer(server.port)
    with pytest.raises(StoreUnavailable):
        smsq.send(SMS)
    server.start()
    try:
        receipt = smsq.send(SMS)
        assert smsq.result(receipt.message_id).status == "queued"
    finally:
        server.stop()
