"""413, 503, /healthz and /readyz over real HTTP, and no secret in any log line."""

from __future__ import annotations

import logging

import httpx
import pytest
import redis

from smsq.api.server import running_api
from smsq.api.services import Services
from smsq.cli.redis_server import RedisServer, free_port
from tests.api.conftest import ALL_LANES, MakeKey, api_settings, bearer
from tests.api.test_messages import SMS, message_keys


def test_a_body_over_the_limit_is_413_and_nothing_is_stored(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    found = Services.from_settings(api_settings(redis_server.url, api={"body_bytes": 1024}), lanes=dict)
    secret = found.keys.create("app", "send").secret
    big = {**SMS, "messages": [{"channel": "sms", "text": "x" * 2000}]}
    with running_api(found) as url, httpx.Client(base_url=url) as http:
        answer = http.post("/v1/messages", json=big, headers=bearer(secret))
        assert answer.status_code == 413 and answer.headers["content-type"] == "application/problem+json"
        assert "over 1024 bytes (SMSQ_API__BODY_BYTES)" in answer.json()["detail"]

        def chunks():  # no Content-Length: the limit is counted as the body arrives
            yield b'{"to": "+37251234567", "messages": [{"channel": "sms", "text": "'
            for _ in range(20):
                yield b"x" * 100
            yield b'"}]}'

        assert http.post("/v1/messages", content=chunks(), headers=bearer(secret)).status_code == 413
        assert http.post("/v1/messages", json=SMS, headers=bearer(secret)).status_code == 202
    assert len(message_keys(redis_client)) == 1


def test_redis_unreachable_is_503_with_retry_after(redis_server: RedisServer) -> None:
    settings = api_settings(
        f"redis://127.0.0.1:{free_port()}/0", redis_client={"connect_timeout": 0.2, "retries": 0}
    )
    found = Services.from_settings(settings, lanes=dict)
    with running_api(found) as url, httpx.Client(base_url=url) as http:
        answer = http.post("/v1/messages", json=SMS, headers=bearer("smsq_live_whatever"))
        assert answer.status_code == 503 and answer.headers["retry-after"] == "5"
        assert answer.json()["title"] == "Unavailable"
        assert http.get("/healthz").status_code == 200  # the process still answers
        ready = http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["redis"] == "unreachable"


def test_readyz_needs_a_worker_on_every_lane(http: httpx.Client, services: Services) -> None:
    assert http.get("/healthz").json() == {"status": "ok"}
    answer = http.get("/readyz")
    assert answer.status_code == 503 and answer.json()["missing"] == [
        "high",
        "regular",
        "low",
        "status",
        "sync",
    ]
    services.lanes = lambda: {lane: nodes for lane, nodes in ALL_LANES.items() if lane != "sync"}
    assert http.get("/readyz").json()["missing"] == ["sync"]
    services.lanes = lambda: ALL_LANES
    answer = http.get("/readyz")
    assert answer.status_code == 200 and answer.json()["ready"] is True

    def broken() -> dict[str, list[str]]:
        raise TimeoutError("no reply")

    services.lanes = broken
    assert http.get("/readyz").status_code == 503


def test_no_secret_is_ever_logged(
    http: httpx.Client, make_key: MakeKey, services: Services, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    secret = make_key("read")
    for _ in range(2):
        http.post("/v1/messages", json=SMS, headers=bearer(secret))  # 403
        http.post("/v1/messages", json=SMS, headers=bearer(secret + "x"))  # 401
        http.get("/v1/messages/nope", headers=bearer(secret))  # 422
    services.keys.revoke(services.keys.all()[0].key_id)
    http.get("/v1/messages", params={"ids": "x"}, headers=bearer(secret))
    assert caplog.records  # the capture saw the server's loggers
    assert all(
        secret not in record.getMessage() and secret[10:] not in record.getMessage()
        for record in caplog.records
    )
