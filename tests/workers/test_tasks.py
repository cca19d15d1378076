"""The task helper: decode with the contract's model, dead-letter what does not decode, call the plain
function. Run as Celery runs a task (``apply``, in-process) on the real worker app."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import redis
from celery import Celery

from smsq.cli.redis_server import RedisServer
from smsq.config import contract as names
from smsq.config.contract import SendPayload, SubmitPayload
from smsq.config.settings import Settings
from smsq.producers.errors import InvalidInput
from smsq.workers.app import create_app
from smsq.workers.context import WorkerContext, reset_contexts
from smsq.workers.tasks import decode, smsq_task

GOOD_ID = "00000000-0000-4000-8000-000000000001"


def test_a_good_payload_decodes() -> None:
    assert str(decode(SendPayload, (), {"message_id": GOOD_ID}).message_id) == GOOD_ID
    submit = decode(SubmitPayload, (), {"message": {"to": "x"}, "idempotency_key": "k"})
    assert submit.idempotency_key == "k"


@pytest.mark.parametrize(
    ("model", "args", "kwargs", "field"),
    [
        (SendPayload, (), {}, "message_id"),
        (SendPayload, (), {"message_id": "nope"}, "message_id"),
        (SendPayload, (), {"message_id": GOOD_ID, "extra": 1}, "extra"),
        (SendPayload, (GOOD_ID,), {}, "args"),
        (SubmitPayload, (), {"message": "text"}, "message"),
        (SubmitPayload, (), {}, "message"),
    ],
)
def test_a_bad_payload_names_what_is_wrong(
    model: Any, args: tuple[Any, ...], kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(InvalidInput) as caught:
        decode(model, args, kwargs)
    assert caught.value.problems[0][0] == field


@pytest.fixture(scope="module")
def app(redis_server: RedisServer) -> Iterator[Celery]:
    yield create_app(Settings(redis_url=redis_server.url, _env_file=None))  # type: ignore[call-arg]
    reset_contexts(close=True)


def dead_letters(redis_client: redis.Redis) -> list[dict[str, Any]]:
    return [json.loads(entry) for entry in redis_client.lrange("smsq:dead", 0, -1)]  # type: ignore[union-attr]


def test_every_contract_task_is_registered_and_keeps_a_result_only_when_its_caller_waits(app: Celery) -> None:
    ours = {name for name in app.tasks if name.startswith("smsq.")}
    assert ours == set(names.PAYLOADS)
    assert {name for name in ours if not app.tasks[name].ignore_result} == names.RESULT_TASKS


# What a caller waiting on each result task reads for a payload that does not decode.
INVALID_ANSWERS = {
    names.CANCEL_AT_PROVIDER_TASK: lambda answer: (
        answer["cancelled"] is False and answer["status"] == "invalid"
    ),
    names.BLACKLIST_SYNC_TASK: lambda answer: answer["status"] == "invalid",
    names.TWO_FACTOR_SEND_TASK: lambda answer: answer["error"] == "invalid",
    names.TWO_FACTOR_VERIFY_TASK: lambda answer: answer["error"] == "invalid",
}


@pytest.mark.parametrize("task", sorted(names.PAYLOADS))
def test_every_task_dead_letters_a_payload_that_does_not_decode(
    app: Celery, redis_client: redis.Redis, task: str
) -> None:
    answer = app.tasks[task].apply(args=("positional",), kwargs={"pin": "123456", "stray": 1}).get()
    (letter,) = dead_letters(redis_client)
    assert letter["task"] == task and letter["error"].startswith("args: positional arguments")
    assert json.loads(letter["payload"])["kwargs"] == {"stray": 1}  # a PIN is never written down
    if task in names.RESULT_TASKS:
        assert INVALID_ANSWERS[task](answer), answer
        assert str(letter["error"]) in json.dumps(answer)
    else:
        assert answer is None


def test_the_plain_function_gets_the_decoded_model_and_the_task_id(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    app = Celery("helper-test", set_as_current=False)
    app.smsq_settings = Settings(redis_url=redis_server.url, _env_file=None)  # type: ignore[attr-defined, call-arg]
    calls: list[tuple[Any, ...]] = []

    @smsq_task(app, names.SEND_TASK)
    def send(context: WorkerContext, payload: SendPayload) -> None:
        calls.append((context.settings.key_prefix, payload))

    def invalid(error: InvalidInput, task_id: str) -> dict[str, str]:
        return {"invalid": task_id}

    @smsq_task(app, names.BLACKLIST_SYNC_TASK, invalid=invalid, task_id=True)
    def sync(context: WorkerContext, payload: Any, task_id: str) -> str:
        calls.append((payload.trigger, task_id))
        return task_id

    try:
        send.apply(kwargs={"message_id": GOOD_ID})
        result = sync.apply(kwargs={"trigger": "beat"}, task_id="t-1")
        bad = sync.apply(kwargs={"trigger": "whim"}, task_id="t-2")
    finally:
        reset_contexts(close=True)
    assert calls == [("smsq", SendPayload(message_id=uuid.UUID(GOOD_ID))), ("beat", "t-1")]
    assert result.get() == "t-1" and bad.get() == {"invalid": "t-2"}
    assert [letter["error"].split(":")[0] for letter in dead_letters(redis_client)] == ["trigger"]


def test_input_the_plain_function_refuses_is_dead_lettered_only_where_the_task_says_so(
    redis_server: RedisServer, redis_client: redis.Redis
) -> None:
    app = Celery("helper-test", set_as_current=False)
    app.smsq_settings = Settings(redis_url=redis_server.url, _env_file=None)  # type: ignore[attr-defined, call-arg]

    def refuse(context: WorkerContext, payload: Any) -> None:
        raise InvalidInput([("message.to", "not a number")])

    checked = smsq_task(app, names.SUBMIT_TASK, call_checks_input=True)(refuse)
    unchecked = smsq_task(app, names.SEND_TASK)(refuse)
    try:
        assert checked.apply(kwargs={"message": {}}).get() is None
        with pytest.raises(InvalidInput):  # a bug or a provider's refusal: not the payload's fault
            unchecked.apply(kwargs={"message_id": GOOD_ID}).get()
    finally:
        reset_contexts(close=True)
    assert [(letter["task"], letter["error"]) for letter in dead_letters(redis_client)] == [
        (names.SUBMIT_TASK, "message.to: not a number")
    ]


def test_a_task_whose_caller_waits_must_say_what_an_invalid_payload_answers() -> None:
    app = Celery("helper-test", set_as_current=False)
    with pytest.raises(ValueError, match=r"smsq\.cancel_at_provider"):
        smsq_task(app, names.CANCEL_AT_PROVIDER_TASK)
    with pytest.raises(ValueError, match=r"smsq\.send:"):
        smsq_task(app, names.SEND_TASK, invalid=lambda error, task_id: None)
