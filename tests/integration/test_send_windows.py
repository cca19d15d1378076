"""Deferred marketing messages released at their window's opening by the real beat: a stack whose
window rule (SMSQ_COST__WINDOWS__RULES) opens a few seconds after it starts. A marketing single
accepted before the opening waits in the schedule; a campaign's messages are taken by a worker, found
outside the window and put back in the schedule; beat releases all of them at the opening, and none
reaches the provider before it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest

from smsq.cli.processes import wait_until
from smsq.cli.redis_server import RedisServer
from smsq.config.cost_settings import WEEKDAYS
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.records import SCHEDULED_FOR_MS, WINDOW_DEFERRED
from smsq.producers.windows.check import zones_of
from tests.integration.conftest import wait_for
from tests.integration.stack import Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

SINGLE, CAMPAIGN = "+37251234567", ["+37251234568", "+37251234569"]
LEAD = 25  # seconds from the stack's start to the opening: time enough to start it and send
TEMPLATE = {"messages": [{"channel": "sms", "text": "Sale!", "sender": "Shop"}]}


@pytest.fixture(scope="module")
def opening_soon(
    redis_server: RedisServer, sandbox_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Running, datetime]]:
    opening = (datetime.now(UTC) + timedelta(seconds=LEAD)).replace(microsecond=0)
    (zone,) = zones_of(SINGLE)
    start = opening.astimezone(ZoneInfo(zone)).time()
    # Shut until `start` local time, then open for the rest of the day, every day, holidays too.
    rules = {"*": {"start": start.isoformat(), "end": "23:59:59", "days": list(WEEKDAYS), "holidays": True}}
    settings = stack_settings(
        db_url(redis_server.url, 2), sandbox_url, "it-windows",
        cost__windows__enabled="true", cost__windows__rules=json.dumps(rules),
    )  # fmt: skip
    with started_stack(settings, tmp_path_factory.mktemp("windows")) as running:
        yield running, opening


def provider_requests(sandbox: httpx.Client) -> list[dict]:  # type: ignore[type-arg]
    entries = sandbox.get("/_admin/requests", params={"provider": "messente"}).json()["requests"]
    return [r for r in entries if r["method"] == "POST" and r["path"].startswith("/v1/omnimessage")]


def test_deferred_marketing_messages_go_out_at_the_opening(
    opening_soon: tuple[Running, datetime], sandbox: httpx.Client
) -> None:
    running, opening = opening_soon
    smsq = running.smsq()
    assert datetime.now(UTC) < opening - timedelta(seconds=5), "the stack took too long: the opening passed"
    opening_ms = str(int(opening.timestamp() * 1000))

    single = smsq.send(
        {"to": SINGLE, "messages": [{"channel": "sms", "text": "Sale!"}]}, message_class="marketing"
    )
    assert (single.status, single.deferred_to) == ("scheduled", opening)
    campaign = smsq.campaigns.create(name="sale", template=TEMPLATE, recipients=CAMPAIGN)
    ids = [message_id(campaign.id, position) for position in range(1, len(CAMPAIGN) + 1)]

    def deferred() -> bool:  # a worker took the batch and put each message back in the schedule
        records = smsq.store.get_many(ids)
        return all(
            r is not None and r.get(WINDOW_DEFERRED) == "1" and r["status"] == "queued" for r in records
        )

    wait_until(deferred, timeout=LEAD, what="the campaign's messages to be deferred to the opening")
    assert {(r or {}).get(SCHEDULED_FOR_MS) for r in smsq.store.get_many(ids)} == {opening_ms}
    assert provider_requests(sandbox) == []  # nothing has gone before the opening

    for mid in [single.message_id, *ids]:
        sent = wait_for(smsq, mid, {"sent"}, timeout=LEAD + 30)
        assert sent.sent_at is not None and sent.sent_at >= opening
        assert sent.attempts == 1  # the deferral spent none
    sent_to = {
        m["to"] for r in provider_requests(sandbox) for m in r["body"].get("messages", []) if "to" in m
    }
    sent_to |= {r["body"]["to"] for r in provider_requests(sandbox) if "to" in r["body"]}
    assert sent_to == {SINGLE, *CAMPAIGN}
