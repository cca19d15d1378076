from __future__ import annotations

import json
import time
from typing import Any

import pytest
from starlette.testclient import TestClient

from smsq.sandbox.faults import FaultRule, parse_fault
from tests.sandbox.conftest import DM_TOKEN, MESSENTE_AUTH, SMSAPI_HEADERS

OMNIMESSAGE = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hi"}]}


def inject(client: TestClient, **fault: Any) -> None:
    response = client.post("/_admin/faults", json=fault)
    assert response.status_code == 201, response.text


def send_messente(client: TestClient) -> Any:
    return client.post("/v1/omnimessage", json=OMNIMESSAGE, auth=MESSENTE_AUTH)


def test_status_fault_answers_in_the_provider_error_shape(client: TestClient) -> None:
    inject(client, provider="messente", endpoint="/v1/omnimessage", kind="status", status=503)

    response = send_messente(client)

    assert response.status_code == 503
    assert response.json()["errors"][0]["code"] == "104"
    assert client.get("/_admin/messages").json()["messente"] == []  # the request never reached the handler


@pytest.mark.parametrize(
    ("provider", "method", "path", "kwargs", "check"),
    [
        (
            "messente",
            "GET",
            "/v1/phonebook/blacklist",
            {"auth": MESSENTE_AUTH},
            lambda b: b["errors"][0]["code"] == "205",
        ),
        ("smsapi", "POST", "/smsapi/sms.do", {"headers": SMSAPI_HEADERS}, lambda b: b["error"] == 201),
        (
            "smsapi",
            "GET",
            "/smsapi/blacklist/phone_numbers",
            {"headers": SMSAPI_HEADERS},
            lambda b: "message" in b,
        ),
        ("dm", "POST", "/dm/", {"data": {"api_token": DM_TOKEN}}, lambda b: b["message"] == "Server Error"),
        (
            "dm2fa",
            "POST",
            "/dm2fa/",
            {"data": {"api_token": DM_TOKEN}},
            lambda b: b["message"] == "Server Error",
        ),
    ],
)
def test_500_default_for_each_provider(
    client: TestClient, provider: str, method: str, path: str, kwargs: dict[str, Any], check: Any
) -> None:
    inject(client, provider=provider, kind="status")

    response = client.request(method, path, **kwargs)

    assert response.status_code == 500
    assert check(response.json())


@pytest.mark.parametrize(("retry_after", "header"), [(2, "2"), (0.5, "0.5"), (None, None)])
def test_rate_limit_is_429_with_or_without_retry_after(
    client: TestClient, retry_after: float | None, header: str | None
) -> None:
    inject(client, provider="messente", kind="rate_limit", retry_after=retry_after)

    response = send_messente(client)

    assert response.status_code == 429
    assert response.headers.get("retry-after") == header


def test_malformed_returns_success_status_with_broken_json(client: TestClient) -> None:
    inject(client, provider="messente", endpoint="POST /v1/omnimessage", kind="malformed", status=201)

    response = send_messente(client)

    assert response.status_code == 201
    assert response.headers["content-type"] == "application/json"
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)


def test_timeout_holds_then_answers_504(client: TestClient) -> None:
    inject(client, provider="dm", kind="timeout", timeout_seconds=0.2)

    started = time.monotonic()
    response = client.post("/dm/", data={"api_token": DM_TOKEN})

    assert time.monotonic() - started >= 0.2
    assert response.status_code == 504


def test_latency_delays_then_answers_normally(client: TestClient) -> None:
    inject(client, provider="messente", kind="latency", latency_ms=150)

    started = time.monotonic()
    response = send_messente(client)

    assert time.monotonic() - started >= 0.15
    assert response.status_code == 201


def test_count_limits_how_often_a_fault_fires(client: TestClient) -> None:
    inject(client, provider="messente", kind="status", status=502, count=2)

    statuses = [send_messente(client).status_code for _ in range(3)]

    assert statuses == [502, 502, 201]
    assert client.get("/_admin/faults").json() == {"faults": []}


def test_fault_only_hits_its_provider_method_and_path(client: TestClient) -> None:
    inject(client, provider="messente", endpoint="GET /v1/omnimessage/*/status", kind="status", status=500)

    created = send_messente(client)
    status = client.get(f"/v1/omnimessage/{created.json()['omnimessage_id']}/status", auth=MESSENTE_AUTH)
    other_provider = client.post("/dm/", data={"api_token": DM_TOKEN})

    assert created.status_code == 201
    assert status.status_code == 500
    assert other_provider.status_code == 422


def test_faults_listed_and_cleared(client: TestClient) -> None:
    inject(client, provider="smsapi", endpoint="/smsapi/sms.do", kind="status", status=500, count=3)

    listed = client.get("/_admin/faults").json()["faults"]
    assert listed[0]["endpoint"] == "/smsapi/sms.do" and listed[0]["count"] == 3

    assert client.delete("/_admin/faults").status_code == 204
    assert client.post("/smsapi/sms.do", data={"format": "json"}, headers=SMSAPI_HEADERS).status_code == 200


def test_faulted_requests_are_still_recorded_with_their_status(client: TestClient) -> None:
    inject(client, provider="messente", kind="rate_limit")

    send_messente(client)

    recorded = client.get("/_admin/requests").json()["requests"]
    assert [(r["path"], r["status"]) for r in recorded] == [("/v1/omnimessage", 429)]


@pytest.mark.parametrize(
    "body",
    [
        {"kind": "explode"},
        {"kind": "status", "provider": "twilio"},
        {"kind": "status", "status": 99},
        {"kind": "status", "count": 0},
        {"kind": "latency", "latency_ms": -5},
        {"kind": "rate_limit", "retry_after": "soon"},
        {"kind": "status", "endpoint": 5},
        [],
    ],
)
def test_bad_fault_definitions_are_400(client: TestClient, body: Any) -> None:
    response = client.post("/_admin/faults", json=body)

    assert response.status_code == 400
    assert response.json()["error"]


@pytest.mark.parametrize(
    ("endpoint", "method", "path", "hits"),
    [
        (None, "GET", "/anything", True),
        ("/v1/omnimessage", "POST", "/v1/omnimessages", True),  # a plain prefix
        ("POST /v1/omnimessage", "GET", "/v1/omnimessage/x/status", False),
        ("delete /v1/omnimessage", "DELETE", "/v1/omnimessage/x", True),
        ("/v1/omnimessage/*/status", "GET", "/v1/omnimessage/abc/status", True),
        ("/v1/omnimessage/*/status", "GET", "/v1/omnimessage/abc", False),
    ],
)
def test_endpoint_patterns(endpoint: str | None, method: str, path: str, hits: bool) -> None:
    rule = parse_fault({"kind": "status", "endpoint": endpoint})

    assert isinstance(rule, FaultRule)
    assert rule.matches("messente", method, path) is hits
