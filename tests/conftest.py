from __future__ import annotations

from collections.abc import Iterator

import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.config.settings import Settings
from smsq.producers.core.store import MessageStore
from tests.support.fakes import FakeClock


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    server.start()
    yield server
    server.stop()


@pytest.fixture
def redis_client(redis_server: RedisServer) -> Iterator[redis.Redis]:
    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
    client.flushdb()
    yield client
    client.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def store(redis_client: redis.Redis, clock: FakeClock) -> MessageStore:
    return MessageStore(redis_client, prefix="t", clock=clock, retention_seconds=3600)


@pytest.fixture
def settings(redis_server: RedisServer) -> Settings:
    return Settings(redis_url=redis_server.url, _env_file=None)  # type: ignore[call-arg]
