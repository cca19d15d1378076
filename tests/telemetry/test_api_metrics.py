"""`smsq api` serves the same exposition at /metrics (no key needed, not in the OpenAPI document)."""

from __future__ import annotations

import httpx
import redis

from smsq.api.server import running_api
from smsq.api.services import Services
from smsq.config.settings import Settings
from smsq.telemetry import names
from smsq.telemetry.recorder import Recorder
from tests.telemetry.support import samples, value


def test_the_api_serves_metrics_at_slash_metrics(
    redis_client: redis.Redis, settings: Settings, recorder: Recorder
) -> None:
    found = Services.from_settings(settings.model_copy(update={"key_prefix": "t"}), lanes=lambda: {})
    recorder.inc(names.MESSAGES, ("sent", "smsapi", "sms"), 7)
    recorder.flush()
    redis_client.lpush("high", "{}")
    with running_api(found) as url:
        response = httpx.get(f"{url}/metrics", timeout=10)
        schema = httpx.get(f"{url}/openapi.json", timeout=10).json()
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/plain")
    found_samples = samples(response.text)
    assert value(found_samples, "smsq_messages_total", status="sent", provider="smsapi", channel="sms") == 7
    assert value(found_samples, "smsq_lane_depth", lane="high") == 1
    assert "/metrics" not in schema["paths"]
