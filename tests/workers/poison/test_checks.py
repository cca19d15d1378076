"""The rules a broker message must pass before kombu or Celery is given it (smsq.workers.poison.checks).
A real worker takes every kind of poison in tests/integration/test_poison_messages.py."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest

from smsq.config.limits import LimitSettings
from smsq.producers.publisher import task_message
from smsq.workers.poison.checks import depth_over, envelope_problem, shown_body, task_problem

LIMITS = LimitSettings()
KNOWN = {"smsq.send", "smsq.submit"}


def good_envelope() -> dict[str, Any]:
    return json.loads(task_message("smsq.send", {"message_id": "m"}, "regular", "test"))


def problem_of(body: bytes, **headers: Any) -> str | None:
    envelope = good_envelope()
    envelope["headers"].update(headers)
    return task_problem(envelope["headers"], "application/json", "utf-8", body, KNOWN, LIMITS)


def test_what_the_publisher_writes_passes_both_checks() -> None:
    raw = task_message("smsq.send", {"message_id": "m"}, "regular", "test")
    envelope, problem = envelope_problem(raw.encode(), LIMITS)
    assert problem is None and envelope is not None
    body = base64.b64decode(envelope["body"])
    assert task_problem(envelope["headers"], envelope["content-type"], "utf-8", body, KNOWN, LIMITS) is None


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"\x00\xffgarbage", "not UTF-8"),
        (b"{not json", "not JSON"),
        (b"42", "JSON int"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (json.dumps({"body": ""}).encode(), "no properties"),
        (json.dumps({"properties": {"delivery_tag": 1}}).encode(), "delivery_tag"),
        (json.dumps({"properties": {"delivery_tag": "t"}}).encode(), "delivery_info"),
        (
            json.dumps(
                {"properties": {"delivery_tag": "t", "delivery_info": {}, "body_encoding": "rot13"}}
            ).encode(),
            "body_encoding",
        ),
        (
            json.dumps(
                {
                    "body": "!!!",
                    "properties": {"delivery_tag": "t", "delivery_info": {}, "body_encoding": "base64"},
                }
            ).encode(),
            "base64",
        ),
        (
            json.dumps({"headers": [], "properties": {"delivery_tag": "t", "delivery_info": {}}}).encode(),
            "headers",
        ),
        (
            json.dumps(
                {"headers": {"compression": "zlib"}, "properties": {"delivery_tag": "t", "delivery_info": {}}}
            ).encode(),
            "compressed",
        ),
        (b"x" * 2_000_000, "bytes; at most"),
    ],
)
def test_a_bad_envelope_is_refused_with_its_reason(raw: bytes, reason: str) -> None:
    envelope, problem = envelope_problem(raw, LIMITS)
    assert envelope is None and problem is not None and reason in problem


@pytest.mark.parametrize(
    ("body", "headers", "reason"),
    [
        (b"42", {}, "JSON int, not [args, kwargs, embed]"),
        (b"{not json", {}, "not JSON"),
        (b'[[], {"x": "\xff"}, {}]', {}, "not UTF-8"),
        (b"[" * 10_000 + b"]" * 10_000, {}, "nested"),
        (b"[" * 40 + b"]" * 40, {}, "deeper than 32"),
        (b"[[], [1, 2], {}]", {}, "kwargs are not a mapping"),
        (b"[{}, {}, {}]", {}, "args are not a list"),
        (b"[[], {}, 5]", {}, "embed"),
        (b'[[], {}, {"callbacks": 5}]', {}, "callbacks"),
        (b"[[], {}]", {}, "a list of 2"),
        (b'{"task": "smsq.send", "args": [], "kwargs": {}}', {}, "protocol 1"),
        (b'[[], {"x": "' + b"a" * 300_000 + b'"}, {}]', {}, "bytes; at most"),
        (b"[[], {}, {}]", {"task": "smsq.nonexistent"}, "unknown task 'smsq.nonexistent'"),
        (b"[[], {}, {}]", {"task": 5}, "not a task name"),
        (b"[[], {}, {}]", {"task": None}, "no task header"),
        (b"[[], {}, {}]", {"id": None}, "id header"),
        (b"[[], {}, {}]", {"timelimit": "x"}, "timelimit"),
        (b"[[], {}, {}]", {"timelimit": [1, 2, 3]}, "timelimit"),
        (b"[[], {}, {}]", {"retries": "many"}, "retries"),
        (b"[[], {}, {}]", {"eta": "2999-01-01T00:00:00+00:00"}, "eta"),
        (b"[[], {}, {}]", {"expires": [1]}, "expires"),
        (b"[[], {}, {}]", {"argsrepr": 5}, "argsrepr"),
        (b"[[], {}, {}]", {"compression": "zlib"}, "compressed"),
    ],
)
def test_a_bad_task_message_is_refused_with_its_reason(
    body: bytes, headers: dict[str, Any], reason: str
) -> None:
    problem = problem_of(body, **headers)
    assert problem is not None and reason in problem


def test_no_headers_content_type_and_encoding_are_named() -> None:
    body = b"[[], {}, {}]"
    assert "no headers" in str(task_problem(None, "application/json", "utf-8", body, KNOWN, LIMITS))
    assert "no headers" in str(task_problem({}, "application/json", "utf-8", body, KNOWN, LIMITS))
    headers = good_envelope()["headers"]
    pickle = task_problem(headers, "application/x-python-serialize", "binary", body, KNOWN, LIMITS)
    assert pickle is not None and "content type 'application/x-python-serialize'" in pickle
    assert "content encoding" in str(
        task_problem(headers, "application/json", "latin-1", body, KNOWN, LIMITS)
    )


def test_depth_counts_lists_and_objects() -> None:
    assert not depth_over([[{"a": [1]}]], 4)
    assert depth_over([[{"a": [[1]]}]], 4)
    assert not depth_over(42, 1)


def test_a_shown_body_is_cut_and_keeps_undecodable_bytes_readable() -> None:
    text, size = shown_body(b"\xff" + b"a" * 5000, 100)
    assert text.startswith("\\xff") and text.endswith("...") and len(text) == 103 and size == 5001
    assert shown_body("short", 100) == ("short", 5)


def test_a_refused_two_factor_body_keeps_its_pin_out_of_the_dead_letter(redis_client: Any) -> None:
    from smsq.workers.poison.letters import DeadLetters

    letters = DeadLetters("unused", "t:dead", LIMITS)
    letters._client = redis_client
    letters.write("smsq.two_factor_verify", b'[[], {"session_id": "s", "pin": "482913"}, 5]', "embed")
    (entry,) = [json.loads(raw) for raw in redis_client.lrange("t:dead", 0, -1)]
    assert "482913" not in entry["payload"] and '"pin": "***"' in entry["payload"]
