"""The status tasks as Celery runs them (in-process): bad payloads go to the dead-letter list with the
field named, good ones reach the status code."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from smsq.cli.redis_server import RedisServer
from smsq.config import contract as names
from smsq.config.settings import Settings
from smsq.producers.core.store import MessageStore
from smsq.workers.app import create_app
from smsq.workers.context import reset_contexts


@pytest.fixture(scope="module")
def app(redis_server: RedisServer) -> Iterator[Celery]:
    # One app for the module: each create_app registers the tasks again (Celery warns about that).
    yield create_app(Settings(redis_url=redis_server.url, _env_file=None))  # type: ignore[call-arg]
    reset_contexts(close=True)


@pytest.fixture(autouse=True)
def clean(redis_client: redis.Redis) -> None:
    """redis_client flushes the database before each test."""


def dead_letters(redis_client: redis.Redis) -> list[str]:
    return redis_client.lrange("smsq:dead", 0, -1)  # type: ignore[return-value]


@pytest.mark.parametrize(
    ("task", "args", "kwargs", "field"),
    [
        (names.STATUS_POLL_TASK, (), {"message_ids": ["not-a-uuid"]}, "message_ids.0"),
        (names.STATUS_POLL_TASK, (), {"message_ids": []}, "message_ids"),
        (names.STATUS_POLL_TASK, (), {"message_ids": [str(uuid.uuid4())], "evil": 1}, "evil"),
        (names.STATUS_POLL_TASK, ([str(uuid.uuid4())],), {}, "args"),
        (names.DELIVERY_REPORT_TASK, (), {"message_id": str(uuid.uuid4()), "provider": "pigeon"}, "provider"),
        (names.DELIVERY_REPORT_TASK, (), {"provider": "messente"}, "message_id"),
        (
            names.DELIVERY_REPORT_TASK,
            (),
            {"message_id": str(uuid.uuid4()), "provider": "messente", "channel": "fax"},
            "channel",
        ),
        (
            names.DELIVERY_REPORT_TASK,
            (),
            {"message_id": str(uuid.uuid4()), "provider": "messente", "err": "bad"},
            "err",
        ),
    ],
)
def test_a_bad_payload_is_dead_lettered_naming_the_field(
    app: Celery,
    redis_client: redis.Redis,
    task: str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    field: str,
) -> None:
    app.tasks[task].apply(args=args, kwargs=kwargs)
    (entry,) = dead_letters(redis_client)
    assert f'"task": "{task}"' in entry and f"{field}:" in entry


def test_a_poll_of_unknown_ids_drops_them(app: Celery, redis_client: redis.Redis) -> None:
    gone = str(uuid.uuid4())
    redis_client.zadd("smsq:polls", {gone: 0})
    app.tasks[names.STATUS_POLL_TASK].apply(kwargs={"message_ids": [gone]})
    assert redis_client.zcard("smsq:polls") == 0 and dead_letters(redis_client) == []


def test_a_report_reaches_the_message(app: Celery, redis_client: redis.Redis) -> None:
    store = MessageStore(redis_client, retention_seconds=3600)
    message_id = str(uuid.uuid4())
    store.create(
        message_id,
        {"id": message_id, "status": "queued", "channels": "sms"},
        idempotency_key=None,
        due_ms=None,
    )
    store.transition(message_id, "sending")
    store.transition(message_id, "sent", fields={"provider": "smsapi", "provider_message_id": "17"})
    report = {
        "message_id": message_id,
        "provider": "smsapi",
        "status": "DELIVERED",
        "provider_message_id": "17",
    }
    app.tasks[names.DELIVERY_REPORT_TASK].apply(kwargs=report)
    assert redis_client.hget(f"smsq:msg:{message_id}", "status") == "delivered"


def test_a_report_for_an_unknown_message_creates_nothing(app: Celery, redis_client: redis.Redis) -> None:
    report = {"message_id": str(uuid.uuid4()), "provider": "direct_messenger", "status": "1"}
    app.tasks[names.DELIVERY_REPORT_TASK].apply(kwargs=report)
    assert redis_client.keys("smsq:msg:*") == [] and dead_letters(redis_client) == []
