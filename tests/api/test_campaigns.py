"""/v1/campaigns over real HTTP: from JSON and from an uploaded CSV, progress, pause, resume, cancel,
only the creating key sees it, bad input stores nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import redis

from tests.api.conftest import MakeKey, bearer

TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %name%", "sender": "Shop"}]}
RECIPIENTS = [{"to": "+37251000001", "name": "Ann"}, {"to": "+37251000002", "name": "Bo"},
              {"to": "nope", "name": "X"}]  # fmt: skip


def campaign_keys(redis_client: redis.Redis) -> list[str]:
    return list(redis_client.scan_iter("smsq:campaign*"))


def test_create_from_json_then_pause_resume_cancel(http: httpx.Client, make_key: MakeKey) -> None:
    secret = make_key("campaigns")
    answer = http.post("/v1/campaigns", json={"name": "spring", "template": TEMPLATE, "recipients": RECIPIENTS},
                       headers=bearer(secret))  # fmt: skip
    assert answer.status_code == 202, answer.text
    campaign = answer.json()
    assert (
        campaign["recipients"] == 3
        and campaign["messages"] == 2
        and campaign["skipped"] == {"invalid_number": 1}
    )
    assert campaign["status"] == "running"
    path = f"/v1/campaigns/{campaign['id']}"
    assert http.get(path, headers=bearer(secret)).json()["counts"] == {"queued": 2}
    assert http.post(f"{path}/pause", headers=bearer(secret)).json()["status"] == "paused"
    assert http.post(f"{path}/resume", headers=bearer(secret)).json()["status"] == "running"
    assert http.post(f"{path}/cancel", headers=bearer(secret)).json()["status"] == "cancelled"
    refused = http.post(f"{path}/pause", headers=bearer(secret))
    assert refused.status_code == 409 and "is cancelled" in refused.json()["detail"]


def test_upload_a_csv(http: httpx.Client, make_key: MakeKey, tmp_path: Path) -> None:
    secret = make_key("campaigns")
    csv = "phone,name\n" + "".join(f"+3725100{i:04d},N{i}\n" for i in range(500))
    answer = http.post(
        "/v1/campaigns/upload", headers={**bearer(secret), "Idempotency-Key": "upload-1"},
        data={"name": "csv", "template": json.dumps(TEMPLATE)}, files={"file": ("people.csv", csv.encode())},
    )  # fmt: skip
    assert answer.status_code == 202, answer.text
    assert answer.json()["messages"] == 500
    again = http.post(
        "/v1/campaigns/upload", headers={**bearer(secret), "Idempotency-Key": "upload-1"},
        data={"name": "csv", "template": json.dumps(TEMPLATE)}, files={"file": ("people.csv", csv.encode())},
    )  # fmt: skip
    assert again.json()["id"] == answer.json()["id"]  # the same campaign, not a second one


def test_an_upload_names_what_is_wrong_and_stores_nothing(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key("campaigns")
    cases = [({"name": "x", "template": "{"}, {"file": ("a.csv", b"phone\n+37251000001\n")}, "template"),
             ({"name": "x", "template": json.dumps(TEMPLATE)}, None, "file"),
             ({"name": "x", "template": json.dumps(TEMPLATE)}, {"file": ("a.csv", b"number\n+37251000001\n")}, "csv")]  # fmt: skip
    for data, files, field in cases:
        answer = http.post("/v1/campaigns/upload", headers=bearer(secret), data=data, files=files)
        assert answer.status_code == 422, answer.text
        assert answer.json()["errors"][0]["field"].startswith(field), answer.json()
    assert campaign_keys(redis_client) == []


def test_bad_json_input_is_422_and_stores_nothing(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key("campaigns")
    for body, field in (({"name": "x", "template": {"messages": []}, "recipients": RECIPIENTS}, "template"),
                        ({"name": "x", "template": TEMPLATE, "recipients": []}, "recipients"),
                        ({"name": "x", "template": TEMPLATE, "recipients": RECIPIENTS, "extra": 1}, "extra")):  # fmt: skip
        answer = http.post("/v1/campaigns", json=body, headers=bearer(secret))
        assert answer.status_code == 422 and answer.json()["errors"][0]["field"].startswith(field), (
            answer.json()
        )
    assert campaign_keys(redis_client) == []


def test_only_the_creating_key_sees_it_and_test_keys_and_scopes(
    http: httpx.Client, make_key: MakeKey
) -> None:
    mine, theirs = make_key("campaigns"), make_key("campaigns")
    body = {"name": "spring", "template": TEMPLATE, "recipients": RECIPIENTS}
    campaign_id = http.post("/v1/campaigns", json=body, headers=bearer(mine)).json()["id"]
    assert http.get(f"/v1/campaigns/{campaign_id}", headers=bearer(theirs)).status_code == 404
    assert http.post(f"/v1/campaigns/{campaign_id}/cancel", headers=bearer(theirs)).status_code == 404
    assert http.get(f"/v1/campaigns/{campaign_id}", headers=bearer(make_key("send"))).status_code == 403
    assert http.get("/v1/campaigns/not-an-id", headers=bearer(mine)).status_code == 422


def test_a_test_keys_campaign_marks_every_message_for_the_simulated_provider(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    secret = make_key("campaigns", test=True)
    body = {"name": "trial", "template": TEMPLATE, "recipients": RECIPIENTS}
    answer = http.post("/v1/campaigns", json=body, headers=bearer(secret))
    assert answer.status_code == 202, answer.text
    campaign = redis_client.hgetall(f"smsq:campaign:{answer.json()['id']}")
    assert campaign["test"] == "1" and campaign["key_id"]
    records = [redis_client.hgetall(key) for key in redis_client.keys("smsq:msg:*")]
    assert len(records) == 2 and all(record["test"] == "1" for record in records)
    live = http.post("/v1/campaigns", json=body, headers=bearer(make_key("campaigns")))
    assert "test" not in redis_client.hgetall(f"smsq:campaign:{live.json()['id']}")
    marked = [key for key in redis_client.keys("smsq:msg:*") if "test" in redis_client.hgetall(key)]
    assert len(marked) == 2  # the live campaign's two are not
