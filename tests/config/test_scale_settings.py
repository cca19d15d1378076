"""The scale-out settings (config/scale_settings.py): RabbitMQ as the broker, the state store through
Sentinel, and the Celery configuration each broker gets."""

from __future__ import annotations

import pytest

from smsq.config.celery import DEDICATED_HIGH_PRIORITY, celery_config, worker_queues
from smsq.producers.core.connection import sentinel_target
from smsq.producers.errors import SettingsError
from tests.config.conftest import Load, Problem

AMQP = "amqp://guest:guest@rabbit.example:5672/smsq"


def test_an_amqp_broker_gets_quorum_lanes_confirms_and_a_heartbeat(load: Load) -> None:
    config = celery_config(load(SMSQ_BROKER_URL=AMQP))
    assert {queue.name: queue.queue_arguments for queue in config["task_queues"]}["high"] == {
        "x-queue-type": "quorum"
    }
    assert config["broker_transport_options"] == {"confirm_publish": True}
    assert config["broker_heartbeat"] == 10.0 and config["task_acks_late"] is True
    assert "visibility_timeout" not in config["broker_transport_options"]


def test_classic_lanes_on_request_and_the_redis_broker_keeps_its_options(load: Load) -> None:
    classic = celery_config(load(SMSQ_BROKER_URL=AMQP, SMSQ_AMQP__QUEUE_TYPE="classic"))
    assert all(queue.queue_arguments is None for queue in classic["task_queues"])
    redis = celery_config(load(SMSQ_BROKER_URL="redis://127.0.0.1:6379/0", SMSQ_AMQP__QUEUE_TYPE="quorum"))
    assert redis["broker_transport_options"]["queue_order_strategy"] == "priority"
    assert all(queue.queue_arguments is None for queue in redis["task_queues"])


def test_only_a_high_only_worker_on_rabbitmq_consumes_at_a_higher_priority(load: Load) -> None:
    amqp = load(SMSQ_BROKER_URL=AMQP)
    (dedicated,) = worker_queues(amqp, ["high"])
    assert dedicated.consumer_arguments == {"x-priority": DEDICATED_HIGH_PRIORITY}
    assert dedicated.queue_arguments == {"x-queue-type": "quorum"}  # declared as the publishers do
    assert all(q.consumer_arguments is None for q in worker_queues(amqp, ["high", "regular", "low"]))
    redis = load(SMSQ_BROKER_URL="redis://127.0.0.1:6379/0")
    assert worker_queues(redis, ["high"])[0].consumer_arguments is None  # BRPOP has no such thing


def test_an_unknown_queue_type_is_refused_by_name(problem: Problem) -> None:
    assert problem(SMSQ_AMQP__QUEUE_TYPE="stream").startswith(
        "invalid settings: SMSQ_AMQP__QUEUE_TYPE: Input should be 'quorum' or 'classic'"
    )


SENTINEL_BROKERS = {"SMSQ_BROKER_URL": "redis://q:6379/0", "SMSQ_RESULT_BACKEND": "redis://q:6379/1"}


def test_a_sentinel_url_names_the_sentinels_the_master_and_the_db(load: Load) -> None:
    settings = load(SMSQ_REDIS_URL="redis+sentinel://s1:26379,s2:26380/mymaster/3", **SENTINEL_BROKERS)
    assert sentinel_target(settings) == ([("s1", 26379), ("s2", 26380)], "mymaster", 3)
    assert sentinel_target(load(SMSQ_REDIS_URL="redis://127.0.0.1:6379/0")) is None


def test_sentinel_settings_name_the_master_and_sentinels(load: Load) -> None:
    settings = load(
        SMSQ_REDIS_URL="redis://ignored:6379/2",
        SMSQ_SENTINEL__MASTER_NAME="store",
        SMSQ_SENTINEL__SENTINELS='["10.0.0.1:26379", "10.0.0.2:26379"]',
        **SENTINEL_BROKERS,
    )
    assert sentinel_target(settings) == ([("10.0.0.1", 26379), ("10.0.0.2", 26379)], "store", 2)


@pytest.mark.parametrize(
    ("variables", "message"),
    [
        (
            {"SMSQ_REDIS_URL": "redis+sentinel://s1:26379/mymaster/0"},
            "invalid settings: with the state store behind Sentinel, set SMSQ_BROKER_URL and "
            "SMSQ_RESULT_BACKEND too",
        ),
        (
            {"SMSQ_SENTINEL__MASTER_NAME": "m", "SMSQ_SENTINEL__SENTINELS": '["s1"]', **SENTINEL_BROKERS},
            "invalid settings: SMSQ_SENTINEL__SENTINELS: each sentinel is host:port (not 's1')",
        ),
    ],
)
def test_bad_sentinel_settings_are_refused_with_one_clear_error(
    problem: Problem, variables: dict[str, str], message: str
) -> None:
    assert problem(**variables) == message


def test_a_sentinel_url_without_a_master_is_refused_when_the_client_is_built(load: Load) -> None:
    settings = load(SMSQ_REDIS_URL="redis+sentinel://s1:26379", **SENTINEL_BROKERS)
    with pytest.raises(SettingsError, match="SMSQ_REDIS_URL: a sentinel URL names the master"):
        sentinel_target(settings)
