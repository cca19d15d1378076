"""AIMD against the sandbox with real workers: the sandbox answers 429 to some sends, the learned rate
every worker uses drops, the messages still all go out once (no attempt spent on a 429), and the rate
climbs back to the paced rate."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from smsq.workers.context import build_limiter
from smsq.workers.limits.ratelimit import RateLimiter
from tests.integration.conftest import received
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

RATE, MESSAGES = 40.0, 60
TEMPLATE = {"messages": [{"channel": "sms", "sender": "Shop", "text": "Offer"}], "priority": "low"}


@pytest.fixture(scope="module")
def adapting(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(db_url(redis_server.url, 15), sandbox_url, "it-adapt",
                              messente__rate_per_second=str(RATE), campaigns__use_bulk="false",
                              pacing__recover="0.1", pacing__decrease="0.5")  # fmt: skip
    with started_stack(
        settings, tmp_path_factory.mktemp("adapt"), workers=[("all", ("--concurrency", "2"))]
    ) as running:
        yield running


def limiter_of(running: Running) -> RateLimiter:
    client = redis.Redis.from_url(running.settings.redis_url, decode_responses=True)
    return build_limiter(running.settings, client)


def test_a_429_lowers_the_rate_for_every_worker_and_it_recovers(
    adapting: Running, sandbox: httpx.Client
) -> None:
    limiter = limiter_of(adapting)
    paced = RATE * (1 - adapting.settings.pacing.margin)
    assert limiter.rates()["messente"].current == pytest.approx(paced)
    rule = {"provider": "messente", "endpoint": "POST /v1/omnimessage", "kind": "rate_limit", "count": 3}
    sandbox.post("/_admin/faults", json=rule).raise_for_status()
    smsq: Smsq = adapting.smsq()
    recipients = [{"to": f"+3725300{n:04d}"} for n in range(MESSAGES)]
    campaign_id = smsq.campaigns.create(name="adapt", template=TEMPLATE, recipients=recipients).id

    lowest = [paced]

    def cut() -> bool:
        lowest.append(limiter.rates()["messente"].current)
        return lowest[-1] < paced * 0.75

    wait_until(cut, timeout=30, what="the learned rate to drop after the 429s", interval=0.05)
    wait_until(lambda: smsq.campaign_counts(campaign_id).get("sent", 0) == MESSAGES, timeout=60,
               what="every message sent", interval=0.2)  # fmt: skip
    accepted = [r for r in received(sandbox) if r["status"] == 201]
    assert sorted(r["body"]["to"] for r in accepted) == sorted(r["to"] for r in recipients)  # each once
    assert sum(1 for r in received(sandbox) if r["status"] == 429) == 3
    # Climbing back by a tenth of the paced rate a second: back at it well within 15 s of the cut.
    wait_until(lambda: not limiter.rates()["messente"].recovering, timeout=30,
               what="the learned rate to climb back", interval=0.2)  # fmt: skip
    assert limiter.rates()["messente"].current == pytest.approx(paced)
