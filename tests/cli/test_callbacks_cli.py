"""`smsq callbacks` and `smsq keys create --callback-url` as a user runs them: list, replay by id or
time, a key's signing secret; bad input one line, exit 2, nothing changed."""

from __future__ import annotations

import json

import pytest
import redis

from smsq.producers.core.keys import CallbackKeys, Keys
from smsq.producers.core.store import MessageStore
from smsq.producers.keys.store import KeyStore
from tests.cli.conftest import Run

ID = "00000000-0000-4000-8000-000000000001"
KEYS = CallbackKeys(Keys("smsq"))


@pytest.fixture
def delivered_event(redis_client: redis.Redis) -> str:
    """A message of a key with a callback URL, delivered, its event dead-lettered after three tries."""
    key = KeyStore(redis_client).create("shop", "send", callback_url="https://shop.example/h").key
    store = MessageStore(redis_client, retention_seconds=3600)
    redis_client.hset(
        store.keys.record(ID), mapping={"status": "sent", "key_id": key.key_id, "created_ms": 0}
    )
    store.transition(ID, "delivered")
    event_id = f"{ID}:1"
    redis_client.hset(
        KEYS.event(event_id), mapping={"state": "dead", "attempts": 3, "last_result": "404: no"}
    )
    redis_client.zrem(KEYS.due, event_id)
    redis_client.zadd(KEYS.dead, {event_id: 1})
    return event_id


def test_list_shows_events_and_their_last_answer(run: Run, delivered_event: str) -> None:
    code, out, _ = run("callbacks", "list")
    assert code == 0 and delivered_event in out and "message.delivered" in out and "404: no" in out
    code, out, _ = run("callbacks", "list", "--dead", "--json")
    (listed,) = json.loads(out)
    assert (listed["id"], listed["state"], listed["attempts"]) == (delivered_event, "dead", 3)
    assert listed["payload"]["data"]["status"] == "delivered"


def test_replay_by_id_and_since(run: Run, redis_client: redis.Redis, delivered_event: str) -> None:
    code, out, _ = run("callbacks", "replay", delivered_event)
    assert code == 0 and f"replaying {delivered_event} (message.delivered): due now" in out
    assert redis_client.hget(KEYS.event(delivered_event), "state") == "pending"
    assert redis_client.zscore(KEYS.due, delivered_event) is not None
    assert redis_client.zcard(KEYS.dead) == 0
    code, out, _ = run("callbacks", "replay", "--since", "2000-01-01")
    assert code == 0 and "replaying 1 events since 2000-01-01" in out
    code, out, _ = run("callbacks", "replay", "--since", "2100-01-01")
    assert "replaying 0 events" in out


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("replay",), "replay: give an event id or --since TIME (one of them)"),
        (("replay", "x:1", "--since", "2020-01-01"), "replay: give an event id or --since TIME"),
        (("replay", "nope:1"), "no callback event with id nope:1"),
        (("replay", "--since", "yesterday"), "since: 'yesterday' is not an ISO-8601 date or time"),
        (("list", "--since", "soon"), "since: 'soon' is not an ISO-8601"),
        (("secret", "nokey"), "key: 'nokey' is no key id"),
    ],
)
def test_bad_input_is_one_line_exit_2(run: Run, redis_client: redis.Redis, delivered_event: str,
                                      args: tuple[str, ...], error: str) -> None:  # fmt: skip
    before = redis_client.hgetall(KEYS.event(delivered_event))
    code, _, err = run("callbacks", *args)
    assert code == 2 and error in err and len(err.strip().splitlines()) == 1
    assert redis_client.hgetall(KEYS.event(delivered_event)) == before


def test_keys_create_checks_the_callback_url_and_prints_the_signing_secret(
    run: Run, redis_client: redis.Redis
) -> None:
    code, _, err = run("keys", "create", "--name", "shop", "--callback-url", "http://shop.example/h")
    assert code == 2 and "callback_url: must use https (scheme: http)" in err
    code, _, err = run("keys", "create", "--name", "shop", "--callback-url", "https://127.0.0.1/h")
    assert code == 2 and "callback_url: 127.0.0.1, a loopback address" in err
    assert redis_client.keys("*") == []  # nothing stored
    code, out, _ = run(
        "keys", "create", "--name", "shop", "--callback-url", "https://93.184.215.14/h", "--json"
    )
    created = json.loads(out)
    assert created["callback_secret"].startswith("whsec_")
    code, out, _ = run("callbacks", "secret", created["key_id"])
    assert out.strip() == created["callback_secret"]
