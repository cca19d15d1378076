"""Idempotency-Key over real HTTP: a repeat answers the first answer, another body is refused naming
the conflict, a request in flight answers 409, and concurrent repeats queue one message."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import redis

from smsq.api.services import Services
from tests.api.conftest import MakeKey, bearer
from tests.api.test_messages import SMS, message_keys


def headers(secret: str, key: str) -> dict[str, str]:
    return {**bearer(secret), "Idempotency-Key": key}


def test_a_repeat_answers_the_first_answer(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key()
    first = http.post("/v1/messages", json=SMS, headers=headers(secret, "order-1"))
    assert first.status_code == 202 and "idempotent-replayed" not in first.headers
    # The same JSON spelled differently is the same body.
    again = http.post("/v1/messages", content=b'{"messages":[{"sender":"App","channel":"sms","text":"hello"}],'
                      b' "to": "+37251234567"}', headers=headers(secret, "order-1"))  # fmt: skip
    assert again.status_code == 202 and again.json() == first.json()
    assert (
        again.headers["idempotent-replayed"] == "true"
        and again.headers["location"] == first.headers["location"]
    )
    assert len(message_keys(redis_client)) == 1 and redis_client.llen("regular") == 1


def test_the_same_key_with_another_body_is_refused_naming_the_conflict(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key()
    assert http.post("/v1/messages", json=SMS, headers=headers(secret, "order-2")).status_code == 202
    other = http.post("/v1/messages", json={**SMS, "to": "+37251234568"}, headers=headers(secret, "order-2"))
    assert other.status_code == 422
    assert other.json()["errors"] == [
        {"field": "Idempotency-Key", "message": "'order-2' was first used with another request body"}
    ]
    assert len(message_keys(redis_client)) == 1


def test_keys_are_per_api_key_and_a_refusal_frees_the_key(http: httpx.Client, make_key: MakeKey) -> None:
    one, two = make_key(), make_key()
    a = http.post("/v1/messages", json=SMS, headers=headers(one, "same")).json()
    b = http.post("/v1/messages", json=SMS, headers=headers(two, "same")).json()
    assert a["id"] != b["id"]  # another key's Idempotency-Key is another key
    bad = {**SMS, "to": "nope"}
    assert http.post("/v1/messages", json=bad, headers=headers(one, "fix-me")).status_code == 422
    fixed = http.post("/v1/messages", json=SMS, headers=headers(one, "fix-me"))
    assert fixed.status_code == 202  # the refusal was not kept as the key's answer


def test_a_bad_idempotency_key_is_422_naming_the_header(http: httpx.Client, make_key: MakeKey) -> None:
    for value in ("has space", "x" * 201):
        answer = http.post("/v1/messages", json=SMS, headers=headers(make_key(), value))
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == "Idempotency-Key"


def test_in_flight_is_409_with_retry_after(
    http: httpx.Client, make_key: MakeKey, services: Services, monkeypatch: object
) -> None:
    secret = make_key()
    entered, release = threading.Event(), threading.Event()
    real_send = services.smsq.send

    def slow_send(*args: object, **kwargs: object) -> object:
        entered.set()
        assert release.wait(10)
        return real_send(*args, **kwargs)  # type: ignore[arg-type]

    services.smsq.send = slow_send  # type: ignore[method-assign]
    try:
        with ThreadPoolExecutor(1) as pool:
            first = pool.submit(http.post, "/v1/messages", json=SMS, headers=headers(secret, "slow"))
            assert entered.wait(10)
            busy = http.post("/v1/messages", json=SMS, headers=headers(secret, "slow"))
            release.set()
            assert first.result().status_code == 202
        assert busy.status_code == 409 and busy.headers["retry-after"] == "1"
        assert "still being answered" in busy.json()["detail"]
    finally:
        release.set()
        del services.smsq.send


def test_concurrent_repeats_queue_one_message(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key()
    with ThreadPoolExecutor(16) as pool:
        answers = list(
            pool.map(
                lambda _: http.post("/v1/messages", json=SMS, headers=headers(secret, "race")), range(32)
            )
        )
    assert {answer.status_code for answer in answers} <= {202, 409}
    ids = {answer.json()["id"] for answer in answers if answer.status_code == 202}
    assert len(ids) == 1 and len(message_keys(redis_client)) == 1
    assert redis_client.llen("regular") == 1
