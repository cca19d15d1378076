"""Workers and beat with the state store behind Redis Sentinel, through a failover: real `smsq worker`
and `smsq beat` processes on SMSQ_REDIS_URL=redis+sentinel://..., a master, replica and sentinel of
the test's own, RabbitMQ (a vhost of the test's own) as the broker. Singles, scheduled messages and a
campaign go to the sandbox's Messente while the master is SIGKILLed; the sentinel promotes the replica
and every process goes on on it.

The broker is RabbitMQ, not Redis through Celery's ``sentinel://`` transport: the deployment that
puts the state behind Sentinel is the one that outgrew one Redis, and smsq's Redis fast path writes
the lanes with a plain client (SMSQ_BROKER_URL takes redis:// or amqp://). So only the state store
fails over here, which is what the test is about.

What may be lost is what Redis documents for asynchronous replication: writes the master executed and
had not yet passed to the replica. The test tells those apart exactly: just before the kill it writes
a marker and waits (``WAIT 1``) until the replica confirms the stream up to it, and a MONITOR lists
what the master executed after it (``SentinelCluster.kill_master_watched``). A message none of those
commands names must be received exactly once by the sandbox and end `sent` (an answer that comes
while no master answers is written once the new one does: smsq.workers.sending.recording); one they
name may not."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from smsq.cli.redis_server import RedisServer
from smsq.producers.campaigns.model import message_id
from smsq.producers.client import Smsq
from smsq.producers.errors import StoreUnavailable
from tests.integration.faults import SENT, received_per_number, settle
from tests.integration.stack import Running, db_url, stack_settings, started_stack
from tests.support.sentinel import SentinelCluster

pytestmark = pytest.mark.integration

WORKERS = (("sentinel-a", ("--concurrency", "2")), ("sentinel-b", ("--concurrency", "2")))
BEFORE, AFTER = 80, 80  # singles accepted before the kill, and after the producer is back


@pytest.fixture
def behind_sentinel(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Running, SentinelCluster]]:
    cluster = SentinelCluster(tmp_path_factory.mktemp("sentinel-stack-redis"))
    cluster.start()
    try:
        settings = stack_settings(
            cluster.url, sandbox_url, "it-sentinel",
            # Celery's result backend is named on its own behind Sentinel; smsq reads no results.
            result_backend=db_url(redis_server.url, 1),
            lanes__lease_seconds="3", recovery__high_seconds="1", recovery__regular_seconds="3",
            recovery__low_seconds="3", campaigns__batch_size="20",
        )  # fmt: skip
        with started_stack(
            settings, tmp_path_factory.mktemp("sentinel-stack"), workers=WORKERS, broker="amqp"
        ) as running:
            yield running, cluster
    finally:
        cluster.stop()


def send(smsq: Smsq, n: int, due: str | None, refused: list[int]) -> str:
    """One message, accepted: a send refused during the switch (StoreUnavailable) is repeated with
    its idempotency key, as the README tells a caller to; each refusal is noted in ``refused``."""
    message = {"to": f"+3725300{n:04d}", "messages": [{"channel": "sms", "text": f"n{n}"}]}
    if due is not None:
        message["time_to_send"] = due
    deadline = time.monotonic() + 30
    while True:
        try:
            return smsq.send(message, idempotency_key=f"sentinel-{n}").message_id
        except StoreUnavailable:
            refused.append(n)
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


def test_workers_and_beat_go_on_through_a_failover_and_send_each_message_once(
    behind_sentinel: tuple[Running, SentinelCluster], sandbox: httpx.Client
) -> None:
    running, cluster = behind_sentinel
    refused: list[int] = []
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "latency", "latency_ms": 100}).raise_for_status()  # fmt: skip
    smsq = running.smsq()
    campaign = smsq.campaigns.create(
        name="sentinel", template={"messages": [{"channel": "sms", "text": "x"}]},
        recipients=[f"+3725400{n:04d}" for n in range(100)],
    )  # fmt: skip
    ids = [message_id(campaign.id, position) for position in range(1, 101)]
    n = 0
    while n < BEFORE:  # every fourth one scheduled a second ahead: beat releases it across the kill
        due = (datetime.now(UTC) + timedelta(seconds=1)).isoformat() if n % 4 == 0 else None
        ids.append(send(smsq, n, due, refused))
        n += 1
        time.sleep(0.01)
    old_port = cluster.master_port()
    at_kill = sum(received_per_number(sandbox).values())
    window = cluster.kill_master_watched()
    killed = time.monotonic()
    ids.append(send(smsq, n, None, refused))
    back_after = time.monotonic() - killed
    n += 1
    while n < BEFORE + AFTER:
        due = (datetime.now(UTC) + timedelta(seconds=1)).isoformat() if n % 4 == 0 else None
        ids.append(send(smsq, n, due, refused))
        n += 1
        time.sleep(0.01)
    assert cluster.master_port() != old_port

    result = settle(smsq, ids, sandbox, timeout=60)
    exposed = {mid for mid in ids if any(mid in command for command in window)}
    received = received_per_number(sandbox)
    records = smsq.results(ids)
    wrong = {}
    exposed_ends = sorted(
        (r.status, received[r.to]) if r else ("missing", 0) for m, r in records.items() if m in exposed
    )
    for mid, record in records.items():
        if mid in exposed:
            continue
        if record is None or record.status not in SENT or received[record.to] != 1:
            wrong[mid] = (record and record.status, record and received[record.to])
    print(f"{len(ids)} accepted, {at_kill} at the provider at the kill, producer back {back_after:.2f} s "
          f"after it ({len(refused)} refusals of {len(set(refused))} sends meanwhile); {len(window)} "
          f"commands after the replica's last confirmed write, naming {len(exposed)} messages, which "
          f"ended {exposed_ends}; {result}")  # fmt: skip
    for child in running.stack.children:
        assert child.alive(), f"{child.name} died:\n{child.log_tail(40)}"
    assert not wrong, f"{len(wrong)} of the messages the replica had are not sent exactly once: {wrong}"
    assert 0 < at_kill < len(ids) - AFTER, f"the kill was not mid-run ({at_kill} sent before it)"
    # What the kill can have taken is a moment's writes, not the run.
    assert len(exposed) <= 10, exposed
    assert max(received.values()) <= 2, result
