"""A test API key through the whole real stack: the HTTP API on uvicorn (loopback), `smsq worker`,
a `callbacks` worker and `smsq beat` as subprocesses, the routing naming only Messente (the
sandbox). Its batch to each reserved simulated number ends in each outcome, and the key's callback
receiver (verifying with the standardwebhooks library) hears every message's sent and final events;
its campaign and its two-factor PIN work too; the sandbox receives nothing."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from standardwebhooks import Webhook

from smsq.api.server import running_api
from smsq.api.services import Services
from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.callbacks.targets import callback_signing_secret
from smsq.workers.callbacks.receiver import Receiver, running_receiver
from tests.integration.conftest import received
from tests.integration.stack import db_url, stack_settings, started_stack
from tests.support.simulated import LATE_SECONDS, OUTCOMES

pytestmark = pytest.mark.integration


@dataclass
class App:
    api: httpx.Client  # the API, with the test key's bearer token
    hook: Receiver


@pytest.fixture(scope="module")
def app(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[App]:
    settings = stack_settings(
        db_url(redis_server.url, 2), sandbox_url, "it-testkey",
        routing__sms='["messente"]',  # the simulated provider is in no routing list
        polling__intervals="[0.5]", polling__then_every="0.5", polling__claim_interval="0.1",
        simulated__late_seconds=str(LATE_SECONDS),
        callbacks__allow_http="true", callbacks__allow_private="true",
    )  # fmt: skip
    workers = [
        ("worker", ("--concurrency", "2")),
        ("callbacks", ("--lanes", "callbacks", "--concurrency", "1")),
    ]
    hook = Receiver("whsec_" + "A" * 32)  # its secret is the key's, set below
    with (
        started_stack(settings, tmp_path_factory.mktemp("testkeys"), workers=workers) as running,
        running_receiver(hook) as receiver_url,
    ):
        services = Services.from_settings(running.settings, lanes=lambda: {})
        created = services.keys.create(
            "it-app", "send,read,campaigns", test=True, callback_url=f"{receiver_url}/hooks"
        )
        signing = callback_signing_secret(services.keys.redis, services.keys.keys, created.key.key_id)
        hook.webhook = Webhook(signing)
        with (
            running_api(services) as url,
            httpx.Client(
                base_url=url, headers={"Authorization": f"Bearer {created.secret}"}, timeout=20
            ) as api,
        ):
            yield App(api, hook)


def status_of(app: App, message_id: str) -> str:
    return str(app.api.get(f"/v1/messages/{message_id}").json()["status"])


def test_a_batch_to_each_reserved_number_ends_in_each_outcome_and_the_app_hears_each(
    app: App, sandbox: httpx.Client
) -> None:
    sms = [{"channel": "sms", "text": "hello", "sender": "smsq"}]
    answer = app.api.post(
        "/v1/messages/batch", json={"messages": [{"to": to, "messages": sms} for to in OUTCOMES]}
    )
    assert answer.status_code == 202, answer.text
    ids = {to: item["id"] for to, item in zip(OUTCOMES, answer.json()["results"], strict=True)}
    for to, message_id in ids.items():
        wait_until(lambda: status_of(app, message_id) == OUTCOMES[to], timeout=40,  # noqa: B023
                   what=f"{to} to end {OUTCOMES[to]} (it is {status_of(app, message_id)})")  # fmt: skip
        result = app.api.get(f"/v1/messages/{message_id}").json()
        assert result["provider"] == "simulated" and result["test"] is True
        # The app hears it was sent, then how it ended, in sequence, each signed for its key.
        wait_until(lambda: len(app.hook.received.for_message(message_id)) >= 2, timeout=30,  # noqa: B023
                   what=f"the callbacks of {to}")  # fmt: skip
        events = app.hook.received.for_message(message_id)
        assert [e["type"] for e in events] == ["message.sent", f"message.{OUTCOMES[to]}"]
        assert [e["data"]["sequence"] for e in events] == [1, 2]
        assert all(e["data"]["test"] for e in events)
    late = app.api.get(f"/v1/messages/{ids['+37251230004']}").json()
    assert late["provider_message_id"].startswith("sim.late.")
    assert app.hook.received.refused == 0
    assert received(sandbox) == []  # the routing said Messente: not one test message went there


def test_a_test_keys_campaign_goes_to_the_simulated_provider(app: App, sandbox: httpx.Client) -> None:
    body = {
        "name": "trial",
        "template": {"messages": [{"channel": "sms", "text": "Hi %name%", "sender": "Shop"}]},
        "recipients": [{"to": "+37251239001", "name": "Ann"}, {"to": "+37251230002", "name": "Bo"}],
    }
    answer = app.api.post("/v1/campaigns", json=body)
    assert answer.status_code == 202, answer.text
    campaign_id = answer.json()["id"]

    def counts() -> dict[str, int]:
        return dict(app.api.get(f"/v1/campaigns/{campaign_id}").json()["counts"])

    wait_until(lambda: counts().get("delivered") == 1 and counts().get("undeliverable") == 1, timeout=40,
               what=f"the campaign's messages to end (counts {counts()})")  # fmt: skip
    wait_until(
        lambda: any(e["type"] == "campaign.finished" for e in app.hook.received.events.values()),
        timeout=30, what="the campaign's end to be told",
    )  # fmt: skip
    assert received(sandbox) == []


def test_a_test_keys_pin_is_simulated(app: App) -> None:
    session = app.api.post("/v1/2fa", json={"number": "+37251239002"})
    assert session.status_code == 201, session.text
    assert session.json()["sms"] == "simulated"
    session_id = session.json()["session_id"]
    wrong = app.api.post(f"/v1/2fa/{session_id}/verify", json={"pin": "9999"}).json()
    assert (wrong["outcome"], wrong["authenticated"]) == ("mismatch", False)
    right = app.api.post(f"/v1/2fa/{session_id}/verify", json={"pin": "1234"}).json()
    assert (right["outcome"], right["authenticated"]) == ("authenticated", True)
    refused = app.api.post("/v1/2fa", json={"number": "+37251230001"})
    assert refused.status_code == 502 and "0001" in refused.json()["detail"]
