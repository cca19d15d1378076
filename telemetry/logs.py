"""Structured logs (structlog over the standard library): ``SMSQ_LOG__FORMAT=json`` writes one JSON
object per line, ``console`` readable key=value lines. smsq's own ``logging`` calls, Celery's lines
and structlog events all go through the same root handler, so every line has the same shape.

Fields: ``event``, ``level``, ``logger``, ``timestamp`` (UTC ISO-8601), and whatever the task
being run bound (``bind_task``: ``task``, ``task_id``, ``lane``, ``message_id``, ``campaign_id``)
or the send bound (``bind``: ``provider``, ``attempt``).

What never reaches a line: a phone number (a ``+`` and 7-15 digits, single spaces or dashes
between them allowed, and a bare run of 10-15 digits, keep only their last three digits:
``+372*****567``; the whole line is masked after rendering, so exception text and provider details
are covered too), and the value of any field whose name says secret (``pin``, ``password``,
``token``, ``secret``, ``authorization``, ``signature``, ``api_key``). A bare 13-digit millisecond
timestamp in a message's text is masked too: better a number too many than a phone number.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from typing import Any, TextIO

import structlog
from structlog.typing import EventDict, Processor, WrappedLogger

from smsq.config.telemetry_settings import LogSettings

# A plus and 7-15 digits, single spaces or dashes allowed between them (how people write numbers).
_PHONE_PLUS = re.compile(r"(?<![\w*])\+(?:\d[ -]?){6,14}\d(?![\w*])")
# A bare run of 10-15 digits: the providers' own form of a number (no plus).
_PHONE_BARE = re.compile(r"(?<![\w*+-])(\d{7,12})(\d{3})(?![\w-])")
_DIGIT = re.compile(r"\d")
SECRET_NAMES = re.compile(r"pin|password|passwd|token|secret|authorization|signature|api_key", re.I)
REDACTED = "***"
# Fields a task binds from its payload (bounded, known names; nothing else of a payload is logged).
TASK_FIELDS = ("message_id", "campaign_id")


def mask_phones(text: str) -> str:
    """Every phone-number-looking digit run, with only its last three digits kept."""
    text = _PHONE_PLUS.sub(_keep_last_three, text)
    return _PHONE_BARE.sub(lambda m: "*" * len(m.group(1)) + m.group(2), text)


def _keep_last_three(match: re.Match[str]) -> str:
    number = match.group(0)
    cut = [m.start() for m in _DIGIT.finditer(number)][-3]
    return _DIGIT.sub("*", number[:cut]) + number[cut:]


def redact_secrets(_: WrappedLogger, __: str, event: EventDict) -> EventDict:
    for name in list(event):
        if name != "event" and SECRET_NAMES.search(name):
            event[name] = REDACTED
    return event


class Masked:
    """A renderer whose output has every phone number masked: applied to the finished line, so no
    field, nested value or traceback escapes it."""

    def __init__(self, renderer: Processor) -> None:
        self.renderer = renderer

    def __call__(self, logger: WrappedLogger, name: str, event: EventDict) -> str:
        rendered = self.renderer(logger, name, event)
        return mask_phones(rendered if isinstance(rendered, str) else str(rendered))


def _shared() -> list[Processor]:
    return [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        redact_secrets,
    ]


def formatter(settings: LogSettings) -> logging.Formatter:
    renderer: Processor
    if settings.format == "json":
        renderer = structlog.processors.JSONRenderer()
        final: list[Processor] = [structlog.processors.format_exc_info]
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=False)
        final = []
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_shared(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *final,
            Masked(renderer),
        ],
    )


def configure_logging(settings: LogSettings, stream: TextIO | None = None) -> logging.Handler:
    """One handler on the root logger, in the format the settings name; returns it."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(settings.level)
    # Python warnings (Celery's SecurityWarning when run as root) become log lines too.
    logging.captureWarnings(True)
    structlog.configure(
        processors=[*_shared(), structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )
    return handler


def bind(**fields: Any) -> None:
    """Add fields to every line logged from here on in this task (or thread)."""
    structlog.contextvars.bind_contextvars(**fields)


def bind_task(task: str, task_id: str, lane: str | None, kwargs: Mapping[str, Any] | None) -> None:
    """What a task's lines carry: its name, id, lane, and the message or campaign it is about."""
    structlog.contextvars.clear_contextvars()
    fields: MutableMapping[str, Any] = {"task": task, "task_id": task_id}
    if lane:
        fields["lane"] = lane
    for name in TASK_FIELDS:
        value = (kwargs or {}).get(name)
        if isinstance(value, str):
            fields[name] = value[:64]
    structlog.contextvars.bind_contextvars(**fields)


def unbind_task() -> None:
    structlog.contextvars.clear_contextvars()
