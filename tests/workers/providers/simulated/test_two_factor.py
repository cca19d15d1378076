"""A test key's two-factor PINs: answered by the simulated provider (no request leaves), with a PIN
known in advance; a live session never reaches it and a simulated one never reaches Direct Messenger."""

from __future__ import annotations

import httpx
import redis

from smsq.producers.core.keys import Keys
from smsq.workers.providers.simulated.two_factor import SIMULATED_PIN
from smsq.workers.two_factor import service as two_factor
from tests.workers.providers.direct_messenger.test_two_factor import SENT, Wire, make


def test_a_simulated_pin_authenticates_once_and_a_wrong_one_is_a_mismatch(redis_client: redis.Redis) -> None:
    session = two_factor.send_code(two_factor.SIMULATED, redis_client, "t", "+37251000009", None)
    assert session["sms"] == "simulated" and session["expires_in"] == two_factor.PIN_LIFETIME_SECONDS
    stored = redis_client.get(Keys("t").two_factor_session(session["session_id"]))
    assert stored == "simulated:4"  # the length, never a PIN or a Direct Messenger pin_id
    live = make(Wire())  # any request to Direct Messenger would fail the test: it has no answers
    verify = two_factor.verify_code
    assert verify(live, redis_client, "t", session["session_id"], "9999")["outcome"] == "mismatch"
    assert verify(None, redis_client, "t", session["session_id"], "1234")["outcome"] == "authenticated"
    assert verify(live, redis_client, "t", session["session_id"], "1234")["outcome"] == "expired"  # once


def test_the_pin_length_and_the_refused_number(redis_client: redis.Redis) -> None:
    session = two_factor.send_code(two_factor.SIMULATED, redis_client, "t", "+37251000009", 8)
    pin = SIMULATED_PIN[:8]
    assert (
        two_factor.verify_code(None, redis_client, "t", session["session_id"], pin)["outcome"]
        == "authenticated"
    )
    refused = two_factor.send_code(two_factor.SIMULATED, redis_client, "t", "+37251000001", None)
    assert refused["error"] == "receiver" and "0001" in refused["detail"]


def test_a_live_session_still_goes_to_direct_messenger_and_is_unavailable_without_it(
    redis_client: redis.Redis,
) -> None:
    session = two_factor.send_code(
        make(Wire(httpx.Response(200, json=SENT))), redis_client, "t", "+37251000009", 6
    )
    assert (
        two_factor.verify_code(None, redis_client, "t", session["session_id"], "1234")
        == two_factor.UNAVAILABLE
    )
