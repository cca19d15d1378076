"""Fixtures for blacklist sync tests: real provider clients against the sandbox (tests/workers/conftest.py), a
sync runner."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import redis

from smsq.cli.redis_server import RedisServer
from smsq.config.settings import Settings
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.blacklist.sync import SyncReport
from smsq.workers.blacklist.sync import SyncOptions, run_sync
from smsq.workers.blacklist.tasks import blacklist_providers
from smsq.workers.providers.base import BlacklistProvider
from tests.support.fakes import FakeClock

X, Y, Z = "+37251000001", "+37251000002", "+37251000003"
ADMIN_NAMES = {"messente": "messente", "smsapi": "smsapi", "direct_messenger": "dm"}


def sandbox_settings(redis_url: str, sandbox_url: str, **blacklist: Any) -> Settings:
    return Settings(  # type: ignore[call-arg]
        _env_file=None,
        redis_url=redis_url,
        key_prefix="t",
        messente={"base_url": f"{sandbox_url}/v1", "username": "sandbox", "password": "sandbox"},
        smsapi={"enabled": True, "base_url": f"{sandbox_url}/smsapi", "token": "sandbox-token"},
        direct_messenger={"enabled": True, "base_url": f"{sandbox_url}/dm", "api_token": "sandbox-token"},
        blacklist={"concurrency": 4, "outage_after": 5, "mass_delete_min": 3, **blacklist},
    )


@pytest.fixture(scope="module")
def sync_settings(redis_server: RedisServer, sandbox_url: str) -> Settings:
    return sandbox_settings(redis_server.url, sandbox_url)


@pytest.fixture
def blacklist(redis_client: redis.Redis, clock: FakeClock) -> Blacklist:
    return Blacklist(redis_client, prefix="t", clock=clock)


@pytest.fixture(scope="module")
def providers(sync_settings: Settings) -> Iterator[dict[str, BlacklistProvider]]:
    # One set of clients for the module: building an httpx client (its TLS context) is slow.
    with blacklist_providers(sync_settings) as clients:
        yield clients


class Syncer:
    def __init__(
        self, blacklist: Blacklist, providers: dict[str, BlacklistProvider], settings: Settings
    ) -> None:
        self.blacklist, self.providers, self.settings = blacklist, providers, settings
        self.slept: list[float] = []

    def __call__(self, **options: Any) -> SyncReport:
        return run_sync(
            self.blacklist,
            self.providers,
            self.settings.blacklist,
            SyncOptions(**options),
            sleep=self.slept.append,
        )


@pytest.fixture
def sync(blacklist: Blacklist, providers: dict[str, BlacklistProvider], sync_settings: Settings) -> Syncer:
    return Syncer(blacklist, providers, sync_settings)


def writes(admin: httpx.Client) -> list[str]:
    """Requests that change a provider's blacklist, as 'METHOD path'."""
    logged = admin.get("/_admin/requests").json()["requests"]
    return [f"{r['method']} {r['path']}" for r in logged if "blacklist" in r["path"] and r["method"] != "GET"]


def counts(report: SyncReport) -> dict[str, tuple[str, int, int, int]]:
    parts = {name: (p.status, p.added, p.removed, p.failed) for name, p in report.providers.items()}
    return {"local": ("-", report.local.added, report.local.removed, 0), **parts}
