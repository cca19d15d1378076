"""Structured logs: one JSON object per line with the task's fields; phone numbers masked, secrets
and PINs never written; the standard library's lines (smsq's and Celery's) in the same format."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from smsq.config.telemetry_settings import LogSettings
from smsq.telemetry.logs import bind, bind_task, configure_logging, mask_phones, unbind_task

NUMBER = "+37251234567"


@pytest.fixture
def stream() -> Iterator[io.StringIO]:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    buffer = io.StringIO()
    yield buffer
    unbind_task()
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])
    logging.captureWarnings(False)
    structlog.reset_defaults()


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]  # each line is one object


def test_json_lines_carry_the_tasks_fields(stream: io.StringIO) -> None:
    configure_logging(LogSettings(format="json"), stream)
    bind_task("smsq.send", "task-1", "high", {"message_id": "m-1", "campaign_id": "c-1", "to": NUMBER})
    bind(provider="messente", attempt=2)
    logging.getLogger("smsq.workers.sending.single").info("message %s: attempt %d failed", "m-1", 2)
    logging.getLogger("celery.app.trace").info("Task smsq.send[task-1] succeeded in 0.01s: None")
    structlog.get_logger("smsq.x").warning("circuit opened", circuit="messente")
    first, celery, event = lines(stream)
    for line in (first, celery, event):
        assert {"message_id": "m-1", "campaign_id": "c-1", "lane": "high", "task": "smsq.send",
                "task_id": "task-1", "provider": "messente", "attempt": 2}.items() <= line.items()  # fmt: skip
        assert {"event", "level", "logger", "timestamp"} <= line.keys()
    assert first["event"] == "message m-1: attempt 2 failed" and first["level"] == "info"
    assert celery["logger"] == "celery.app.trace"
    assert event["circuit"] == "messente" and event["level"] == "warning"
    assert "to" not in first  # nothing else of a payload is bound


def test_no_full_phone_number_reaches_a_line(stream: io.StringIO) -> None:
    configure_logging(LogSettings(format="json"), stream)
    log = logging.getLogger("smsq.t")
    log.info("sent to %s", NUMBER)
    log.info("provider said: receiver 37251234567 is invalid")  # the providers' own form, no plus
    structlog.get_logger().info("event", to=NUMBER, nested={"numbers": [NUMBER, "+1 415 555 0100"]})
    try:
        raise ValueError(f"bad number {NUMBER}")
    except ValueError:
        log.exception("failed")
    text = stream.getvalue()
    assert "37251234567" not in text and "2512345" not in text and "415 555" not in text
    assert "+********567" in text and "********567" in text
    assert len(lines(stream)) == 4


@pytest.mark.parametrize("fmt", ["json", "console"])
def test_secrets_and_pins_are_never_written(stream: io.StringIO, fmt: str) -> None:
    configure_logging(LogSettings(format=fmt), stream)  # type: ignore[arg-type]
    structlog.get_logger().info("2fa", pin="48213377", password="hunter2-pw", api_token="tok-123456",
                                webhook_secret="s3cr3t-value", authorization="Bearer abc.def")  # fmt: skip
    text = stream.getvalue()
    for secret in ("48213377", "hunter2-pw", "tok-123456", "s3cr3t-value", "abc.def"):
        assert secret not in text
    assert "***" in text


def test_console_format_is_readable_and_masked(stream: io.StringIO) -> None:
    configure_logging(LogSettings(format="console"), stream)
    bind_task("smsq.send", "task-1", "regular", {"message_id": "m-1"})
    logging.getLogger("smsq.t").info("sent to %s", NUMBER)
    (line,) = stream.getvalue().splitlines()
    assert "sent to +********567" in line and "message_id=m-1" in line and "lane=regular" in line


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("+37251234567", "+********567"),
        ("call +14155550100 now", "call +********100 now"),
        ("to: '+372 5123 4567' is not valid", "to: '+*** **** *567' is not valid"),
        ("+372-5123-4567", "+***-****-*567"),
        ("at 10:00+02:00 in 2026-12-03", "at 10:00+02:00 in 2026-12-03"),
        ("4915112345678", "**********678"),
        ("id 3f2a1b4c-1234-5678-9abc-def012345678 stays", "id 3f2a1b4c-1234-5678-9abc-def012345678 stays"),
        ("2026-12-03T10:00:00.123456Z", "2026-12-03T10:00:00.123456Z"),
        ("attempt 3 of 5, 429 after 1.5 s", "attempt 3 of 5, 429 after 1.5 s"),
    ],
)
def test_what_the_masking_keeps(text: str, masked: str) -> None:
    assert mask_phones(text) == masked
