"""/v1/blacklist over real HTTP: add, check, list paged, remove, start a sync, read its report."""

from __future__ import annotations

import httpx
import redis

from smsq.api.services import Services
from tests.api.conftest import MakeKey, bearer


def test_add_check_list_remove(http: httpx.Client, make_key: MakeKey) -> None:
    secret = make_key("blacklist")
    for number in ("+37251000003", "+37251000001", "+37251000002"):
        answer = http.post(
            "/v1/blacklist", json={"number": number, "reason": "asked"}, headers=bearer(secret)
        )
        assert answer.status_code == 201 and answer.json() == {"number": number, "changed": True}
    again = http.post("/v1/blacklist", json={"number": "+372 5100 0001"}, headers=bearer(secret))
    assert again.json() == {"number": "+37251000001", "changed": False}
    check = http.get("/v1/blacklist/+37251000001", headers=bearer(secret)).json()
    assert (
        check["blocked"] is True and check["entry"]["reason"] == "asked" and check["entry"]["source"] == "api"
    )
    page = http.get("/v1/blacklist", params={"limit": 2, "offset": 1}, headers=bearer(secret)).json()
    assert page["total"] == 3 and [e["number"] for e in page["entries"]] == ["+37251000002", "+37251000003"]
    removed = http.delete("/v1/blacklist/+37251000001", headers=bearer(secret))
    assert removed.json() == {"number": "+37251000001", "changed": True}
    assert http.get("/v1/blacklist/+37251000001", headers=bearer(secret)).json() == {
        "number": "+37251000001", "blocked": False, "entry": None}  # fmt: skip


def test_bad_input_names_the_field_and_stores_nothing(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key("blacklist")
    for body, field in (({"number": "12"}, "number"), ({"number": "+37251000001", "expires_at": "2000-01-01T00:00Z"}, "expires_at"),
                        ({"number": "+37251000001", "colour": "red"}, "colour"), ([1], "(body)")):  # fmt: skip
        answer = http.post("/v1/blacklist", json=body, headers=bearer(secret))
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"] == field, answer.json()
    assert (
        http.get("/v1/blacklist", params={"limit": 0}, headers=bearer(secret)).json()["errors"][0]["field"]
        == "limit"
    )
    assert http.get("/v1/blacklist/abc", headers=bearer(secret)).status_code == 422
    assert [k for k in redis_client.scan_iter("smsq:blacklist:*")] == []
    assert http.get("/v1/blacklist", headers=bearer(make_key("send"))).status_code == 403


def test_start_a_sync_and_read_its_report(
    http: httpx.Client, make_key: MakeKey, services: Services, redis_client: redis.Redis
) -> None:
    secret = make_key("blacklist")
    started = http.post("/v1/blacklist/syncs", json={"dry_run": True}, headers=bearer(secret))
    assert started.status_code == 202
    task_id = started.json()["task_id"]
    assert redis_client.llen("sync") == 1  # queued for a worker on the sync lane
    running = http.get(f"/v1/blacklist/syncs/{task_id}", headers=bearer(secret))
    assert running.status_code == 202 and running.json() == {"task_id": task_id, "status": "running"}
    assert http.get("/v1/blacklist/syncs/latest", headers=bearer(secret)).status_code == 202
    refused = http.post("/v1/blacklist/syncs", json={"providers": ["nobody"]}, headers=bearer(secret))
    assert refused.status_code == 422 and refused.json()["errors"][0]["field"].startswith("providers")
