"""Property-based: schemathesis generates requests from the API's own OpenAPI document (valid and
invalid) and sends them over real HTTP with a key holding every scope; no answer may be a 5xx, and
every answer's status, content type and body must be what the document says."""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from smsq.api.server import running_api
from smsq.api.services import Services
from smsq.cli.redis_server import RedisServer
from smsq.config import contract as names
from tests.api.conftest import ALL_LANES, api_settings

EXAMPLES = int(os.environ.get("SMSQ_FUZZ_EXAMPLES", "10"))
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


def worker_answer(task: str, payload: Any, queue: str, timeout: float) -> dict[str, Any]:
    if task == names.TWO_FACTOR_SEND_TASK:
        return {"session_id": "c" * 32, "expires_in": 300, "sms": "sent"}
    return {"outcome": "not_found"}


@pytest.fixture(scope="module")
def fuzzed(redis_server: RedisServer) -> Iterator[tuple[str, str]]:
    found = Services.from_settings(api_settings(redis_server.url), lanes=lambda: ALL_LANES)
    # No worker runs here: the two calls a worker answers (two-factor) get the answers a worker
    # gives, or every valid one would be a 504 after the wait (tests/api/test_two_factor.py has those).
    found.smsq.publisher.call = worker_answer  # type: ignore[method-assign]
    secret = found.keys.create("fuzz", "send,read,campaigns,blacklist").secret
    with running_api(found) as url:
        yield url, secret


def operations(url: str) -> list[schemathesis.APIOperation]:
    return [
        result.ok() for result in schemathesis.openapi.from_url(f"{url}/openapi.json").get_all_operations()
    ]


def test_the_document_covers_every_route(fuzzed: tuple[str, str]) -> None:
    paths = {f"{operation.method.upper()} {operation.path}" for operation in operations(fuzzed[0])}
    assert {"POST /v1/messages", "POST /v1/messages/batch", "GET /v1/messages/{message_id}", "DELETE /v1/messages/{message_id}",
            "POST /v1/campaigns/upload", "POST /v1/campaigns/{campaign_id}/pause", "GET /v1/blacklist/syncs/{task_id}",
            "POST /v1/2fa/{session_id}/verify", "GET /readyz"} <= paths  # fmt: skip


# schemathesis's own pytest plugin does not load under pytest 9 (it reads a private attribute), so
# each operation's strategy is driven by hypothesis directly: the same cases, the same checks.
def test_no_5xx_and_no_answer_outside_the_schema(fuzzed: tuple[str, str]) -> None:
    url, secret = fuzzed
    headers = {"Authorization": f"Bearer {secret}"}
    tried = 0
    for operation in operations(url):

        @given(case=operation.as_strategy())
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def run(case: schemathesis.Case) -> None:
            case.call_and_validate(base_url=url, headers=headers, checks=CHECKS)

        run()
        tried += 1
    assert tried >= 20
