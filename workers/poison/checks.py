"""What a message must look like before Celery is given it. Pure functions: each returns None for a
message smsq can hand on, or one readable reason for one it must dead-letter.

Two depths, because a broker message can be wrong at either:

- the envelope kombu's Redis transport stores (``envelope_problem``): JSON with ``properties``
  (delivery tag, delivery info), a ``body`` string in its ``body_encoding``, ``headers``. Raw bytes
  pushed onto a lane fail here, before kombu would build a message from them;
- the Celery task message inside it (``task_problem``): protocol 2 only (the task name and id in the
  headers, the body ``[args, kwargs, embed]``), JSON content, no compression, no ETA, a body within
  SMSQ_LIMITS__TASK_BODY_BYTES and nested no deeper than SMSQ_LIMITS__JSON_DEPTH, and header values
  of the types Celery reads them as (a ``timelimit`` of ``"x"`` would stop the consumer).
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Container, Mapping
from typing import Any, Final

from smsq.config.limits import LimitSettings

JSON_TYPES: Final = frozenset({"application/json"})
ENCODINGS: Final = frozenset({"utf-8", "utf8"})
_OPTIONAL_TEXT_HEADERS: Final = ("root_id", "parent_id", "group", "shadow", "argsrepr", "kwargsrepr",
                                 "origin", "lang", "replaced_task_nesting_id")  # fmt: skip


def depth_over(value: object, most: int) -> bool:
    """True when ``value`` nests lists and objects deeper than ``most`` (iterative: no recursion)."""
    stack: list[tuple[object, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list | tuple):
            children = item
        else:
            continue
        if depth > most:
            return True
        stack.extend((child, depth + 1) for child in children)
    return False


def envelope_problem(
    raw: bytes | str, limits: LimitSettings, loads: Callable[[str], Any] = json.loads
) -> tuple[dict[str, Any] | None, str | None]:
    """(the envelope, None) when kombu can build a message from ``raw``; else (None, the reason)."""
    # The body is base64 inside the envelope: a third bigger, plus the headers and properties.
    most = limits.task_body_bytes * 4 // 3 + 64 * 1024
    if len(raw) > most:
        return None, f"the broker message is {len(raw)} bytes; at most {most} (SMSQ_LIMITS__TASK_BODY_BYTES)"
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        envelope = loads(text)
    except UnicodeDecodeError:
        return None, "the broker message is not UTF-8 text: not a kombu message"
    except (ValueError, TypeError):
        return None, "the broker message is not JSON: not a kombu message"
    except RecursionError:
        return None, "the broker message is JSON nested too deeply"
    if not isinstance(envelope, dict):
        return None, f"the broker message is JSON {type(envelope).__name__}, not a kombu message (an object)"
    properties = envelope.get("properties")
    if not isinstance(properties, dict):
        return None, "the broker message has no properties object: not a kombu message"
    if not isinstance(properties.get("delivery_tag"), str):
        return None, "the broker message has no delivery_tag"
    info = properties.get("delivery_info")
    if not isinstance(info, dict) or not all(
        isinstance(info.get(k), str | None) for k in ("exchange", "routing_key")
    ):
        return None, "the broker message has no delivery_info object"
    headers = envelope.get("headers")
    if headers is not None and not isinstance(headers, dict):
        return None, "the broker message's headers are not an object"
    if isinstance(headers, dict) and headers.get("compression") is not None:
        # kombu would decompress it while building the message, before any check: a small message
        # could expand to gigabytes. smsq never compresses.
        return None, "compressed bodies are not accepted"
    for name in ("content-type", "content-encoding"):
        if envelope.get(name) is not None and not isinstance(envelope.get(name), str):
            return None, f"the broker message's {name} is not a string"
    body = envelope.get("body")
    if body is not None and not isinstance(body, str):
        return None, "the broker message's body is not a string"
    encoding = properties.get("body_encoding")
    if encoding not in (None, "base64"):
        return None, f"body_encoding {str(encoding)[:40]!r} is not accepted (base64 only)"
    if encoding == "base64" and body:
        try:
            base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            return None, "the broker message's body is not valid base64"
    return envelope, None


def task_problem(
    headers: object,
    content_type: object,
    content_encoding: object,
    body: object,
    known_tasks: Container[str],
    limits: LimitSettings,
) -> str | None:
    """None when Celery can take this task message and hand it to smsq's task; else the reason."""
    if not isinstance(headers, Mapping) or not headers:
        return "no headers: not a Celery task message (protocol 2 carries the task name and id in them)"
    task = headers.get("task")
    if task is None:
        return "no task header: not a Celery protocol 2 task message (protocol 1 is not accepted)"
    if not isinstance(task, str):
        return f"the task header is {type(task).__name__}, not a task name"
    if task not in known_tasks:
        return f"unknown task {task[:100]!r}"
    problem = _header_problem(headers)
    if problem is not None:
        return problem
    if content_type not in JSON_TYPES:
        return f"content type {str(content_type)[:60]!r} is not accepted: smsq reads application/json only"
    if content_encoding not in ENCODINGS:
        return f"content encoding {str(content_encoding)[:40]!r} is not accepted: utf-8 only"
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    if not isinstance(raw, bytes | bytearray | memoryview):
        return "the message has no body"
    if len(raw) > limits.task_body_bytes:
        return (
            f"the body is {len(raw)} bytes; at most {limits.task_body_bytes} (SMSQ_LIMITS__TASK_BODY_BYTES)"
        )
    try:
        decoded = json.loads(bytes(raw).decode("utf-8"))
    except UnicodeDecodeError:
        return "the body is not UTF-8 text"
    except ValueError as error:
        return f"the body is not JSON ({str(error)[:80]})"
    except RecursionError:
        return "the body is JSON nested too deeply"
    if depth_over(decoded, limits.json_depth):
        return f"the body is JSON nested deeper than {limits.json_depth} (SMSQ_LIMITS__JSON_DEPTH)"
    return _shape_problem(decoded)


