"""bench/faults.py scenario 5, short: a rolling SIGTERM restart of every worker (a deploy) during a
campaign and a stream of single messages leaves no message `unknown`, none lost, none sent twice.
SIGTERM goes to each worker's main process only, as `docker stop` and Kubernetes signal a container's
PID 1: it tells its pool processes; sends in flight finish, a batch hands the rest back. On Redis and
on RabbitMQ (where a stopping worker's reserved tasks go back when its channel closes)."""

from __future__ import annotations

import signal
import time
from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.redis_server import RedisServer
from smsq.producers.campaigns.model import message_id
from tests.integration.faults import received_per_number, replace, settle
from tests.integration.stack import BROKERS, Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

WORKERS = (("general-a", ("--concurrency", "2")), ("general-b", ("--concurrency", "2")))


@pytest.fixture(params=BROKERS)
def deploy_stack(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    sandbox_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    settings = stack_settings(
        db_url(redis_server.url, 11), sandbox_url, "it-deploy",
        recovery__high_seconds="1", recovery__regular_seconds="3", recovery__low_seconds="3",
        campaigns__use_bulk="false", campaigns__concurrency="4", campaigns__batch_size="20",
        campaigns__chunk="10",
    )  # fmt: skip
    with started_stack(
        settings, tmp_path_factory.mktemp("deploy"), workers=WORKERS, broker=request.param
    ) as running:
        running.smsq().store.redis.flushdb()
        yield running


def test_a_rolling_sigterm_restart_leaves_nothing_unknown(
    deploy_stack: Running, sandbox: httpx.Client
) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessage",
                                         "kind": "latency", "latency_ms": 300}).raise_for_status()  # fmt: skip
    smsq = deploy_stack.smsq()
    recipients = [f"+3725500{n:04d}" for n in range(300)]
    campaign = smsq.campaigns.create(
        name="deploy", template={"messages": [{"channel": "sms", "text": "sale"}]}, recipients=recipients
    )
    ids = [message_id(campaign.id, position) for position in range(1, len(recipients) + 1)]
    restarts = iter([("general-a", "general-a2", WORKERS[0][1]), ("general-b", "general-b2", WORKERS[1][1])])
    for step in range(8):
        single = {"to": f"+3725600{step:04d}", "messages": [{"channel": "sms", "text": "hi"}]}
        ids.append(smsq.send(single).message_id)
        if step in (2, 5):
            took = replace(deploy_stack, *next(restarts), sig=signal.SIGTERM)  # waits for it to exit
            assert took < 10  # bounded: a chunk, or one request's timeouts
        time.sleep(0.3)
    result = settle(smsq, ids, sandbox, timeout=60)
    print(result)  # the figures, with -s
    assert result.statuses["unknown"] == 0, result
    assert result.lost == 0 and result.sent_unreceived == 0 and result.twice_unmarked == 0, result
    assert set(result.statuses) == {"sent"} or set(result.statuses) <= {"sent", "delivered"}, result
    received = received_per_number(sandbox)
    assert all(received[number] == 1 for number in recipients), result
