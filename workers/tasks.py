"""The one shape of an smsq task: decode the payload with its contract model, dead-letter what does
not decode (with its error, never retried), log, and call a plain function::

    @smsq_task(app, names.SEND_TASK)
    def send(context: WorkerContext, payload: SendPayload) -> None:
        send_message(str(payload.message_id), context.sender)

The model is the task's entry in ``smsq.config.contract.PAYLOADS``, the one its producers publish
with, so the two sides cannot drift apart. A task in ``RESULT_TASKS`` (a caller waits for its
answer) names the answer that caller reads for a payload that does not decode (``invalid``); every
other task ignores results. The pieces (``decode``, ``dead_letter``) are plain functions, usable by
code that meets a bad message before any task runs.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any, Literal, TypeVar, overload

from celery import Celery, Task
from pydantic import ValidationError

from smsq.config.contract import PAYLOADS, RESULT_TASKS, SECRET_FIELDS, Payload
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from smsq.telemetry import tracing
from smsq.workers.context import WorkerContext, context_for

log = logging.getLogger(__name__)

P = TypeVar("P", bound=Payload)
R = TypeVar("R")
Invalid = Callable[[InvalidInput, str], Any]  # (the error, the task id) -> what a waiting caller reads


def decode(model: type[P], args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> P:
    """Validate a task's arguments: keyword arguments only, matching ``model``."""
    if args:
        raise InvalidInput([("args", "positional arguments are not accepted; pass keyword arguments")])
    try:
        return model.model_validate(kwargs)
    except ValidationError as error:
        raise InvalidInput.from_validation_error(error) from None


def dead_letter(
    store: MessageStore, task: str, args: tuple[Any, ...], kwargs: Mapping[str, Any], error: InvalidInput
) -> None:
    """Keep a payload that cannot run, with its error, for ``smsq dead-letters``; secrets left out."""
    safe = {name: value for name, value in kwargs.items() if name not in SECRET_FIELDS}
    store.dead_letter(task, {"args": args, "kwargs": safe}, str(error))
    log.error("dead-lettered a %s task: %s", task, error)


@overload
def smsq_task(
    app: Celery,
    name: str,
    *,
    invalid: Invalid | None = None,
    call_checks_input: bool = False,
    task_id: Literal[False] = False,
) -> Callable[[Callable[[WorkerContext, P], R]], Task]: ...


@overload
def smsq_task(
    app: Celery,
    name: str,
    *,
    invalid: Invalid | None = None,
    call_checks_input: bool = False,
    task_id: Literal[True],
) -> Callable[[Callable[[WorkerContext, P, str], R]], Task]: ...


def smsq_task(
    app: Celery,
    name: str,
    *,
    invalid: Invalid | None = None,
    call_checks_input: bool = False,
    task_id: bool = False,
) -> Callable[[Callable[..., Any]], Task]:
    """Register ``name`` on ``app`` as decode -> call. ``invalid``: the answer for a payload that does
    not decode (required exactly for RESULT_TASKS). ``call_checks_input``: the plain function
    validates part of the payload itself (submit: the omnimessage, through the producer API), and
    its InvalidInput is dead-lettered like a decode error. ``task_id``: the function also gets the
    Celery task id (a blacklist sync records its run under it)."""
    model = PAYLOADS[name]
    answers = name in RESULT_TASKS
    if answers != (invalid is not None):
        raise ValueError(f"{name}: give `invalid` exactly when its caller reads an answer (RESULT_TASKS)")

    def register(function: Callable[..., Any]) -> Task:
        def invoke(context: WorkerContext, payload: Payload, request_id: str) -> Any:
            return function(context, payload, request_id) if task_id else function(context, payload)

        def reject(
            context: WorkerContext, args: tuple[Any, ...], kwargs: Any, error: InvalidInput, request_id: str
        ) -> Any:
            dead_letter(context.store, name, args, kwargs, error)
            return invalid(error, request_id) if invalid is not None else None

        @app.task(name=name, bind=True, ignore_result=not answers, shared=False)
        def run(self: Task, *args: Any, **kwargs: Any) -> Any:
            context = context_for(self.app)
            request_id = str(self.request.id)
            try:
                payload = decode(model, args, kwargs)
            except InvalidInput as error:
                return reject(context, args, kwargs, error, request_id)
            if tracing.installed() is not None:
                tracing.annotate(task_attributes(name, self.request, payload))
            if not call_checks_input:
                return invoke(context, payload, request_id)
            try:
                return invoke(context, payload, request_id)
            except InvalidInput as error:
                return reject(context, args, kwargs, error, request_id)

        return run

    return register


def task_attributes(name: str, request: Any, payload: Payload) -> dict[str, str | int]:
    """What a task's span is told: the task, its lane and, for one message, its id (never more)."""
    lane = (getattr(request, "delivery_info", None) or {}).get("routing_key")
    message_id = getattr(payload, "message_id", None)
    return {
        tracing.TASK: name,
        **({tracing.LANE: str(lane)} if lane else {}),
        **({tracing.MESSAGE_ID: str(message_id)} if message_id else {}),
    }