def _header_problem(headers: Mapping[str, Any]) -> str | None:
    if not isinstance(headers.get("id"), str) or not headers["id"]:
        return "the id header is missing or not a string"
    if headers.get("compression") is not None:
        return "compressed bodies are not accepted"
    if headers.get("eta") is not None or headers.get("countdown") is not None:
        # A message with an ETA is held in the worker's memory until then (kombu#337); smsq never
        # sends one: its schedule is time_to_send.
        return "an eta/countdown is not accepted: schedule with the message's time_to_send"
    expires = headers.get("expires")
    if expires is not None and (isinstance(expires, bool) or not isinstance(expires, str | int | float)):
        return "the expires header is not a time"
    retries = headers.get("retries")
    if retries is not None and (isinstance(retries, bool) or not isinstance(retries, int) or retries < 0):
        return "the retries header is not a count"
    limit = headers.get("timelimit")
    if limit is not None and not (
        isinstance(limit, list | tuple)
        and len(limit) == 2
        and all(
            v is None or (isinstance(v, int | float) and not isinstance(v, bool) and v > 0) for v in limit
        )
    ):
        return "the timelimit header is not [hard, soft] seconds"
    for name in _OPTIONAL_TEXT_HEADERS:
        if headers.get(name) is not None and not isinstance(headers[name], str):
            return f"the {name} header is not a string"
    if headers.get("ignore_result") is not None and not isinstance(headers["ignore_result"], bool):
        return "the ignore_result header is not a boolean"
    return None


def _seconds_or_none(value: object) -> bool:
    return value is None or (isinstance(value, int | float) and not isinstance(value, bool) and value > 0)


def _shape_problem(decoded: object) -> str | None:
    if isinstance(decoded, dict):
        return "the body is a protocol 1 task (an object): smsq accepts protocol 2, [args, kwargs, embed]"
    if not isinstance(decoded, list) or len(decoded) != 3:
        what = f"a list of {len(decoded)}" if isinstance(decoded, list) else f"JSON {type(decoded).__name__}"
        return f"the body is {what}, not [args, kwargs, embed]"
    args, kwargs, embed = decoded
    if not isinstance(args, list):
        return "the task's args are not a list"
    if not isinstance(kwargs, dict):
        return "the task's kwargs are not a mapping"
    if embed is not None and not isinstance(embed, dict):
        return "the task's embed (callbacks, chain) is not an object"
    if isinstance(embed, dict):
        for name in ("callbacks", "errbacks", "chain"):
            if embed.get(name) is not None and not isinstance(embed[name], list):
                return f"the task's {name} is not a list"
        if embed.get("chord") is not None and not isinstance(embed["chord"], dict):
            return "the task's chord is not an object"
    return None


def shown_body(body: object, most: int) -> tuple[str, int]:
    """A refused body as text for its dead letter (cut to ``most`` characters), and its size in bytes."""
    if isinstance(body, bytes | bytearray | memoryview):
        raw = bytes(body)
        text = raw[: most * 4].decode("utf-8", "backslashreplace")
        size = len(raw)
    else:
        text = body if isinstance(body, str) else repr(body)
        size = len(text.encode("utf-8", "surrogatepass"))
    return (text[:most] + ("..." if len(text) > most else "")), size
