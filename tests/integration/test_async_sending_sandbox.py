"""Async campaign singles over real aiohttp (no httpx transport) against the sandbox on loopback: the
wire, the credentials, and the translation of aiohttp's failures into smsq's error codes."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.redis_server import free_port
from smsq.config.settings import Timeouts
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.store import MessageStore
from smsq.workers.campaigns.sending import BatchOptions, send_batch
from smsq.workers.sending.loop_http import AsyncHttp
from tests.integration.conftest import received
from tests.workers.campaigns.test_sending import FakeMessente, campaign, sender_for, statuses

pytestmark = pytest.mark.integration


@pytest.fixture
def loop_client(sandbox_url: str) -> Iterator[AsyncHttp]:
    client = AsyncHttp(f"{sandbox_url}/v1", Timeouts(read=1.0), auth=("sandbox", "sandbox"))
    yield client
    client.close()


def run(store: MessageStore, client: AsyncHttp, count: int = 5) -> tuple[str, dict[str, int]]:
    _, cid = campaign(store, count)
    options = BatchOptions(chunk=2, use_bulk=False, async_http=client)  # chunks overlap
    outcome = send_batch(cid, 1, count, sender_for(store, FakeMessente()), options, None)
    return cid, outcome.statuses


def fault(sandbox: httpx.Client, kind: str, count: int, **extra: object) -> None:
    rule = {"provider": "messente", "endpoint": "POST /v1/omnimessage", "kind": kind, "count": count}
    sandbox.post("/_admin/faults", json={**rule, **extra}).raise_for_status()


def test_every_message_reaches_the_sandbox_once_and_its_id_is_recorded(
    store: MessageStore, sandbox: httpx.Client, loop_client: AsyncHttp
) -> None:
    cid, counts = run(store, loop_client)
    assert counts == {"sent": 5}
    sent = received(sandbox)
    assert sorted(r["body"]["to"] for r in sent) == [f"+3725100000{n}" for n in range(1, 6)]
    assert {r["body"]["messages"][0]["text"] for r in sent} == {f"Hi N{n}" for n in range(1, 6)}
    record = store.get(message_id(cid, 1))
    assert record is not None and record["provider"] == "messente" and record["provider_message_id"]


@pytest.mark.parametrize(
    ("kind", "extra", "code"),
    [("status", {"status": 503}, "503"), ("malformed", {}, "malformed"),
     ("timeout", {"timeout_seconds": 3}, "timeout")],
)  # fmt: skip
def test_a_failed_answer_is_retried_later_with_its_reason(
    store: MessageStore,
    sandbox: httpx.Client,
    loop_client: AsyncHttp,
    kind: str,
    extra: dict[str, object],
    code: str,
) -> None:
    fault(sandbox, kind, 1, **extra)
    cid, counts = run(store, loop_client)
    assert counts == {"sent": 4, "queued": 1}
    waiting = [
        r for r in store.get_many([message_id(cid, p) for p in range(1, 6)]) if r["status"] == "queued"
    ]
    assert [r["last_error_code"] for r in waiting] == [code] and store.scheduled_count() == 1


def test_a_provider_that_cannot_be_reached_is_a_connect_error(store: MessageStore) -> None:
    client = AsyncHttp(f"http://127.0.0.1:{free_port()}/v1", Timeouts(connect=1.0), auth=("u", "p"))
    try:
        cid, counts = run(store, client, count=3)
    finally:
        client.close()
    assert counts == {"queued": 3} and statuses(store, cid, 3) == ["queued"] * 3
    record = store.get(message_id(cid, 1))
    assert record is not None and record["last_error_code"] == "connect" and "attempts" in record
