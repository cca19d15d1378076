"""time_to_send held by smsq beyond the broker's visibility timeout is sent exactly once; and, with
scheduling at the provider, cancel asks the provider. On Redis and on RabbitMQ."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from smsq.cli.redis_server import RedisServer
from smsq.producers.client import Smsq
from smsq.producers.errors import CannotCancel
from tests.integration.conftest import received, wait_for
from tests.integration.stack import BROKERS, Running, db_url, stack_settings, started_stack

pytestmark = pytest.mark.integration

VISIBILITY_TIMEOUT = 2


@pytest.fixture(scope="module", params=BROKERS)
def short_visibility(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    sandbox_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    prefix = f"it-vt-{request.param}"
    settings = stack_settings(
        db_url(redis_server.url, 7), sandbox_url, prefix, visibility_timeout=str(VISIBILITY_TIMEOUT)
    )
    with started_stack(settings, tmp_path_factory.mktemp("vt"), broker=request.param) as running:
        yield running


@pytest.fixture(scope="module", params=BROKERS)
def at_provider(
    request: pytest.FixtureRequest,
    redis_server: RedisServer,
    sandbox_url: str,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Running]:
    prefix = f"it-native-{request.param}"
    settings = stack_settings(db_url(redis_server.url, 8), sandbox_url, prefix, schedule__at_provider="true")
    with started_stack(
        settings, tmp_path_factory.mktemp("native"), beat=False, broker=request.param
    ) as running:
        yield running


def sms(when: datetime) -> dict[str, object]:
    return {
        "to": "+37251234567",
        "time_to_send": when.isoformat(),
        "messages": [{"channel": "sms", "text": "later"}],
    }


def test_held_longer_than_the_visibility_timeout_and_sent_once(
    short_visibility: Running, sandbox: httpx.Client
) -> None:
    smsq: Smsq = short_visibility.smsq()
    due = datetime.now(UTC) + timedelta(seconds=2 * VISIBILITY_TIMEOUT)
    receipt = smsq.send(sms(due))
    result = wait_for(smsq, receipt.message_id, {"sent"}, timeout=30)
    assert result.sent_at is not None and result.sent_at >= due
    # Proving an absence needs a bounded wait: past another visibility timeout, still one request.
    time.sleep(VISIBILITY_TIMEOUT + 1)
    assert len(received(sandbox)) == 1
    assert smsq.result(receipt.message_id).attempts == 1


def test_the_provider_holds_it_and_cancel_asks_the_provider(
    at_provider: Running, sandbox: httpx.Client
) -> None:
    smsq: Smsq = at_provider.smsq()
    receipt = smsq.send(sms(datetime.now(UTC) + timedelta(hours=1)))
    assert receipt.status == "queued"
    sent = wait_for(smsq, receipt.message_id, {"sent"})
    (request,) = received(sandbox)
    assert "time_to_send" in request["body"]
    assert smsq.cancel(receipt.message_id).status == "cancelled"
    deletes = [r for r in sandbox.get("/_admin/requests", params={"provider": "messente"}).json()["requests"]
               if r["method"] == "DELETE"]  # fmt: skip
    assert [r["path"] for r in deletes] == [f"/v1/omnimessage/{sent.provider_message_id}"]


def test_cancel_too_late_is_refused_with_the_reason(at_provider: Running, sandbox: httpx.Client) -> None:
    smsq: Smsq = at_provider.smsq()
    receipt = smsq.send(sms(datetime.now(UTC) + timedelta(seconds=30)))
    wait_for(smsq, receipt.message_id, {"sent"})
    sandbox.post("/_admin/clock", json={"advance": 120}).raise_for_status()  # the provider sends it
    with pytest.raises(CannotCancel, match="the provider already sent it"):
        smsq.cancel(receipt.message_id)
    assert smsq.result(receipt.message_id).status == "sent"
