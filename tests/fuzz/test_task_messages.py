"""Broker messages: whatever arrives, the poison checks answer without raising, and what they let
through is a message Celery can build a request from (so it reaches smsq's task, which decodes its
payload and dead-letters what is wrong). A real worker is in tests/integration/test_poison_messages.py."""

from __future__ import annotations

import base64
import json
from typing import Any

from celery.worker.request import Request
from hypothesis import given
from hypothesis import strategies as st
from kombu.message import Message

from smsq.config.limits import LimitSettings
from smsq.config.settings import Settings
from smsq.producers.publisher import task_message
from smsq.workers.app import create_app
from smsq.workers.poison.checks import envelope_problem, task_problem
from tests.fuzz.strategies import JSONISH, ODD_TEXT

LIMITS = LimitSettings()
APP = create_app(Settings(_env_file=None))  # type: ignore[call-arg]
TASKS = sorted(name for name in APP.tasks if name.startswith("smsq."))
GOOD = json.loads(task_message("smsq.send", {"message_id": "m"}, "regular", "fuzz"))


@st.composite
def envelope_bytes(draw: st.DrawFn) -> bytes:
    choice = draw(st.integers(0, 3))
    if choice == 0:
        return draw(st.binary(max_size=200))
    if choice == 1:
        return json.dumps(draw(JSONISH)).encode()
    envelope = json.loads(json.dumps(GOOD))
    for _ in range(draw(st.integers(1, 3))):
        places = [envelope, envelope.get("properties"), envelope.get("headers")]
        where = draw(st.sampled_from([place for place in places if isinstance(place, dict)]))
        key = draw(st.sampled_from([*where.keys(), "compression", "x"]))
        where[key] = draw(JSONISH)
    return json.dumps(envelope).encode()


@given(raw=envelope_bytes())
def test_any_envelope_is_accepted_whole_or_refused_with_a_reason(raw: bytes) -> None:
    envelope, problem = envelope_problem(raw, LIMITS)
    assert (envelope is None) != (problem is None)
    if envelope is not None:
        body = envelope.get("body") or ""
        if envelope["properties"].get("body_encoding") == "base64":
            base64.b64decode(body, validate=True)
        Message(body=body, headers=envelope.get("headers"), delivery_info=envelope["properties"]["delivery_info"],
                content_type=envelope.get("content-type"), content_encoding=envelope.get("content-encoding"))  # fmt: skip


@st.composite
def task_messages(draw: st.DrawFn) -> tuple[dict[str, Any], bytes]:
    headers: dict[str, Any] = dict(GOOD["headers"])
    headers["task"] = draw(st.sampled_from(TASKS) | ODD_TEXT)
    for _ in range(draw(st.integers(0, 3))):
        headers[draw(st.sampled_from([*headers.keys(), "compression", "eta"]))] = draw(JSONISH)
    body_kind = draw(st.integers(0, 2))
    if body_kind == 0:
        body = draw(st.binary(max_size=100))
    elif body_kind == 1:
        body = json.dumps(draw(JSONISH)).encode()
    else:
        body = json.dumps([draw(JSONISH), draw(st.dictionaries(ODD_TEXT, JSONISH, max_size=3)),
                           draw(st.none() | st.just({}) | JSONISH)]).encode()  # fmt: skip
    return headers, body


@given(message=task_messages())
def test_any_task_message_is_refused_or_becomes_a_celery_request(
    message: tuple[dict[str, Any], bytes],
) -> None:
    headers, body = message
    problem = task_problem(headers, "application/json", "utf-8", body, APP.tasks, LIMITS)
    if problem is not None:
        assert problem and "\n" not in problem
        return
    kombu_message = Message(body=body, headers=headers, content_type="application/json", content_encoding="utf-8",
                            delivery_info={"exchange": "", "routing_key": "regular"})  # fmt: skip
    request = Request(kombu_message, app=APP, task=APP.tasks[headers["task"]])
    assert isinstance(request.args, list) and isinstance(request.kwargs, dict)
    request.time_limits  # noqa: B018  (Celery reads these when it runs the task)
