"""Messente Omnichannel API: send, bulk send, delivery status, cancel a scheduled message."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from smsq.sandbox.delivery import OUTCOMES, AttemptState, ChannelPlan, Stage, messente_accepted_status
from smsq.sandbox.errors import omnichannel_error, omnichannel_error_body
from smsq.sandbox.messente_validation import InvalidOmnimessage, ValidOmnimessage, validate_omnimessage
from smsq.sandbox.params import NOT_JSON, basic_credentials, json_body, same_secret, sandbox_state
from smsq.sandbox.sms_parts import parts_count
from smsq.sandbox.state import SandboxState, SentMessage

PART_PRICE = "0.0500"


def iso_timestamp(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).isoformat()


def messente_authorized(request: Request) -> bool:
    config = sandbox_state(request).config
    credentials = basic_credentials(request)
    return (
        credentials is not None
        and same_secret(credentials[0], config.messente_username)
        and same_secret(credentials[1], config.messente_password)
    )


def unauthorized() -> JSONResponse:
    return omnichannel_error("103", "Invalid or missing API username and password")


def accept_omnimessage(state: SandboxState, valid: ValidOmnimessage, body: dict[str, Any]) -> SentMessage:
    now = state.now()
    blacklisted = valid.to in state.messente.blacklist
    plans = [
        ChannelPlan(
            channel=message["channel"],
            message_id=str(uuid.uuid4()),
            sender=message.get("sender") or state.config.messente_default_sender,
            outcome=OUTCOMES["blacklisted"]
            if blacklisted
            else state.outcomes.outcome_for(valid.to, message["channel"]),
        )
        for message in valid.messages
    ]
    send_at = max(now, valid.time_to_send.timestamp()) if valid.time_to_send else now
    sent = SentMessage(
        provider="messente",
        message_id=str(uuid.uuid4()),
        to=valid.to,
        request=body,
        plans=plans,
        accepted_at=now,
        send_at=send_at,
        report_url=valid.dlr_url,
        extra={
            "texts": {
                plan.message_id: message.get("text")
                for plan, message in zip(plans, valid.messages, strict=True)
            }
        },
    )
    state.messente.omnimessages[sent.message_id] = sent
    return sent


def created_body(sent: SentMessage) -> dict[str, Any]:
    return {
        "messages": [
            {"message_id": plan.message_id, "channel": plan.channel, "sender": plan.sender}
            for plan in sent.plans
        ],
        "to": sent.to,
        "omnimessage_id": sent.message_id,
    }


async def send_omnimessage(request: Request) -> Response:
    if not messente_authorized(request):
        return unauthorized()
    body = await json_body(request)
    if body is NOT_JSON:
        return omnichannel_error("105", "Request body is not valid JSON")
    try:
        valid = validate_omnimessage(body)
    except InvalidOmnimessage as error:
        return omnichannel_error(error.code, error.detail, error.source)
    sent = accept_omnimessage(sandbox_state(request), valid, body)
    return JSONResponse(created_body(sent), status_code=201)


async def send_bulk_omnimessage(request: Request) -> Response:
    if not messente_authorized(request):
        return unauthorized()
    body = await json_body(request)
    if body is NOT_JSON:
        return omnichannel_error("105", "Request body is not valid JSON")
    if not isinstance(body, dict) or body.get("messages") in (None, []):
        return omnichannel_error("106", "Missing required field: messages", "messages")
    if not isinstance(body["messages"], list):
        return omnichannel_error("105", "messages must be an array", "messages")
    state = sandbox_state(request)
    results: list[dict[str, Any]] = []
    for omnimessage in body["messages"]:
        try:
            valid = validate_omnimessage(omnimessage)
        except InvalidOmnimessage as error:
            results.append(omnichannel_error_body(error.code, error.detail, error.source))
            continue
        results.append(created_body(accept_omnimessage(state, valid, omnimessage)))
    return JSONResponse({"messages": results}, status_code=201)


def delivery_result(state: AttemptState, text: str | None, cancelled: bool) -> dict[str, Any]:
    plan = state.plan
    result: dict[str, Any] = {
        "status": None,
        "channel": plan.channel,
        "message_id": plan.message_id,
        "error": None,
        "err": None,
        "timestamp": iso_timestamp(state.changed_at),
        "sender": plan.sender,
    }
    if cancelled:
        result["status"] = "DELETED"
    elif state.stage is Stage.ACCEPTED:
        result.update(status=messente_accepted_status(plan.channel), err=0)
    elif state.stage is Stage.FINAL:
        parts = parts_count(text) if plan.channel == "sms" and text else 1
        total = f"{float(PART_PRICE) * parts:.4f}"
        result.update(
            status=plan.outcome.messente_status,
            err=plan.outcome.messente_err,
            error=plan.outcome.messente_error,
            price_info={"part_price": PART_PRICE, "parts_count": parts, "total_price": total},
        )
    return result


def status_body(state: SandboxState, sent: SentMessage) -> dict[str, Any]:
    texts: dict[str, Any] = sent.extra.get("texts", {})
    cancelled = sent.cancelled_at is not None
    statuses = [
        delivery_result(attempt, texts.get(attempt.plan.message_id), cancelled)
        for attempt in state.attempts(sent)
    ]
    return {"statuses": statuses, "to": sent.to, "omnimessage_id": sent.message_id}


async def delivery_status(request: Request) -> Response:
    if not messente_authorized(request):
        return unauthorized()
    state = sandbox_state(request)
    sent = state.messente.omnimessages.get(request.path_params["omnimessage_id"])
    if sent is None:
        return omnichannel_error("101", "Omnimessage not found")
    return JSONResponse(status_body(state, sent))


async def cancel_scheduled(request: Request) -> Response:
    if not messente_authorized(request):
        return unauthorized()
    state = sandbox_state(request)
    sent = state.messente.omnimessages.get(request.path_params["omnimessage_id"])
    if sent is None or sent.cancelled_at is not None:
        return omnichannel_error("101", "Scheduled omnimessage not found")
    if sent.is_due(state.now()):
        return omnichannel_error("101", "Omnimessage has already been sent")
    sent.cancelled_at = state.now()
    return JSONResponse({}, status_code=202)


routes = [
    Route("/v1/omnimessage", send_omnimessage, methods=["POST"]),
    Route("/v1/omnimessages", send_bulk_omnimessage, methods=["POST"]),
    Route("/v1/omnimessage/{omnimessage_id}/status", delivery_status, methods=["GET"]),
    Route("/v1/omnimessage/{omnimessage_id}", cancel_scheduled, methods=["DELETE"]),
]
