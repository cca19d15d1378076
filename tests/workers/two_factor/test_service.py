"""Two-factor sessions over Direct Messenger 2FA at the HTTP seam: the PIN and pin_id stay private."""

from __future__ import annotations

import httpx
import redis

from smsq.producers.core.keys import Keys
from smsq.workers.two_factor import service as two_factor
from tests.workers.providers.direct_messenger.test_two_factor import (
    AUTHENTICATED,
    INVALID,
    SENT,
    Wire,
    form_of,
    make,
)

MISMATCH = {"message": INVALID, "errors": {"pin_id": ["PIN and PIN ID not matching"]}}


def test_sending_keeps_the_pin_id_in_redis_for_the_pins_lifetime_and_answers_only_a_session(
    redis_client: redis.Redis,
) -> None:
    answer = two_factor.send_code(
        make(Wire(httpx.Response(200, json=SENT))), redis_client, "t", "+37251000001", 6
    )
    assert set(answer) == {"session_id", "expires_in", "sms"} and answer["sms"] == "sent"
    key = Keys("t").two_factor_session(answer["session_id"])
    assert redis_client.get(key) == SENT["response"]["pin_id"]
    assert 295 <= redis_client.ttl(key) <= 300
    assert SENT["response"]["pin"] not in str(answer) and SENT["response"]["pin_id"] not in str(answer)


def test_a_pin_authenticates_once_and_a_mismatch_keeps_the_session(redis_client: redis.Redis) -> None:
    wire = Wire(
        httpx.Response(200, json=SENT),
        httpx.Response(422, json=MISMATCH),
        httpx.Response(200, json=AUTHENTICATED),
    )
    client = make(wire)
    session = two_factor.send_code(client, redis_client, "t", "+37251000001", None)["session_id"]
    assert two_factor.verify_code(client, redis_client, "t", session, "AAAAAA")["outcome"] == "mismatch"
    answer = two_factor.verify_code(client, redis_client, "t", session, "MP3KMJ")
    assert answer["outcome"] == "authenticated"
    assert form_of(wire.last) == {
        "api_token": "sandbox-token",
        "pin": "MP3KMJ",
        "pin_id": SENT["response"]["pin_id"],
    }
    again = two_factor.verify_code(client, redis_client, "t", session, "MP3KMJ")
    assert again["outcome"] == "expired" and len(wire.requests) == 3  # gone: no call made


def test_an_unknown_session_is_answered_without_calling_the_provider(redis_client: redis.Redis) -> None:
    wire = Wire()
    answer = two_factor.verify_code(make(wire), redis_client, "t", "0" * 32, "123456")
    assert answer["outcome"] == "expired" and "no such session" in answer["detail"] and wire.requests == []


def test_a_refused_send_is_an_error_answer_and_stores_nothing(redis_client: redis.Redis) -> None:
    refusal = {"message": INVALID, "errors": {"receiver": ["Invalid number"]}}
    answer = two_factor.send_code(
        make(Wire(httpx.Response(422, json=refusal))), redis_client, "t", "+37251000001", None
    )
    assert answer["error"] == "receiver" and "Invalid number" in answer["detail"]
    assert redis_client.keys("t:2fa:*") == []


def test_no_send_token_means_no_pin_is_sent(redis_client: redis.Redis) -> None:
    wire = Wire()
    answer = two_factor.send_code(make(wire), redis_client, "t", "+37251000001", None, lambda: 1.5)
    assert answer["error"] == "rate_limited" and "1.5 s" in answer["detail"]
    assert wire.requests == [] and redis_client.keys("t:2fa:*") == []
