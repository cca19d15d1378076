"""/v1/messages over real HTTP: send, read one and many, cancel; every refusal as problem+json."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import httpx
import redis

from smsq.api.services import Services
from tests.api.conftest import MakeKey, bearer

SMS = {"to": "+37251234567", "messages": [{"channel": "sms", "text": "hello", "sender": "App"}]}


def later(minutes: int = 30) -> str:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).isoformat()


def message_keys(redis_client: redis.Redis) -> list[str]:
    return [key for key in redis_client.scan_iter("smsq:msg:*")]


def test_send_answers_202_with_id_and_status_and_stores_the_key(
    http: httpx.Client, make_key: MakeKey, services: Services
) -> None:
    secret = make_key()
    answer = http.post("/v1/messages", json=SMS, headers=bearer(secret))
    assert answer.status_code == 202, answer.text
    body = answer.json()
    assert body["status"] == "queued" and body["duplicate"] is False
    assert answer.headers["location"] == f"/v1/messages/{body['id']}"
    record = services.smsq.store.get(body["id"])
    assert record is not None and record["key_id"] == services.keys.authenticate(secret).key_id  # type: ignore[union-attr]
    assert "test" not in record
    read = http.get(f"/v1/messages/{body['id']}", headers=bearer(secret)).json()
    assert read["id"] == body["id"] and read["to"] == "+37251234567" and read["test"] is False


def test_a_test_key_marks_its_messages(http: httpx.Client, make_key: MakeKey, services: Services) -> None:
    secret = make_key(test=True)
    body = http.post("/v1/messages", json=SMS, headers=bearer(secret)).json()
    assert services.smsq.store.get(body["id"])["test"] == "1"  # type: ignore[index]
    assert http.get(f"/v1/messages/{body['id']}", headers=bearer(secret)).json()["test"] is True


def test_a_scheduled_message_answers_scheduled(http: httpx.Client, make_key: MakeKey) -> None:
    answer = http.post("/v1/messages", json={**SMS, "time_to_send": later()}, headers=bearer(make_key()))
    assert answer.status_code == 202 and answer.json()["status"] == "scheduled"


def test_bad_input_lists_every_offending_field_and_stores_nothing(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    bad = {"to": "12", "messages": [{"channel": "sms"}], "priority": "urgent"}
    answer = http.post("/v1/messages", json=bad, headers=bearer(make_key()))
    assert answer.status_code == 422
    assert answer.headers["content-type"] == "application/problem+json"
    problem = answer.json()
    assert problem["status"] == 422 and problem["title"] == "Invalid input"
    fields = {error["field"] for error in problem["errors"]}
    assert {"to", "messages.0.sms.text", "priority"} == fields, problem
    assert message_keys(redis_client) == [] and redis_client.llen("regular") == 0


def test_a_body_that_is_not_json_is_one_clear_error(http: httpx.Client, make_key: MakeKey) -> None:
    for raw in (b"{not json", b"", "ÿ".encode("latin-1"), b"[" * 100_000):
        answer = http.post("/v1/messages", content=raw, headers=bearer(make_key()))
        assert answer.status_code == 422, (raw[:10], answer.text)
        assert [error["field"] for error in answer.json()["errors"]] == ["(body)"]


def test_no_key_or_a_wrong_one_is_401(
    http: httpx.Client, make_key: MakeKey, redis_client: redis.Redis
) -> None:
    make_key()
    for headers in (
        {},
        {"Authorization": "Basic dXNlcjpwYXNz"},
        bearer("smsq_live_nope"),
        bearer("x" * 5000),
    ):
        answer = http.post("/v1/messages", json=SMS, headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == "Bearer"
        assert answer.json()["title"] == "Unauthorized"
    assert message_keys(redis_client) == []


def test_a_revoked_key_stops_at_once(http: httpx.Client, make_key: MakeKey, services: Services) -> None:
    secret = make_key()
    assert http.post("/v1/messages", json=SMS, headers=bearer(secret)).status_code == 202
    services.keys.revoke(services.keys.all()[0].key_id)
    assert http.post("/v1/messages", json=SMS, headers=bearer(secret)).status_code == 401


def test_a_key_without_the_scope_is_403(http: httpx.Client, make_key: MakeKey) -> None:
    reader, sender = make_key("read"), make_key("send")
    refused = http.post("/v1/messages", json=SMS, headers=bearer(reader))
    assert refused.status_code == 403 and "'send'" in refused.json()["detail"]
    message_id = http.post("/v1/messages", json=SMS, headers=bearer(sender)).json()["id"]
    assert http.get(f"/v1/messages/{message_id}", headers=bearer(sender)).status_code == 403


def test_a_key_reads_and_cancels_only_its_own(
    http: httpx.Client, make_key: MakeKey, services: Services
) -> None:
    mine, theirs = make_key(), make_key()
    message_id = http.post(
        "/v1/messages", json={**SMS, "time_to_send": later()}, headers=bearer(mine)
    ).json()["id"]
    python_api = services.smsq.send(SMS).message_id  # no key: no API key reads it
    for other in (message_id, python_api):
        assert http.get(f"/v1/messages/{other}", headers=bearer(theirs)).status_code == 404
        assert http.delete(f"/v1/messages/{other}", headers=bearer(theirs)).status_code == 404
    assert services.smsq.result(message_id).status == "scheduled"
    listed = http.get(
        "/v1/messages", params={"ids": f"{message_id},{python_api}"}, headers=bearer(theirs)
    ).json()
    assert listed["messages"] == [] and sorted(listed["not_found"]) == sorted([message_id, python_api])


def test_read_many(http: httpx.Client, make_key: MakeKey) -> None:
    secret = make_key()
    ids = [http.post("/v1/messages", json=SMS, headers=bearer(secret)).json()["id"] for _ in range(3)]
    unknown = str(uuid.uuid4())
    answer = http.get("/v1/messages", params=[("ids", ",".join(ids[:2])), ("ids", ids[2]), ("ids", unknown)],
                      headers=bearer(secret))  # fmt: skip
    assert answer.status_code == 200
    assert [message["id"] for message in answer.json()["messages"]] == ids
    assert answer.json()["not_found"] == [unknown]


def test_read_many_bounds_and_bad_ids_are_422(http: httpx.Client, make_key: MakeKey) -> None:
    secret = make_key()
    too_many = ",".join(str(uuid.uuid4()) for _ in range(501))
    for params in ({"ids": too_many}, {"ids": ","}, {"ids": "not-a-uuid"}, {}):
        answer = http.get("/v1/messages", params=params, headers=bearer(secret))
        assert answer.status_code == 422, params
        assert answer.json()["errors"], answer.json()
    assert (
        http.get("/v1/messages/not-a-uuid", headers=bearer(secret)).json()["errors"][0]["field"]
        == "message_id"
    )


def test_cancel_a_scheduled_message_and_409_saying_why_otherwise(
    http: httpx.Client, make_key: MakeKey
) -> None:
    secret = make_key()
    scheduled = http.post(
        "/v1/messages", json={**SMS, "time_to_send": later()}, headers=bearer(secret)
    ).json()["id"]
    answer = http.delete(f"/v1/messages/{scheduled}", headers=bearer(secret))
    assert answer.status_code == 200 and answer.json()["status"] == "cancelled"
    again = http.delete(f"/v1/messages/{scheduled}", headers=bearer(secret))
    assert again.status_code == 409 and "already cancelled" in again.json()["detail"]
    queued = http.post("/v1/messages", json=SMS, headers=bearer(secret)).json()["id"]
    refused = http.delete(f"/v1/messages/{queued}", headers=bearer(secret))
    assert refused.status_code == 409 and "released to a send queue" in refused.json()["detail"]
    assert http.delete(f"/v1/messages/{uuid.uuid4()}", headers=bearer(secret)).status_code == 404


def test_unknown_route_and_method_are_problems(http: httpx.Client) -> None:
    assert http.get("/v2/nothing").json()["status"] == 404
    answer = http.put("/v1/messages")
    assert answer.status_code == 405 and answer.headers["content-type"] == "application/problem+json"
