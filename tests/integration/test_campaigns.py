"""Campaigns through the real stack: producer or CLI -> batches -> worker -> sandbox (bulk calls), on
the session's Redis-brokered stack and on one brokered by RabbitMQ."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from smsq.cli.processes import smsq_command, wait_until
from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from tests.integration.conftest import Running
from tests.integration.stack import BROKERS, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module", params=BROKERS)
def running(
    request: pytest.FixtureRequest,
    running: Running,
    redis_server: RedisServer,
    sandbox_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    """The session's stack (Redis broker), or a stack of this module's brokered by RabbitMQ."""
    if request.param == "redis":
        yield running
        return
    settings = stack_settings(db_url(redis_server.url, 13), sandbox_url, "it-campaigns-amqp")
    with started_stack(settings, tmp_path_factory.mktemp("campaigns-amqp"), broker="amqp") as on_amqp:
        yield on_amqp


TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %firstName%", "sender": "Shop"}]}
AUTH = ("sandbox", "sandbox")


def finished(smsq: Smsq, campaign_id: str, timeout: float = 30) -> dict[str, int]:
    wait_until(lambda: smsq.campaigns.progress(campaign_id).pending == 0, timeout=timeout,
               what=f"campaign {campaign_id} to finish")  # fmt: skip
    return smsq.campaigns.progress(campaign_id).counts


def bulk_requests(sandbox: httpx.Client) -> list[dict]:  # type: ignore[type-arg]
    entries = sandbox.get("/_admin/requests", params={"provider": "messente"}).json()["requests"]
    return [r for r in entries if r["path"] == "/v1/omnimessages"]


def test_a_list_campaign_is_sent_in_bulk_calls(smsq: Smsq, sandbox: httpx.Client) -> None:
    recipients = [{"to": f"+3725200{n:04d}", "firstName": f"N{n}"} for n in range(30)]
    smsq.blacklist.add("+37252000007", source="api")
    progress = smsq.campaigns.create(name="it", template=TEMPLATE, recipients=recipients)
    assert finished(smsq, progress.id) == {"sent": 29, "blocked": 1}
    sent = [m for r in bulk_requests(sandbox) for m in r["body"]["messages"]]
    assert len(sent) == 29 and {m["messages"][0]["text"] for m in sent} >= {"Hi N0", "Hi N29"}
    assert "+37252000007" not in {m["to"] for m in sent}


def test_a_csv_campaign_from_the_command_line(
    running: Running, smsq: Smsq, sandbox: httpx.Client, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text(
        "phone,firstName\n+37253000001,Ann\n+37253000001,Dup\nbad,Bo\n+37253000002\n+37253000003,Cy\n"
    )
    result = subprocess.run(
        smsq_command("campaign", "create", "--name", "csv", "--csv", str(csv_file), "--text", "Hi %firstName%"),
        env=running.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    campaign_id = result.stdout.split()[1]
    assert "skipped line 3: duplicate" in result.stdout and "skipped line 5: malformed" in result.stdout
    assert finished(smsq, campaign_id) == {"sent": 2}


def test_the_command_line_refuses_a_template_the_csv_cannot_fill(
    running: Running, smsq: Smsq, tmp_path: Path
) -> None:
    csv_file = tmp_path / "people.csv"
    csv_file.write_text("phone\n+37253000001\n")
    result = subprocess.run(
        smsq_command("campaign", "create", "--name", "x", "--csv", str(csv_file), "--text", "Hi %firstName%"),
        env=running.env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        "error: template: uses %firstName% but the CSV has no such column"
    )
    assert "Traceback" not in result.stderr


def test_pause_stops_sending_and_resume_finishes(smsq: Smsq, sandbox: httpx.Client) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessages",
                                         "kind": "latency", "latency_ms": 300}).raise_for_status()  # fmt: skip
    recipients = [f"+3725400{n:04d}" for n in range(2000)]
    progress = smsq.campaigns.create(
        name="pause", template={"messages": [{"channel": "sms", "text": "x"}]}, recipients=recipients
    )
    wait_until(
        lambda: smsq.campaigns.progress(progress.id).counts.get("sent", 0) > 0,
        timeout=20,
        what="the first sends",
    )
    smsq.campaigns.pause(progress.id)
    # Within a second (a chunk in flight at most), nothing more is sent while paused.
    wait_until(
        lambda: smsq.campaigns.progress(progress.id).counts.get("sending", 0) == 0,
        timeout=3,
        what="in-flight chunks",
    )
    paused_at = smsq.campaigns.progress(progress.id).counts.get("sent", 0)
    assert 0 < paused_at < 2000
    with pytest.raises(TimeoutError):  # a bounded look for any further send while paused
        wait_until(lambda: smsq.campaigns.progress(progress.id).counts.get("sent", 0) > paused_at, timeout=1.5,
                   what="a send while paused")  # fmt: skip
    smsq.campaigns.resume(progress.id)
    assert finished(smsq, progress.id, timeout=60) == {"sent": 2000}


def test_cancel_keeps_sent_and_cancels_the_rest(smsq: Smsq, sandbox: httpx.Client) -> None:
    sandbox.post("/_admin/faults", json={"provider": "messente", "endpoint": "POST /v1/omnimessages",
                                         "kind": "latency", "latency_ms": 300}).raise_for_status()  # fmt: skip
    recipients = [f"+3725500{n:04d}" for n in range(2000)]
    progress = smsq.campaigns.create(
        name="cancel", template={"messages": [{"channel": "sms", "text": "x"}]}, recipients=recipients
    )
    wait_until(
        lambda: smsq.campaigns.progress(progress.id).counts.get("sent", 0) > 0,
        timeout=20,
        what="the first sends",
    )
    smsq.campaigns.cancel(progress.id)
    counts = finished(smsq, progress.id)
    assert counts.get("cancelled", 0) > 0 and counts.get("sent", 0) > 0
    assert counts["cancelled"] + counts["sent"] == 2000
    assert len([m for r in bulk_requests(sandbox) for m in r["body"]["messages"]]) == counts["sent"]


def test_a_campaign_from_phonebook_groups_sends_once_per_contact(
    smsq: Smsq, sandbox: httpx.Client, sandbox_url: str
) -> None:
    with httpx.Client(base_url=f"{sandbox_url}/v1/phonebook", auth=AUTH) as phonebook:
        groups = [
            phonebook.post("/groups", json={"name": name}).json()["group"]["id"] for name in ("vip", "news")
        ]
        for n, first_name in enumerate(["Ann", "Bo", "Cy"]):
            phonebook.post(
                "/contacts", json={"phoneNumber": f"+3725600000{n}", "firstName": first_name}
            ).raise_for_status()
        for group, members in zip(groups, [(0, 1), (1, 2)], strict=True):
            for n in members:
                phonebook.post(f"/groups/{group}/contacts/%2B3725600000{n}").raise_for_status()
    progress = smsq.campaigns.create(name="groups", template=TEMPLATE, group_ids=groups)
    assert progress.status == "creating"
    wait_until(
        lambda: smsq.campaigns.progress(progress.id).status != "creating", timeout=20, what="the expansion"
    )
    assert finished(smsq, progress.id) == {"sent": 3}  # Bo is in both groups: one message
    texts = sorted(m["messages"][0]["text"] for r in bulk_requests(sandbox) for m in r["body"]["messages"])
    assert texts == ["Hi Ann", "Hi Bo", "Hi Cy"]
