"""The admin API under /_admin: read back requests, inject faults, choose outcomes, move the clock."""

from __future__ import annotations

from typing import Any

import httpx
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from smsq.sandbox.delivery import ADMIN_OUTCOMES
from smsq.sandbox.dlr import PUSH_TIMEOUT_SECONDS, push_reports
from smsq.sandbox.faults import PROVIDERS, parse_fault
from smsq.sandbox.params import NOT_JSON, json_body, sandbox_state
from smsq.sandbox.state import JsonDict

CHANNELS = ("sms", "viber", "whatsapp", "telegram", "rcs")


def bad_request(message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=400)


async def admin_object(request: Request) -> JsonDict | None:
    body = await json_body(request)
    return body if isinstance(body, dict) and body is not NOT_JSON else None


async def health(request: Request) -> Response:
    return JSONResponse({"ok": True})


async def list_requests(request: Request) -> Response:
    provider = request.query_params.get("provider")
    path = request.query_params.get("path")
    records = [
        record.as_json()
        for record in sandbox_state(request).requests
        if (provider is None or record.provider == provider)
        and (path is None or record.path.startswith(path))
    ]
    return JSONResponse({"requests": records})


async def clear_requests(request: Request) -> Response:
    sandbox_state(request).requests.clear()
    return Response(status_code=204)


async def add_fault(request: Request) -> Response:
    try:
        rule = parse_fault(await json_body(request))
    except ValueError as error:
        return bad_request(str(error))
    sandbox_state(request).faults.add(rule)
    return JSONResponse({"fault": rule.as_json()}, status_code=201)


async def list_faults(request: Request) -> Response:
    return JSONResponse({"faults": [rule.as_json() for rule in sandbox_state(request).faults.rules()]})


async def clear_faults(request: Request) -> Response:
    sandbox_state(request).faults.clear()
    return Response(status_code=204)


async def set_outcome(request: Request) -> Response:
    body = await admin_object(request)
    if body is None:
        return bad_request("body must be a JSON object")
    phone, outcome, channel = body.get("phone"), body.get("outcome"), body.get("channel")
    if not isinstance(phone, str) or not any(ch.isdigit() for ch in phone):
        return bad_request("phone must be a phone number")
    if outcome not in ADMIN_OUTCOMES:
        return bad_request(f"outcome must be one of {', '.join(ADMIN_OUTCOMES)}")
    if channel is not None and channel not in CHANNELS:
        return bad_request(f"channel must be one of {', '.join(CHANNELS)} or null")
    sandbox_state(request).outcomes.set(phone, outcome, channel)
    return JSONResponse({"phone": phone, "outcome": outcome, "channel": channel})


async def list_outcomes(request: Request) -> Response:
    return JSONResponse({"outcomes": sandbox_state(request).outcomes.as_list()})


async def clear_outcomes(request: Request) -> Response:
    sandbox_state(request).outcomes.clear()
    return Response(status_code=204)


def clock_json(request: Request) -> JsonDict:
    state = sandbox_state(request)
    return {"now": state.now(), "offset": state.clock_offset}


async def read_clock(request: Request) -> Response:
    return JSONResponse(clock_json(request))


async def advance_clock(request: Request) -> Response:
    body = await admin_object(request)
    advance = body.get("advance") if body else None
    if isinstance(advance, bool) or not isinstance(advance, int | float) or advance < 0:
        return bad_request("advance must be a non-negative number of seconds")
    sandbox_state(request).clock_offset += float(advance)
    return JSONResponse(clock_json(request))


async def reset(request: Request) -> Response:
    sandbox_state(request).reset()
    return Response(status_code=204)


async def list_messages(request: Request) -> Response:
    state = sandbox_state(request)
    body: dict[str, Any] = {
        provider: [sent.as_json(state.attempts(sent)) for sent in messages]
        for provider, messages in state.all_messages().items()
    }
    body["dm2fa"] = [
        {
            "pin_id": code.pin_id,
            "pin": code.pin,
            "receiver": code.receiver,
            "created_at": code.created_at,
            "authenticated_at": code.authenticated_at,
        }
        for code in state.dm.twofa_codes.values()
    ]
    provider = request.query_params.get("provider")
    if provider is not None:
        if provider not in PROVIDERS:
            return bad_request(f"provider must be one of {', '.join(PROVIDERS)}")
        body = {provider: body[provider]}
    return JSONResponse(body)


