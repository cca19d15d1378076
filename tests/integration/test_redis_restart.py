"""Nothing is lost when Redis restarts with AOF on (bench/faults.py scenario 2, short): Redis is
killed (SIGKILL) while messages and a campaign are queued, scheduled and in flight, then restarted
from its append-only file (appendfsync always); every message still reaches a settled state within a
minute, and none is sent twice. The broker's visibility timeout stays at its default hour: whatever
the workers held when their connections broke must come back without it."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.campaigns.model import message_id
from tests.integration.conftest import received
from tests.integration.faults import received_per_number
from tests.integration.stack import Running, stack_settings, started_stack

pytestmark = pytest.mark.integration


@pytest.fixture
def aof_redis(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("aof"), appendonly=True)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def stack_on_aof(
    aof_redis: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(
        aof_redis.url, sandbox_url, "it-aof", lanes__lease_seconds="3", recovery__high_seconds="1",
        recovery__regular_seconds="3", recovery__low_seconds="3", campaigns__batch_size="20",
    )  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("aof-stack")) as running:
        yield running


def test_a_redis_restart_loses_nothing(
    aof_redis: RedisServer, stack_on_aof: Running, sandbox: httpx.Client
) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "latency", "latency_ms": 150}).raise_for_status()  # fmt: skip
    smsq = stack_on_aof.smsq()
    soon = (datetime.now(UTC) + timedelta(seconds=3)).isoformat()
    ids = [
        smsq.send({"to": f"+3725700{n:04d}", "messages": [{"channel": "sms", "text": "x"}]}).message_id
        for n in range(30)
    ]
    ids += [smsq.send({"to": f"+3725800{n:04d}", "time_to_send": soon, "messages": [{"channel": "sms", "text": "x"}]}).message_id
            for n in range(5)]  # fmt: skip
    campaign = smsq.campaigns.create(
        name="aof", template={"messages": [{"channel": "sms", "text": "x"}]},
        recipients=[f"+3725900{n:04d}" for n in range(100)],
    )  # fmt: skip
    ids += [message_id(campaign.id, position) for position in range(1, 101)]
    wait_until(lambda: len(received(sandbox)) >= 3, timeout=20, what="the first sends")

    aof_redis.kill()
    aof_redis.start()  # same port, replaying the append-only file

    def settled() -> bool:
        try:
            return all(r is not None and r.status in {"sent", "unknown"} for r in smsq.results(ids).values())
        except Exception:  # the producer's own connection may still be re-establishing
            return False

    wait_until(settled, timeout=60, interval=0.5, what="every message to settle after the restart")
    # by the same worker: it rode the outage out (smsq.workers.reconnect), no restart policy needed
    assert all(child.alive() for child in stack_on_aof.stack.children)
    statuses = Counter(r.status for r in smsq.results(ids).values() if r is not None)
    per_number = received_per_number(sandbox)
    assert sum(statuses.values()) == 135 and statuses["sent"] >= 110, statuses
    assert max(per_number.values()) == 1  # at most once, even across the restart
    # `unknown` only for sends in flight at the kill (a bulk call carries up to a chunk), whose
    # outcome could not be recorded.
    assert statuses["unknown"] <= 2 + 20, statuses


def test_a_worker_rides_out_redis_dying_mid_task(
    aof_redis: RedisServer, sandbox_url: str, sandbox: httpx.Client, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """The same worker process (and beat) goes on after Redis is SIGKILLed and started again: no
    restart policy needed. The kill comes while a campaign message is at the provider (a task
    unacknowledged) and the worker's other pool slot waits on BRPOP: what made kombu 5.7 end the worker
    (smsq.workers.reconnect). The provider's answer comes while Redis is down; it is recorded once
    Redis is back (smsq.workers.sending.recording), so the message ends `sent`, not `unknown`."""
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "latency", "latency_ms": 2000}).raise_for_status()  # fmt: skip
    settings = stack_settings(aof_redis.url, sandbox_url, "it-ride", lanes__lease_seconds="60",
                              recovery__regular_seconds="3", campaigns__use_bulk="false")  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("ride-stack")) as running:
        smsq = running.smsq()
        worker = next(c for c in running.stack.children if c.name == "worker")
        beat = next(c for c in running.stack.children if c.name == "beat")
        pids = (worker.process.pid, beat.process.pid)
        campaign = smsq.campaigns.create(name="ride", template={"messages": [{"channel": "sms", "text": "x"}]},
                                         recipients=["+37257100001"])  # fmt: skip
        before = message_id(campaign.id, 1)
        wait_until(lambda: len(received(sandbox)) >= 1, timeout=20, what="the first send at the provider")

        aof_redis.kill()
        log = worker.log_path
        wait_until(lambda: "Connection to broker lost" in log.read_text(errors="replace"), timeout=20,
                   what="the worker to notice Redis is gone")  # fmt: skip
        wait_until(lambda: "Redis unreachable" in log.read_text(errors="replace"), timeout=20,
                   what="the provider's answer, with nowhere to record it")  # fmt: skip
        aof_redis.start()  # same port, from the append-only file

        def accepted() -> str | None:
            try:
                soon = (datetime.now(UTC) + timedelta(seconds=1)).isoformat()
                now = smsq.send({"to": "+37257100002", "messages": [{"channel": "sms", "text": "y"}]})
                later = smsq.send({"to": "+37257100003", "time_to_send": soon,
                                   "messages": [{"channel": "sms", "text": "z"}]})  # fmt: skip
            except Exception:  # the producer's own connection may still be re-establishing
                return None
            ids.extend([now.message_id, later.message_id])
            return now.message_id

        ids: list[str] = []
        wait_until(lambda: accepted() is not None, timeout=20, what="a send to be accepted after the restart")
        # Sent by the worker that lived through it (a send now, and one beat released when due), and
        # the answer that came during the outage recorded: all three `sent`, well within the lease.
        ids.append(before)
        wait_until(lambda: all(r is not None and r.status == "sent" for r in smsq.results(ids).values()),
                   timeout=30, interval=0.5, what="all three messages sent after the restart")  # fmt: skip
        assert worker.alive() and beat.alive(), worker.log_tail(60)
        assert (worker.process.pid, beat.process.pid) == pids
        assert "Unrecoverable error" not in log.read_text(errors="replace")
        assert max(received_per_number(sandbox).values()) == 1
