"""/v1/2fa: text a PIN (Direct Messenger 2FA) and check what the user typed; thin over
``Smsq.two_factor``. Scope ``send``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field

from smsq.api.auth import scoped
from smsq.api.bodies import json_body, json_request
from smsq.api.problems import problems
from smsq.api.services import Services, services
from smsq.producers.errors import InvalidInput
from smsq.producers.keys.store import SEND, ApiKey

router = APIRouter(prefix="/v1/2fa", tags=["two-factor"])
REFUSALS = problems(401, 403, 413, 422, 502, 503, 504)


class CodeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    pin_length: int | None = Field(None, ge=4, le=20)


class VerifyRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    pin: str


class Session(BaseModel):
    session_id: str
    expires_in: int
    sms: str | None = None


class Verdict(BaseModel):
    outcome: str = Field(description="authenticated, already_authenticated, not_found, mismatch or expired")
    authenticated: bool
    detail: str = ""


def _object(payload: Any, model: type[BaseModel]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput([("(body)", "must be a JSON object")])
    unknown = sorted(set(payload) - set(model.model_fields))
    if unknown:
        raise InvalidInput([(name[:40], "is not a field here") for name in unknown])
    return payload


@router.post("", status_code=201, response_model=Session, responses=REFUSALS,
             openapi_extra=json_request("CodeRequest", "the number to text a PIN to"))  # fmt: skip
async def send_code(
    request: Request,
    key: Annotated[ApiKey, Depends(scoped(SEND))],
    found: Annotated[Services, Depends(services)],
) -> Session:
    """Text a PIN; answers the session id to verify it with."""
    fields = _object(await json_body(request), CodeRequest)
    # A test key's PIN goes to the simulated provider: nothing is texted, and its PIN is known.
    session = await run_in_threadpool(
        lambda: found.smsq.two_factor.send_code(
            fields.get("number"),  # type: ignore[arg-type]
            pin_length=fields.get("pin_length"),
            test=key.test,
        )
    )
    return Session(session_id=session.session_id, expires_in=session.expires_in, sms=session.sms)


@router.post("/{session_id}/verify", response_model=Verdict, responses=REFUSALS,
             openapi_extra=json_request("VerifyRequest", "the PIN the user typed"))  # fmt: skip
async def verify_code(
    session_id: str,
    request: Request,
    key: Annotated[ApiKey, Depends(scoped(SEND))],
    found: Annotated[Services, Depends(services)],
) -> Verdict:
    """Check a PIN: authenticated (once), mismatch, expired, ..."""
    fields = _object(await json_body(request), VerifyRequest)
    verdict = await run_in_threadpool(found.smsq.two_factor.verify, session_id, fields.get("pin"))  # type: ignore[arg-type]
    return Verdict(outcome=verdict.outcome, authenticated=verdict.authenticated, detail=verdict.detail)
