"""Issue 16 through the HTTP API: the SMS part's encoding, parts and characters in the answer; a
text over the parts limit is a 422 naming the character that forced UCS-2; a spend cap (a key's)
is a 429 with Retry-After until it resets, and the pumping guard's country rule a 403; nothing
stored for any refusal."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import redis

from smsq.api.services import Services
from smsq.config.cost_settings import CapSettings, CostSettings, PumpingSettings
from tests.api.conftest import MakeKey, bearer


def sms(text: str, to: str = "+37251234567", priority: str = "regular") -> dict[str, object]:
    return {"to": to, "priority": priority, "messages": [{"channel": "sms", "text": text}]}


def records(redis_client: redis.Redis) -> int:
    return len(list(redis_client.scan_iter("smsq:msg:*")))


@pytest.fixture
def cost(services: Services) -> Iterator[Services]:
    kept = services.smsq.cost
    yield services
    services.smsq.cost = kept


def test_the_answer_carries_the_parts(http: httpx.Client, make_key: MakeKey) -> None:
    answer = http.post("/v1/messages", json=sms("We\u2019re open" + "x" * 140), headers=bearer(make_key()))
    assert answer.status_code == 202, answer.text
    assert answer.json()["sms"] == {"encoding": "UCS-2", "segments": 3, "characters": 150}
    message = http.get(f"/v1/messages/{answer.json()['id']}", headers=bearer(make_key())).status_code
    assert message == 404  # another key's


def test_too_many_parts_is_a_422_naming_the_character(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    answer = http.post("/v1/messages", json=sms("\u263a" * 700), headers=bearer(make_key()))
    assert answer.status_code == 422
    assert "forced by '\u263a' (U+263A WHITE SMILING FACE) at position 1" in answer.json()["detail"]
    assert records(redis_client) == 0


def test_a_key_cap_is_a_429_until_it_resets(
    http: httpx.Client, make_key: MakeKey, cost: Services, redis_client: redis.Redis
) -> None:
    cost.smsq.cost = CostSettings(key_caps=CapSettings(daily_segments=2))
    secret = make_key()
    assert http.post("/v1/messages", json=sms("x" * 200), headers=bearer(secret)).status_code == 202
    answer = http.post("/v1/messages", json=sms("hi"), headers=bearer(secret))
    assert answer.status_code == 429 and answer.headers["content-type"].startswith("application/problem+json")
    assert "daily SMS-parts cap of 2 SMS parts would be exceeded" in answer.json()["detail"]
    assert 1 <= int(answer.headers["retry-after"]) <= 86400
    assert records(redis_client) == 1
    assert (
        http.post("/v1/messages", json=sms("hi"), headers=bearer(make_key())).status_code == 202
    )  # another key


def test_a_country_the_guard_does_not_allow_is_a_403(
    http: httpx.Client, make_key: MakeKey, cost: Services, redis_client: redis.Redis
) -> None:
    cost.smsq.cost = CostSettings(pumping=PumpingSettings(allowed_countries=["EE"]))
    answer = http.post(
        "/v1/messages", json=sms("123456", to="+2399912345", priority="high"), headers=bearer(make_key())
    )
    assert answer.status_code == 403 and "may not go to ST" in answer.json()["detail"]
    assert records(redis_client) == 0
