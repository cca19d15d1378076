"""POST /v1/messages/batch over real HTTP: one result per item, accepted ones accepted even if others
are refused, bounds, idempotency of the whole batch."""

from __future__ import annotations

import httpx
import redis

from smsq.api.models import BatchAnswer
from smsq.api.services import Services
from tests.api.conftest import MakeKey, bearer
from tests.api.test_messages import SMS, later, message_keys


def sms(number: str, **extra: object) -> dict[str, object]:
    return {**SMS, "to": number, **extra}


def test_one_result_per_item_and_the_good_ones_are_accepted(
    http: httpx.Client, make_key: MakeKey, services: Services, redis_client: redis.Redis
) -> None:
    secret = make_key(test=True)
    batch = [sms("+37251000001"), sms("nope"), sms("+37251000002", time_to_send=later()),
             {"to": "+37251000003", "messages": []}, sms("+37251000004", priority="high")]  # fmt: skip
    answer = http.post("/v1/messages/batch", json={"messages": batch}, headers=bearer(secret))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert (body["accepted"], body["refused"]) == (3, 2)
    assert [item["status"] for item in body["results"]] == [
        "queued",
        "refused",
        "scheduled",
        "refused",
        "queued",
    ]
    assert [item["index"] for item in body["results"]] == [0, 1, 2, 3, 4]
    # Built as dicts for speed: each is exactly what the documented model dumps.
    assert BatchAnswer.model_validate(body).model_dump() == body
    assert body["results"][1]["errors"][0]["field"] == "to"
    assert body["results"][3]["errors"][0]["field"] == "messages"
    assert len(message_keys(redis_client)) == 3
    for item in body["results"]:
        if item["id"]:
            record = services.smsq.store.get(item["id"])
            assert record is not None and record["test"] == "1" and record["key_id"]
    # Due messages go to their lanes as grouped send tasks (one per lane here).
    assert redis_client.llen("regular") == 1 and redis_client.llen("high") == 1
    read = http.get("/v1/messages", params={"ids": ",".join(i["id"] for i in body["results"] if i["id"])},
                    headers=bearer(secret))  # fmt: skip
    assert len(read.json()["messages"]) == 3


def test_all_refused_is_one_422_listing_each_items_fields(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    answer = http.post(
        "/v1/messages/batch", json={"messages": [sms("nope"), sms("12")]}, headers=bearer(make_key())
    )
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == ["messages.0.to", "messages.1.to"]
    assert message_keys(redis_client) == []


def test_bounds_of_the_batch(http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis) -> None:
    secret = make_key()
    for body, field in (({"messages": []}, "messages"), ({"messages": [SMS] * 1001}, "messages"),
                        ([SMS], "(body)"), ({"messages": [SMS], "extra": 1}, "(body)"), ({"messages": SMS}, "messages")):  # fmt: skip
        answer = http.post("/v1/messages/batch", json=body, headers=bearer(secret))
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field
    assert message_keys(redis_client) == []
    full = http.post("/v1/messages/batch", json={"messages": [sms(f"+3725100{i:04d}") for i in range(1000)]},
                     headers=bearer(secret))  # fmt: skip
    assert full.status_code == 202 and full.json()["accepted"] == 1000
    assert redis_client.llen("regular") == 20  # 1,000 due messages in send tasks of 50


def test_a_batch_repeated_under_its_idempotency_key_is_the_first_answer(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key()
    body = {"messages": [sms("+37251000001"), sms("+37251000002")]}
    headers = {**bearer(secret), "Idempotency-Key": "batch-1"}
    first = http.post("/v1/messages/batch", json=body, headers=headers)
    again = http.post("/v1/messages/batch", json=body, headers=headers)
    assert first.status_code == again.status_code == 202 and first.json() == again.json()
    assert len(message_keys(redis_client)) == 2


def test_the_scope_is_send(http: httpx.Client, make_key: MakeKey) -> None:
    answer = http.post("/v1/messages/batch", json={"messages": [SMS]}, headers=bearer(make_key("read")))
    assert answer.status_code == 403
