"""Delivery-report pushes to dlr_url (Messente), notify_url (SMSAPI) and dlruri (Direct Messenger).

Off by default. When on, a background task (or /_admin/delivery_reports/flush) sends one report per
status change that has not been reported yet. A failed push is logged, not retried.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from smsq.sandbox.delivery import AttemptState, Stage, dlr_status_name, kannel_dlr_code, smsapi_status_name
from smsq.sandbox.state import SandboxState, SentMessage

REPORTED_STAGES = {Stage.ACCEPTED: (Stage.ACCEPTED,), Stage.FINAL: (Stage.ACCEPTED, Stage.FINAL)}
SMSAPI_SENT_CODE = 403
PUSH_TIMEOUT_SECONDS = 5.0


@dataclass(frozen=True)
class DeliveryReport:
    provider: str
    method: str
    url: str
    params: dict[str, str] = field(default_factory=dict)
    json_body: dict[str, Any] | None = None
    content: bytes | None = None  # when set, sent as is (what a signature covers)
    headers: dict[str, str] = field(default_factory=dict)


def due_reports(state: SandboxState) -> list[DeliveryReport]:
    """Reports for status changes not yet reported, marking them reported."""
    reports: list[DeliveryReport] = []
    for messages in state.all_messages().values():
        for sent in messages:
            if sent.report_url is None or sent.cancelled_at is not None:
                continue
            for attempt in state.attempts(sent):
                for stage in REPORTED_STAGES.get(attempt.stage, ()):
                    event = (sent.provider, attempt.plan.message_id, stage.value)
                    if event in state.reported_events:
                        continue
                    state.reported_events.add(event)
                    staged = AttemptState(attempt.plan, stage, attempt.changed_at)
                    reports.append(build_report(state, sent, staged))
    return reports


def build_report(state: SandboxState, sent: SentMessage, attempt: AttemptState) -> DeliveryReport:
    assert sent.report_url is not None
    when = datetime.fromtimestamp(attempt.changed_at, tz=UTC)
    if sent.provider == "messente":
        final = attempt.stage is Stage.FINAL
        body = {
            "status": dlr_status_name(attempt),
            "sender": attempt.plan.sender,
            "err": attempt.plan.outcome.messente_err if final else 0,
            "message_id": attempt.plan.message_id,
            "to": sent.to,
            "channel": attempt.plan.channel,
            "error": attempt.plan.outcome.messente_error if final else None,
            "omnimessage_id": sent.message_id,
            "timestamp": when.isoformat(),
        }
        # HMAC-SHA256 of the exact bytes sent (Messente: of the HTTP request body), keyed by the API
        # password here; so the body is serialised once and those bytes are both signed and sent.
        content = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        signature = hmac.new(state.config.messente_password.encode(), content, hashlib.sha256).hexdigest()
        headers = {"X-Messente-Signature": signature, "Content-Type": "application/json"}
        return DeliveryReport(
            "messente", "POST", sent.report_url, json_body=body, content=content, headers=headers
        )
    if sent.provider == "smsapi":
        status_name = smsapi_status_name(attempt)
        code = attempt.plan.outcome.smsapi_status_code if attempt.stage is Stage.FINAL else SMSAPI_SENT_CODE
        params = {
            "MsgId": sent.message_id,
            "status": str(code),
            "status_name": status_name,
            "idx": sent.extra.get("idx") or "",
            "donedate": str(int(attempt.changed_at)),
            "points": str(sent.extra.get("points", "")),
            "to": sent.to,
            "from": attempt.plan.sender,
        }
        return DeliveryReport("smsapi", "GET", sent.report_url, params=params)
    replacements = {
        "%smsid%": str(sent.extra.get("dlr_id") or sent.message_id),
        "%dlr%": kannel_dlr_code(attempt) or "",
        "%receiver%": sent.to,
        "%time%": when.strftime("%Y-%m-%d %H:%M:%S"),
    }
    url = sent.report_url
    for placeholder, value in replacements.items():
        url = url.replace(placeholder, quote(value, safe=""))
    return DeliveryReport("dm", "GET", url)


async def push_reports(state: SandboxState, client: httpx.AsyncClient) -> int:
    reports = due_reports(state)
    for report in reports:
        outcome: dict[str, Any] = {
            "provider": report.provider,
            "method": report.method,
            "url": report.url,
            "params": report.params,
            "body": report.json_body,
        }
        try:
            response = await client.request(
                report.method,
                report.url,
                params=report.params or None,
                json=report.json_body if report.content is None else None,
                content=report.content,
                headers=report.headers,
            )
            outcome["status"] = response.status_code
        except httpx.HTTPError as error:
            outcome["error"] = repr(error)
        state.delivery_report_log.append(outcome)
    return len(reports)


async def report_loop(state: SandboxState) -> None:
    async with httpx.AsyncClient(timeout=PUSH_TIMEOUT_SECONDS) as client:
        while True:
            if state.delivery_reports_enabled:
                with contextlib.suppress(Exception):  # a bad URL must never stop the loop
                    await push_reports(state, client)
            await asyncio.sleep(state.config.delivery_report_interval_seconds)
