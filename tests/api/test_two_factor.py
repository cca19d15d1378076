"""/v1/2fa over real HTTP: bad input names the field and sends nothing; Direct Messenger's refusal is a
502 problem; a verdict comes back as the worker answered it (the worker itself is faked here: the
whole path through a real worker and the sandbox is tests/integration/test_send_via_each_provider.py)."""

from __future__ import annotations

from typing import Any

import httpx
import redis

from smsq.api.services import Services
from smsq.producers.errors import TwoFactorFailed
from tests.api.conftest import MakeKey, bearer


def test_bad_input_names_the_field_and_sends_nothing(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key("send")
    for path, body, field in (("/v1/2fa", {"number": "12"}, "number"), ("/v1/2fa", {"number": "+37251000001", "pin_length": 3}, "pin_length"),
                              ("/v1/2fa", {"to": "+37251000001"}, "to"), ("/v1/2fa/abc/verify", {"pin": "1234"}, "session_id"),
                              (f"/v1/2fa/{'a' * 32}/verify", {"pin": "12 34"}, "pin")):  # fmt: skip
        answer = http.post(path, json=body, headers=bearer(secret))
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field, answer.json()
    assert redis_client.llen("high") == 0
    assert (
        http.post("/v1/2fa", json={"number": "+37251000001"}, headers=bearer(make_key("read"))).status_code
        == 403
    )


def test_answers_come_back_and_a_refusal_is_502(
    http: httpx.Client, make_key: MakeKey, services: Services
) -> None:
    secret = make_key("send")
    answers: list[Any] = [{"session_id": "b" * 32, "expires_in": 300, "sms": "sent"}, {"outcome": "mismatch"},
                          {"error": "not_configured", "detail": "no 2FA base URL"}]  # fmt: skip
    real = services.smsq.publisher.call
    services.smsq.publisher.call = lambda *args, **kwargs: answers.pop(0)  # type: ignore[method-assign]
    try:
        session = http.post("/v1/2fa", json={"number": "+37251000001"}, headers=bearer(secret))
        assert session.status_code == 201 and session.json() == {
            "session_id": "b" * 32,
            "expires_in": 300,
            "sms": "sent",
        }
        verdict = http.post(f"/v1/2fa/{'b' * 32}/verify", json={"pin": "1234"}, headers=bearer(secret))
        assert verdict.json() == {"outcome": "mismatch", "authenticated": False, "detail": ""}
        refused = http.post("/v1/2fa", json={"number": "+37251000001"}, headers=bearer(secret))
        assert refused.status_code == 502 and "not_configured" in refused.json()["detail"]
    finally:
        services.smsq.publisher.call = real  # type: ignore[method-assign]
    assert TwoFactorFailed  # the class the 502 stands for


def test_a_test_keys_pin_asks_for_the_simulated_provider(
    http: httpx.Client, make_key: MakeKey, services: Services
) -> None:
    asked: list[Any] = []
    real = services.smsq.publisher.call

    def call(task: str, payload: Any, queue: str, timeout: float) -> dict[str, Any]:
        asked.append(payload)
        return {"session_id": "c" * 32, "expires_in": 300, "sms": "simulated"}

    services.smsq.publisher.call = call  # type: ignore[method-assign]
    try:
        for secret in (make_key(test=True), make_key()):
            answer = http.post("/v1/2fa", json={"number": "+37251000009"}, headers=bearer(secret))
            assert answer.status_code == 201, answer.text
    finally:
        services.smsq.publisher.call = real  # type: ignore[method-assign]
    assert [payload.test for payload in asked] == [True, False]
