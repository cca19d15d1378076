"""Fixtures for worker tests that talk to the provider sandbox over loopback, without a stack."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from smsq.sandbox import SandboxConfig
from smsq.sandbox.server import running_sandbox
from tests.support.fakes import FakeClock


@pytest.fixture(scope="module")
def sandbox_clock() -> FakeClock:
    """The module's sandbox keeps this clock; a module whose store must keep the same time overrides
    ``clock`` with it, so delivery timelines move by hand and nothing sleeps."""
    return FakeClock()


@pytest.fixture(scope="module")
def sandbox_url(sandbox_clock: FakeClock) -> Iterator[str]:
    """The provider sandbox in a thread, one per module (the integration stack has its own)."""
    config = SandboxConfig(clock=sandbox_clock, ack_after_seconds=1, final_after_seconds=3)
    with running_sandbox(config) as url:
        yield url


@pytest.fixture
def admin(sandbox_url: str) -> Iterator[httpx.Client]:
    """The sandbox's admin API, reset before each test."""
    with httpx.Client(base_url=sandbox_url, timeout=10) as client:
        client.post("/_admin/reset").raise_for_status()
        yield client
