from __future__ import annotations

import pytest
import redis

from smsq.config.settings import Settings
from smsq.producers.core.keys import Keys
from smsq.telemetry.exporter import SmsqCollector
from smsq.telemetry.hooks import Telemetry
from smsq.telemetry.live import LiveReader
from smsq.telemetry.recorder import Recorder

PREFIX = "t"


@pytest.fixture
def recorder(redis_client: redis.Redis) -> Recorder:
    """Flushed by hand (no thread), so a test says exactly when counts reach Redis."""
    return Recorder(redis_client, Keys(PREFIX), background=False)


@pytest.fixture
def telemetry(recorder: Recorder) -> Telemetry:
    return Telemetry(recorder)


@pytest.fixture
def collector(redis_client: redis.Redis, settings: Settings) -> SmsqCollector:
    broker = redis.Redis.from_url(settings.redis_url)  # the tests' lanes live in the same database
    return SmsqCollector(redis_client, LiveReader(redis_client, broker, PREFIX), PREFIX)
