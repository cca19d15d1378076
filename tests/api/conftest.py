"""The API as an app calls it: uvicorn on a free loopback port in this process, over the session's
private Redis; keys made with the real key store."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import httpx
import pytest
import redis

from smsq.api.server import running_api
from smsq.api.services import Services
from smsq.cli.redis_server import RedisServer
from smsq.config.settings import Settings
from smsq.producers.keys.store import KeyStore

MakeKey = Callable[..., str]
ALL_LANES = {lane: ["w@test"] for lane in ("high", "regular", "low", "status", "sync")}


def api_settings(redis_url: str, **overrides: object) -> Settings:
    return Settings(redis_url=redis_url, _env_file=None, **overrides)  # type: ignore[call-arg, arg-type]


@pytest.fixture(scope="session")
def served(redis_server: RedisServer) -> Iterator[tuple[Services, str]]:
    found = Services.from_settings(api_settings(redis_server.url), lanes=lambda: {})
    with running_api(found) as url:
        yield found, url


@pytest.fixture
def services(served: tuple[Services, str], redis_client: redis.Redis) -> Services:
    served[0].lanes = lambda: {}
    return served[0]  # redis_client flushed the database


@pytest.fixture
def http(served: tuple[Services, str], redis_client: redis.Redis) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=served[1], timeout=10) as client:
        yield client


@pytest.fixture
def make_key(services: Services) -> MakeKey:
    def make(scopes: str = "send,read,campaigns,blacklist", **options: object) -> str:
        return services.keys.create("test-app", scopes, **options).secret  # type: ignore[arg-type]

    return make


def bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}


@pytest.fixture
def keys(services: Services) -> KeyStore:
    return services.keys