async def list_blacklists(request: Request) -> Response:
    state = sandbox_state(request)
    return JSONResponse(
        {
            "messente": list(state.messente.blacklist),
            "smsapi": [entry.as_json() for entry in state.smsapi.blacklist.values()],
            "dm": [entry.as_json() for entry in state.dm.blacklist.values()],
        }
    )


async def smsapi_export(request: Request) -> Response:
    content = sandbox_state(request).smsapi.exports.get(request.path_params["file_id"])
    if content is None:
        return JSONResponse({"error": "unknown file_id"}, status_code=404)
    return PlainTextResponse(content, media_type="text/csv")


async def delivery_reports(request: Request) -> Response:
    state = sandbox_state(request)
    return JSONResponse(
        {"enabled": state.delivery_reports_enabled, "reports": list(state.delivery_report_log)}
    )


async def switch_delivery_reports(request: Request) -> Response:
    body = await admin_object(request)
    enabled = body.get("enabled") if body else None
    if not isinstance(enabled, bool):
        return bad_request("enabled must be true or false")
    sandbox_state(request).delivery_reports_enabled = enabled
    return JSONResponse({"enabled": enabled})


async def flush_delivery_reports(request: Request) -> Response:
    """Send every due report now, whatever the switch says: lets tests avoid waiting for the loop."""
    async with httpx.AsyncClient(timeout=PUSH_TIMEOUT_SECONDS) as client:
        sent = await push_reports(sandbox_state(request), client)
    return JSONResponse({"sent": sent})


async def receive_report(request: Request) -> Response:
    """A catch-all delivery-report receiver, so a demo or test can point dlr_url at the sandbox."""
    body = await json_body(request)
    sandbox_state(request).received_reports.append(
        {
            "method": request.method,
            "query": dict(request.query_params),
            "headers": {key: value for key, value in request.headers.items() if key.startswith("x-")},
            "body": None if body is NOT_JSON else body,
        }
    )
    return Response(status_code=204)


async def received_reports(request: Request) -> Response:
    return JSONResponse({"reports": list(sandbox_state(request).received_reports)})


routes = [
    Route("/_admin/health", health, methods=["GET"]),
    Route("/_admin/requests", list_requests, methods=["GET"]),
    Route("/_admin/requests", clear_requests, methods=["DELETE"]),
    Route("/_admin/faults", add_fault, methods=["POST"]),
    Route("/_admin/faults", list_faults, methods=["GET"]),
    Route("/_admin/faults", clear_faults, methods=["DELETE"]),
    Route("/_admin/outcomes", set_outcome, methods=["POST"]),
    Route("/_admin/outcomes", list_outcomes, methods=["GET"]),
    Route("/_admin/outcomes", clear_outcomes, methods=["DELETE"]),
    Route("/_admin/clock", read_clock, methods=["GET"]),
    Route("/_admin/clock", advance_clock, methods=["POST"]),
    Route("/_admin/reset", reset, methods=["POST"]),
    Route("/_admin/messages", list_messages, methods=["GET"]),
    Route("/_admin/blacklists", list_blacklists, methods=["GET"]),
    Route("/_admin/smsapi/exports/{file_id}", smsapi_export, methods=["GET"]),
    Route("/_admin/delivery_reports", delivery_reports, methods=["GET"]),
    Route("/_admin/delivery_reports", switch_delivery_reports, methods=["POST"]),
    Route("/_admin/delivery_reports/flush", flush_delivery_reports, methods=["POST"]),
    Route("/_admin/dlr_sink", receive_report, methods=["GET", "POST"]),
    Route("/_admin/dlr_sink/reports", received_reports, methods=["GET"]),
]
