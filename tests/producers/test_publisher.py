from __future__ import annotations

import base64
import json
import uuid

import pytest
import redis
from celery.exceptions import TimeoutError as CeleryTimeout

from smsq.cli.redis_server import RedisServer
from smsq.config.celery import make_celery
from smsq.config.contract import BlacklistSyncPayload, SendPayload, TwoFactorVerifyPayload
from smsq.config.settings import Settings
from smsq.producers.publisher import PUBLISHED_HEADER, CeleryPublisher, published_header, task_message


def test_the_message_is_the_one_celery_itself_writes(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    app = make_celery(Settings(_env_file=None, redis_url=redis_server.url))  # type: ignore[call-arg]
    # smsq stamps its publish time on every task, through Celery too (the recovery check reads it).
    app.send_task("smsq.send", kwargs={"message_id": "abc"}, queue="low", routing_key="low",
                  headers=published_header())  # fmt: skip
    celery_made = json.loads(redis_client.lpop("low"))  # type: ignore[arg-type]
    ours = json.loads(task_message("smsq.send", {"message_id": "abc"}, "low", origin="test"))

    def shape(message: dict) -> dict:  # type: ignore[type-arg]
        volatile = {"id", "root_id", "origin", "correlation_id", "delivery_tag", "reply_to", PUBLISHED_HEADER}
        return {
            "top": sorted(message),
            "headers": {k: v for k, v in message["headers"].items() if k not in volatile},
            "properties": {k: v for k, v in message["properties"].items() if k not in volatile},
            "body": json.loads(base64.b64decode(message["body"])),
        }

    assert shape(ours) == shape(celery_made)
    assert abs(ours["headers"][PUBLISHED_HEADER] - celery_made["headers"][PUBLISHED_HEADER]) < 60_000
    assert ours["headers"]["id"] == ours["headers"]["root_id"] == ours["properties"]["correlation_id"]


def test_many_tasks_go_in_one_pipeline_to_their_queues(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    publisher = CeleryPublisher(make_celery(Settings(_env_file=None, redis_url=redis_server.url)))  # type: ignore[call-arg]
    ids = [str(uuid.UUID(int=n)) for n in range(4)]
    publisher.publish_many(
        [("smsq.send", SendPayload(message_id=ids[n]), "high" if n % 2 else "low") for n in range(4)]
    )
    assert redis_client.llen("high") == 2 and redis_client.llen("low") == 2
    queued = [
        json.loads(base64.b64decode(json.loads(m)["body"]))[1] for m in redis_client.lrange("low", 0, -1)
    ]
    assert sorted(k["message_id"] for k in queued) == [ids[0], ids[2]]


def test_a_payload_goes_out_as_the_json_its_model_decodes_from_and_publish_returns_the_task_id(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    publisher = CeleryPublisher(make_celery(Settings(_env_file=None, redis_url=redis_server.url)))  # type: ignore[call-arg]
    payload = BlacklistSyncPayload(providers=["smsapi"], trigger="retry")
    task_id = publisher.publish("smsq.blacklist_sync", payload, "sync")
    message = json.loads(redis_client.lpop("sync"))  # type: ignore[arg-type]
    kwargs = json.loads(base64.b64decode(message["body"]))[1]
    assert message["headers"]["id"] == task_id and message["headers"]["task"] == "smsq.blacklist_sync"
    assert kwargs == {"providers": ["smsapi"], "dry_run": False, "force": False, "trigger": "retry"}
    assert BlacklistSyncPayload.model_validate(kwargs) == payload


def test_a_pin_never_appears_in_the_kwargsrepr_flower_and_logs_show(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    publisher = CeleryPublisher(make_celery(Settings(_env_file=None, redis_url=redis_server.url)))  # type: ignore[call-arg]
    kwargs = {"session_id": "a" * 32, "pin": "XY1234"}
    with pytest.raises(CeleryTimeout):  # no worker here: only the message is of interest
        publisher.call("smsq.two_factor_verify", TwoFactorVerifyPayload(**kwargs), "high", timeout=0.05)
    ours = json.loads(task_message("smsq.two_factor_verify", kwargs, "high", origin="test"))
    for message in (json.loads(redis_client.lpop("high")), ours):  # type: ignore[arg-type]
        assert (
            "XY1234" not in message["headers"]["kwargsrepr"] and "a" * 32 in message["headers"]["kwargsrepr"]
        )
        assert json.loads(base64.b64decode(message["body"]))[1] == kwargs  # the worker still gets it
