"""A worker killed (SIGKILL) in the middle of a provider call: its lease expires and the lane's
policy decides. An OTP (high) is sent again by another worker; a bulk message becomes `unknown`,
never silently lost and never stuck in `sending`."""

from __future__ import annotations

import signal
from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.processes import smsq_command, wait_until
from smsq.cli.redis_server import RedisServer
from tests.integration.conftest import wait_for
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration


@pytest.fixture
def short_leases(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(db_url(redis_server.url, 9), sandbox_url, "it-kill", lanes__lease_seconds="2")
    with started_stack(
        settings, tmp_path_factory.mktemp("kill"), workers=[("doomed", ("--concurrency", "2"))]
    ) as running:
        running.smsq().store.redis.flushdb()
        yield running


def test_a_killed_worker_resends_the_otp_and_gives_up_on_bulk(
    short_leases: Running, sandbox: httpx.Client
) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "latency", "latency_ms": 4000, "count": 2}).raise_for_status()  # fmt: skip
    smsq = short_leases.smsq()
    otp = smsq.send(
        {"to": "+37251110001", "priority": "high", "messages": [{"channel": "sms", "text": "1234"}]}
    )
    bulk = smsq.send(
        {"to": "+37251110002", "priority": "low", "messages": [{"channel": "sms", "text": "sale"}]}
    )
    wait_until(lambda: {smsq.result(otp.message_id).status, smsq.result(bulk.message_id).status} == {"sending"},
               timeout=15, what="both messages to be mid-call")  # fmt: skip

    doomed = next(child for child in short_leases.stack.children if child.name == "doomed")
    doomed.stop(signal.SIGKILL)
    env = short_leases.env
    short_leases.stack.start(
        "rescuer", smsq_command("worker", "--concurrency", "1", "--name", "rescuer@%h"), env
    )

    resent = wait_for(smsq, otp.message_id, {"sent"}, timeout=30)
    lost = wait_for(smsq, bulk.message_id, {"unknown"}, timeout=30)
    assert resent.last_error is not None and resent.last_error.code == "lease-expired"  # it was resent
    assert lost.last_error is not None and lost.last_error.code == "lease-expired"
