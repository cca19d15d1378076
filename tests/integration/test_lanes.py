"""A high-priority message does not wait behind queued bulk work, on either broker: on Redis the lanes
are consumed high first (BRPOP in order); on RabbitMQ each lane's consumer has its own prefetch (quorum
queues have no global QoS), so a high task never waits behind a prefetched bulk one."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from tests.integration.conftest import wait_for
from tests.integration.stack import BROKERS, Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=BROKERS)
def one_worker(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    sandbox_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    """A single general worker process: the hardest case, no dedicated high-lane worker."""
    settings = stack_settings(db_url(redis_server.url, 4), sandbox_url, f"it-lanes-{request.param}")
    with started_stack(
        settings,
        tmp_path_factory.mktemp("lanes"),
        workers=[("all", ("--concurrency", "1"))],
        broker=request.param,
    ) as running:
        yield running


def message(priority: str, n: int) -> dict[str, object]:
    return {
        "to": f"+3725{1000000 + n}",
        "priority": priority,
        "messages": [{"channel": "sms", "text": f"{priority} {n}"}],
    }


def test_high_overtakes_queued_bulk(one_worker: Running, sandbox: httpx.Client) -> None:
    smsq: Smsq = one_worker.smsq()
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "latency", "latency_ms": 100}).raise_for_status()  # fmt: skip
    bulk = [smsq.send(message("low", n)).message_id for n in range(15)]
    otp = smsq.send(message("high", 99)).message_id
    wait_for(smsq, bulk[-1], {"sent"}, timeout=30)
    results = smsq.results([*bulk, otp])
    otp_sent = results[otp].sent_at  # type: ignore[union-attr]
    assert otp_sent is not None
    bulk_before = sum(1 for m in bulk if results[m].sent_at < otp_sent)  # type: ignore[operator,union-attr]
    # At most the one in flight and the one prefetched (prefetch multiplier 1) go before it.
    assert bulk_before <= 2, f"{bulk_before} of 15 queued low messages were sent before the OTP"
