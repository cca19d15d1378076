"""Send windows through the HTTP API: ``message_class`` on POST /v1/messages (and each batch item)
and on campaign creation; a marketing message outside its window answers when it will go; a bad
class is a 422 naming the field, nothing stored."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import time

import httpx
import pytest
import redis

from smsq.api.services import Services
from smsq.config.cost_settings import CostSettings, WindowRule, WindowSettings
from tests.api.conftest import MakeKey, bearer

# Open one minute a week (Monday 00:00 local): shut whenever the test runs, in practice.
SHUT = WindowSettings(rules={"*": WindowRule(start=time(0), end=time(0, 1), days=["mon"])})
TEMPLATE = {"messages": [{"channel": "sms", "text": "Sale!"}]}


def sms(**extra: object) -> dict[str, object]:
    return {"to": "+37251234567", "messages": [{"channel": "sms", "text": "Sale!"}], **extra}


@pytest.fixture
def shut(services: Services) -> Iterator[Services]:
    kept = services.smsq.cost
    services.smsq.cost = CostSettings(windows=SHUT)
    yield services
    services.smsq.cost = kept


def test_a_marketing_message_outside_its_window_says_when_it_goes(
    http: httpx.Client, make_key: MakeKey, shut: Services
) -> None:
    secret = make_key()
    answer = http.post("/v1/messages", json=sms(message_class="marketing"), headers=bearer(secret))
    assert answer.status_code == 202, answer.text
    assert answer.json()["status"] == "scheduled" and answer.json()["deferred_to"] is not None
    plain = http.post("/v1/messages", json=sms(), headers=bearer(secret)).json()
    assert (plain["status"], plain["deferred_to"]) == ("queued", None)
    batch = http.post("/v1/messages/batch", headers=bearer(secret),
                      json={"messages": [sms(message_class="marketing"), sms()]})  # fmt: skip
    assert [item["status"] for item in batch.json()["results"]] == ["scheduled", "queued"]


def test_a_bad_class_is_refused_naming_the_field(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key()
    answer = http.post("/v1/messages", json=sms(message_class="promo"), headers=bearer(secret))
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == ["message_class"]
    campaign = http.post("/v1/campaigns", headers=bearer(secret), json={
        "name": "x", "template": TEMPLATE, "recipients": ["+37251234567"], "message_class": "promo"})  # fmt: skip
    assert campaign.status_code == 422 and "message_class" in campaign.text
    assert (
        list(redis_client.scan_iter("smsq:msg:*")) == []
        and list(redis_client.scan_iter("smsq:campaign*")) == []
    )


def test_a_campaign_is_marketing_unless_it_says_transactional(http: httpx.Client, make_key: MakeKey) -> None:
    secret = make_key()
    body = {"name": "sale", "template": TEMPLATE, "recipients": ["+37251234567"]}
    assert (
        http.post("/v1/campaigns", json=body, headers=bearer(secret)).json()["message_class"] == "marketing"
    )
    bills = http.post(
        "/v1/campaigns", json={**body, "message_class": "transactional"}, headers=bearer(secret)
    )
    assert bills.status_code == 202 and bills.json()["message_class"] == "transactional"
