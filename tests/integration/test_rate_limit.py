"""Four worker processes share one global limit: the provider sees at most the configured rate, and
nearly all of it is used. (Celery's own rate_limit is per worker and is not used.)"""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from tests.integration.conftest import received, wait_for
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

RATE, BURST, MESSAGES = 25.0, 5, 125


@pytest.fixture(scope="module")
def four_processes(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(db_url(redis_server.url, 5), sandbox_url, "it-rate",
                              messente__rate_per_second=str(RATE), messente__burst=str(BURST))  # fmt: skip
    with started_stack(
        settings, tmp_path_factory.mktemp("rate"), workers=[("all", ("--concurrency", "4"))]
    ) as running:
        yield running


def test_the_provider_sees_the_configured_rate_from_four_processes(
    four_processes: Running, sandbox: httpx.Client
) -> None:
    smsq: Smsq = four_processes.smsq()
    ids = [smsq.send({"to": f"+3725{2000000 + n}", "priority": "low",
                      "messages": [{"channel": "sms", "text": "bulk"}]}).message_id for n in range(MESSAGES)]  # fmt: skip
    wait_for(smsq, ids[-1], {"sent"}, timeout=60)
    for message_id in ids:
        wait_for(smsq, message_id, {"sent"}, timeout=10)
    times = sorted(r["received_at"] for r in received(sandbox) if r["status"] == 201)
    assert len(times) == MESSAGES
    # The first BURST may go at once; after that the limit governs.
    span = times[-1] - times[BURST]
    observed = (len(times) - 1 - BURST) / span
    assert observed <= RATE * 1.05, f"{observed:.1f}/s exceeds the limit of {RATE}/s"
    # Most of the limit is used; on a quiet machine 90-105 %, on a loaded 2-core CI host as low as
    # 83 % was seen (four processes queueing for the CPU), so the floor here is 75 %.
    assert observed >= RATE * 0.75, f"{observed:.1f}/s uses less than 75 % of {RATE}/s"
    busiest_second = max(sum(1 for t in times if start <= t < start + 1) for start in times)
    assert busiest_second <= RATE + BURST
