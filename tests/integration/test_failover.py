"""Messente failing: SMS goes out through Direct Messenger; a channel with no alternative retries until
its attempts run out; when Messente recovers, traffic returns to it."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from tests.integration.conftest import wait_for
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

MESSENTE_DOWN = {"provider": "messente", "endpoint": "POST /v1/omnimessage", "kind": "status", "status": 500}


@pytest.fixture(scope="module")
def two_providers(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Running]:
    settings = stack_settings(
        db_url(redis_server.url, 6), sandbox_url, "it-failover",
        routing__sms='["messente", "direct_messenger"]',
        direct_messenger__enabled="true", direct_messenger__base_url=f"{sandbox_url}/dm",
        direct_messenger__api_token="sandbox-token", direct_messenger__sender="smsq",
        health__min_requests="3", health__cooldown_seconds="2",
    )  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("failover")) as running:
        yield running


def sms(n: int) -> dict[str, object]:
    return {"to": f"+3725{3000000 + n}", "messages": [{"channel": "sms", "text": "hello"}]}


def test_sms_fails_over_and_comes_back(two_providers: Running, sandbox: httpx.Client) -> None:
    smsq: Smsq = two_providers.smsq()
    sandbox.post("/_admin/faults", json=MESSENTE_DOWN).raise_for_status()
    ids = [smsq.send(sms(n)).message_id for n in range(6)]
    results = [wait_for(smsq, message_id, {"sent", "failed"}) for message_id in ids]
    assert [r.status for r in results] == ["sent"] * 6
    assert {r.provider for r in results} == {"direct_messenger"}
    assert any(a.provider == "messente" and a.outcome == "transient" for r in results for a in r.attempt_log)

    sandbox.delete("/_admin/faults").raise_for_status()
    probes: list[str] = []

    def back_on_messente() -> bool:
        probe = smsq.send(sms(100 + len(probes))).message_id
        probes.append(probe)
        return wait_for(smsq, probe, {"sent", "failed"}).provider == "messente"

    wait_until(
        back_on_messente, timeout=20, interval=0.2, what="traffic to return to Messente after its cool-down"
    )


def test_a_channel_with_no_alternative_retries_until_its_attempts_run_out(
    two_providers: Running, sandbox: httpx.Client
) -> None:
    smsq: Smsq = two_providers.smsq()
    sandbox.post("/_admin/faults", json=MESSENTE_DOWN).raise_for_status()
    viber = {"to": "+37251234599", "messages": [{"channel": "viber", "text": "hello"}]}
    result = wait_for(smsq, smsq.send(viber).message_id, {"sent", "failed"})
    assert result.status == "failed" and result.attempts == 3
    assert {a.provider for a in result.attempt_log} == {"messente"}
