"""/v1/blacklist: add, remove, check, list (paged), start a sync and read its report; thin over
``Smsq.blacklist`` and ``BlacklistSyncs``. The blacklist is the installation's (shared by every key),
so the scope ``blacklist`` is what guards it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from smsq.api.auth import scoped
from smsq.api.bodies import json_body, json_request
from smsq.api.problems import problems
from smsq.api.services import Services, services
from smsq.producers.blacklist.store import BlacklistedNumber
from smsq.producers.blacklist.sync import SyncReport
from smsq.producers.errors import InvalidInput
from smsq.producers.keys.store import BLACKLIST, ApiKey

router = APIRouter(prefix="/v1/blacklist", tags=["blacklist"])
REFUSALS = problems(401, 403, 413, 422, 503)
Key = Annotated[ApiKey, Depends(scoped(BLACKLIST))]
Found = Annotated[Services, Depends(services)]


class BlacklistAdd(BaseModel):
    model_config = ConfigDict(extra="forbid")
    number: str
    reason: str = ""
    expires_at: datetime | None = None


class SyncRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    providers: list[str] | None = None
    dry_run: bool = False
    force: bool = Field(False, description="override the mass-delete guard")


class Entry(BaseModel):
    number: str
    source: str
    reason: str
    added_at: datetime
    expires_at: datetime | None = None


class Check(BaseModel):
    number: str
    blocked: bool
    entry: Entry | None = None


class Changed(BaseModel):
    number: str
    changed: bool = Field(description="false: it was already listed (add) or not listed (remove)")


class Page(BaseModel):
    total: int
    offset: int
    entries: list[Entry]


class SyncStarted(BaseModel):
    task_id: str


class SyncRunning(BaseModel):
    task_id: str
    status: str = "running"


def entry(found: BlacklistedNumber) -> Entry:
    return Entry(**{name: getattr(found, name) for name in Entry.model_fields})


def _fields(payload: Any, model: type[BaseModel]) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise InvalidInput([("(body)", "must be a JSON object")])
    unknown = sorted(set(payload) - set(model.model_fields))
    if unknown:
        raise InvalidInput([(name[:40], "is not a field here") for name in unknown])
    return payload


ADD_BODY = json_request("BlacklistAdd", "the number, and optionally why and until when")


@router.post("", status_code=201, response_model=Changed, responses=REFUSALS, openapi_extra=ADD_BODY)
async def add_number(request: Request, key: Key, found: Found) -> Changed:
    """Blacklist a number: messages to it are blocked (and, at the next sync, at every provider)."""
    fields = _fields(await json_body(request), BlacklistAdd)
    number: Any = fields.get("number")
    reason, expires_at = fields.get("reason") or "", fields.get("expires_at")
    added = await run_in_threadpool(
        lambda: found.smsq.blacklist.add(number, source="api", reason=reason, expires_at=expires_at)
    )
    return Changed(number=found.smsq.blacklist.validated_entry(number=number).number, changed=added)


@router.delete("/{number}", response_model=Changed, responses=REFUSALS)
async def remove_number(number: str, key: Key, found: Found) -> Changed:
    """Take a number off the blacklist here and, at the next sync, at every provider."""
    removed = await run_in_threadpool(found.smsq.blacklist.remove, number, source="api")
    return Changed(number=found.smsq.blacklist.validated_entry(number=number).number, changed=removed)


@router.get("/{number}", response_model=Check, responses=REFUSALS)
async def check_number(number: str, key: Key, found: Found) -> Check:
    """Whether messages to this number are blocked right now."""
    listed = await run_in_threadpool(found.smsq.blacklist.get, number)
    e164 = found.smsq.blacklist.validated_entry(number=number).number
    return Check(number=e164, blocked=listed is not None, entry=entry(listed) if listed else None)


@router.get("", response_model=Page, responses=REFUSALS)
async def list_numbers(
    key: Key,
    found: Found,
    search: Annotated[str | None, Query(description="digits of part of the number")] = None,
    offset: Annotated[int, Query()] = 0,
    limit: Annotated[int, Query()] = 50,
) -> Page:
    """The blacklist in number order, a page at a time."""
    page = await run_in_threadpool(
        lambda: found.smsq.blacklist.list_numbers(search=search, offset=offset, limit=limit)
    )
    return Page(total=page.total, offset=offset, entries=[entry(e) for e in page.entries])


@router.post("/syncs", status_code=202, response_model=SyncStarted, responses=REFUSALS,
             openapi_extra=json_request("SyncRequest", "which providers; plan only; force"))  # fmt: skip
async def start_sync(request: Request, key: Key, found: Found) -> SyncStarted:
    """Queue a blacklist sync with the providers; read its report with GET /v1/blacklist/syncs/{id}."""
    raw = await request.body()
    fields = _fields(await json_body(request), SyncRequest) if raw.strip() else {}
    task_id = await run_in_threadpool(
        lambda: found.syncs.request(
            providers=fields.get("providers"),
            dry_run=fields.get("dry_run") is True,
            force=fields.get("force") is True,
        )
    )
    return SyncStarted(task_id=task_id)


@router.get(
    "/syncs/{task_id}", response_model=SyncReport, responses={202: {"model": SyncRunning}, **REFUSALS}
)
async def sync_report(task_id: str, key: Key, found: Found) -> Any:
    """A sync's report (``latest``: the latest finished run's); 202 while it runs."""
    report = await run_in_threadpool(found.syncs.report, None if task_id == "latest" else task_id)
    if report is None:
        return JSONResponse(SyncRunning(task_id=task_id).model_dump(), status_code=202)
    return report
