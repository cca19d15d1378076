"""Test messages through the real stack: `smsq worker` and `smsq beat` as subprocesses. A message
accepted with test=True (as a test API key accepts it) goes to the simulated provider alone, although
the routing names only Messente (the sandbox), and ends in the outcome its number stands for, settled
by the status polls beat claims; the delivered-late one only after its delay."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from tests.integration.conftest import received, wait_for
from tests.integration.stack import db_url, stack_settings, started_stack
from tests.support.simulated import LATE_SECONDS, OUTCOMES

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def simulated_smsq(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Smsq]:
    redis_url = db_url(redis_server.url, 15)
    with redis.Redis.from_url(redis_url) as client:
        client.flushdb()
    settings = stack_settings(
        redis_url, sandbox_url, "it-simulated",
        routing__sms='["messente"]',  # the simulated provider is in no routing list
        polling__intervals="[0.5]", polling__then_every="0.5", polling__claim_interval="0.1",
        simulated__late_seconds=str(LATE_SECONDS),
    )  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("simulated")) as running:
        yield running.smsq()


def test_each_reserved_number_ends_in_its_outcome_and_nothing_reaches_a_live_provider(
    simulated_smsq: Smsq, sandbox: httpx.Client
) -> None:
    sms = [{"channel": "sms", "text": "hello", "sender": "smsq"}]
    ids = {to: simulated_smsq.send({"to": to, "messages": sms}, test=True).message_id for to in OUTCOMES}
    late = ids["+37251230004"]
    for to, message_id in ids.items():
        if message_id != late:
            result = wait_for(simulated_smsq, message_id, {OUTCOMES[to]}, timeout=30)
            assert result.provider == "simulated" and result.test
            (channel,) = result.channel_results
            assert channel.via == "poll"
    result = wait_for(simulated_smsq, late, {"delivered"}, timeout=30)
    # Polled while in progress (PENDING) and settled only after its delay.
    assert result.sent_at is not None and result.final_at is not None
    assert (result.final_at - result.sent_at).total_seconds() >= LATE_SECONDS
    assert result.provider_message_id is not None and result.provider_message_id.startswith("sim.late.")
    assert received(sandbox) == []  # routing said Messente: not one test message went there


def test_a_live_message_beside_them_still_follows_the_routing(
    simulated_smsq: Smsq, sandbox: httpx.Client
) -> None:
    receipt = simulated_smsq.send({"to": "+37251234567", "messages": [{"channel": "sms", "text": "live"}]})
    result = wait_for(simulated_smsq, receipt.message_id, {"sent", "delivered"})
    assert result.provider == "messente" and not result.test
    assert len(received(sandbox)) == 1
