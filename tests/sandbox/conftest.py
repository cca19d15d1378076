from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

from smsq.sandbox import SandboxConfig
from smsq.sandbox.app import create_app
from tests.support.fakes import FakeClock

MESSENTE_AUTH = ("sandbox", "sandbox")
SMSAPI_HEADERS = {"Authorization": "Bearer sandbox-token"}
DM_TOKEN = "sandbox-token"


@pytest.fixture
def config(clock: FakeClock) -> SandboxConfig:
    return SandboxConfig(clock=clock, ack_after_seconds=1.0, final_after_seconds=3.0)


@pytest.fixture
def client(config: SandboxConfig) -> Iterator[TestClient]:
    with TestClient(create_app(config)) as test_client:
        yield test_client
