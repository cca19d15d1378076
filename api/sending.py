"""POST /v1/messages (one) and /v1/messages/batch (up to ``SMSQ_API__BATCH_MAX``): the key's own rate
limit first (429, nothing accepted), then the producer API's validation and send, once per
Idempotency-Key."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import Response

from smsq.api.auth import Credentials, authorized, scoped
from smsq.api.bodies import json_body, json_request, parsed_json
from smsq.api.idempotency import HEADER, Answer, answer_response, answered_once
from smsq.api.models import Accepted, BatchAnswer
from smsq.api.problems import problems
from smsq.api.services import Services, services
from smsq.producers.client import Receipt
from smsq.producers.core.results import SmsCost
from smsq.producers.errors import ApiRefused, InvalidInput, PolicyRefused
from smsq.producers.keys.store import SEND, ApiKey

router = APIRouter(prefix="/v1/messages", tags=["messages"])
REFUSALS = problems(401, 403, 409, 413, 422, 429, 503)


def limited(found: Services, key: ApiKey, cost: int) -> None:
    wait = found.limiter.acquire(key, cost)
    if wait > 0:
        raise ApiRefused(
            429, "Too many requests", f"over the key's rate of {key.rate}; nothing was accepted",
            retry_after=wait,
        )  # fmt: skip


@router.post(
    "",
    status_code=202,
    response_model=Accepted,
    responses=REFUSALS,
    openapi_extra=json_request("MessageRequest", "one omnimessage, as the Python producer API takes it"),
)
async def send_message(
    request: Request,
    credentials: Credentials,
    found: Annotated[Services, Depends(services)],
) -> Response:
    """Accept one message: 202 with its id and status (queued, or scheduled for its time_to_send)."""
    raw = await request.body()

    def send(key: ApiKey, payload: Any, idempotency_key: str | None) -> Answer:
        limited(found, key, 1)
        message, message_class = with_class(payload)
        receipt = found.smsq.send(
            message, idempotency_key=idempotency_key, key_id=key.key_id, test=key.test,
            message_class=message_class,
        )  # fmt: skip
        sms = SmsCost(**receipt.sms.as_dict()) if receipt.sms else None
        accepted = Accepted(
            id=receipt.message_id, status=receipt.status, duplicate=receipt.duplicate, sms=sms,
            deferred_to=receipt.deferred_to,
        )  # fmt: skip
        return 202, accepted.model_dump(mode="json"), f"/v1/messages/{receipt.message_id}"

    def checked() -> tuple[ApiKey, Any]:
        # The key before the body, as a dependency would: 401/403 before any 422.
        return authorized(request, credentials, SEND), parsed_json(raw)

    if HEADER not in request.headers:
        # The common case in one threadpool hop (key, body, limit, send), not two: under load each hop
        # was a sixth of a send's CPU (README, "The framework is not where...").
        def whole() -> Answer:
            key, payload = checked()
            return send(key, payload, None)

        return answer_response(await run_in_threadpool(whole))
    key, payload = await run_in_threadpool(checked)

    async def handle(idempotency_key: str | None) -> Answer:
        return await run_in_threadpool(send, key, payload, idempotency_key)

    return await answered_once(request, found.idempotency, found.settings.limits, key, payload, handle)


@router.post(
    "/batch",
    status_code=202,
    response_model=BatchAnswer,
    responses=REFUSALS,
    openapi_extra=json_request("BatchRequest", "up to SMSQ_API__BATCH_MAX omnimessages"),
)
async def send_batch(
    request: Request,
    key: Annotated[ApiKey, Depends(scoped(SEND))],
    found: Annotated[Services, Depends(services)],
) -> Response:
    """Accept up to 1,000 messages, one result per item: accepted ones are accepted even if others are
    refused (202); when none is accepted the answer is a 422 listing each item's problems."""
    payload = await json_body(request)
    messages = _batch_messages(payload, found.settings.api.batch_max)

    def send(idempotency_key: str | None) -> Answer:
        limited(found, key, len(messages))
        keys = None if idempotency_key is None else [f"{idempotency_key}.{i}" for i in range(len(messages))]
        bodies, classes = zip(*(with_class(message) for message in messages), strict=True)
        answers = found.smsq.send_many(
            bodies, idempotency_keys=keys, key_id=key.key_id, test=key.test, message_classes=classes
        )
        results = [_item(index, answer) for index, answer in enumerate(answers)]
        refused = sum(item["errors"] is not None for item in results)
        policy = [answer for answer in answers if isinstance(answer, PolicyRefused)]
        if refused == len(results) and len(policy) == len(results):
            raise policy[0]  # every one over a cap or the pumping guard: 429 (403) as for one message
        if refused == len(results):
            raise InvalidInput(
                [(f"messages.{i}.{field}", message) for i, answer in enumerate(answers)
                 if isinstance(answer, InvalidInput) for field, message in answer.problems]
            )  # fmt: skip
        return 202, {"accepted": len(results) - refused, "refused": refused, "results": results}, ""

    async def handle(idempotency_key: str | None) -> Answer:
        return await run_in_threadpool(send, idempotency_key)

    return await answered_once(request, found.idempotency, found.settings.limits, key, payload, handle)


def with_class(payload: Any) -> tuple[Any, Any]:
    """The omnimessage without its ``message_class``, and the class (None: not given): the
    producer API checks both."""
    if not isinstance(payload, dict) or "message_class" not in payload:
        return payload, None
    message = dict(payload)
    return message, message.pop("message_class")


def _batch_messages(payload: Any, most: int) -> list[Any]:
    if not isinstance(payload, dict) or set(payload) != {"messages"}:
        raise InvalidInput([("(body)", 'must be an object with one field, "messages": a list of messages')])
    messages = payload["messages"]
    if not isinstance(messages, list) or not 1 <= len(messages) <= most:
        count = len(messages) if isinstance(messages, list) else "not a list"
        raise InvalidInput([("messages", f"must be a list of 1 to {most} messages (got {count})")])
    return messages


def _item(index: int, answer: Receipt | InvalidInput | PolicyRefused) -> dict[str, Any]:
    """One result as ``BatchItem`` dumps it, built as a dict: a model per item was a tenth of a
    1,000-message batch's time (tests/api/test_batch.py checks each against the model)."""
    if isinstance(answer, PolicyRefused):  # a spend cap or the pumping guard
        errors = [{"field": "(message)", "message": str(answer)}]
        return {"index": index, "id": None, "status": "refused", "duplicate": False, "errors": errors}
    if isinstance(answer, InvalidInput):
        errors = [{"field": field, "message": message} for field, message in answer.problems]
        return {"index": index, "id": None, "status": "refused", "duplicate": False, "errors": errors}
    return {"index": index, "id": answer.message_id, "status": answer.status, "duplicate": answer.duplicate,
            "errors": None}  # fmt: skip
