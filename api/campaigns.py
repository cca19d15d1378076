"""/v1/campaigns: create from JSON recipients or an uploaded CSV (streamed to a file on disk, never
held whole in memory), read progress, pause, resume, cancel; thin over ``Smsq.campaigns``. A key sees
only the campaigns it created (the campaign's hash notes the key: ``KEY_ID``)."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Request
from fastapi.concurrency import run_in_threadpool
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from smsq.api.auth import scoped
from smsq.api.bodies import json_body, json_request
from smsq.api.limits import UPLOAD_SUFFIX
from smsq.api.problems import problems
from smsq.api.services import Services, services
from smsq.producers.campaigns.model import CampaignProgress, CampaignTemplate, checked_campaign_id
from smsq.producers.core.records import KEY_ID
from smsq.producers.errors import ApiRefused, CampaignNotFound, InvalidInput
from smsq.producers.keys.store import CAMPAIGNS, ApiKey

router = APIRouter(prefix="/v1/campaigns", tags=["campaigns"])
REFUSALS = problems(401, 403, 404, 409, 413, 422, 503)
COPY_CHUNK = 1024 * 1024


class CampaignRequest(BaseModel):
    """A campaign from JSON: its template and recipients (each a number, or {"to": number, and the
    template's variables})."""

    model_config = ConfigDict(extra="forbid")
    name: str
    template: CampaignTemplate
    recipients: list[str | dict[str, Any]] = Field(min_length=1)
    message_class: Literal["marketing", "transactional"] = Field(
        "marketing", description="marketing: each message only inside its recipient's send window"
    )


class Campaign(BaseModel):
    id: str
    name: str
    status: str = Field(description="creating, scheduled, running, paused, finished, cancelled, failed")
    priority: str
    message_class: str = Field(description="marketing (held to send windows) or transactional")
    created_at: datetime | None
    time_to_send: datetime | None
    recipients: int
    messages: int
    skipped: dict[str, int]
    counts: dict[str, int]
    pending: int


def view(progress: CampaignProgress) -> Campaign:
    return Campaign(
        id=progress.id, name=progress.name, status=progress.shown_status, priority=progress.priority,
        message_class=progress.message_class,
        created_at=progress.created_at, time_to_send=progress.time_to_send,
        recipients=progress.recipients, messages=progress.messages, skipped=progress.skipped,
        counts=progress.counts, pending=progress.pending,
    )  # fmt: skip


def _create(found: Services, key: ApiKey, idempotency: str | None, **options: Any) -> Campaign:
    if key.test:
        # The campaign's messages would be sent by the live providers: refused until campaigns route
        # test keys to the simulated provider as single messages do.
        raise ApiRefused(
            403, "Forbidden", "a test key cannot create campaigns (their messages would be live)"
        )
    idempotency_key = None
    if idempotency is not None:
        idempotency_key = f"api.{key.key_id}.{hashlib.sha256(idempotency.encode()).hexdigest()[:40]}"
    progress = found.smsq.campaigns.create(idempotency_key=idempotency_key, **options)
    found.smsq.store.redis.hset(found.smsq.store.keys.campaign(progress.id), KEY_ID, key.key_id)
    return view(progress)


@router.post(
    "", status_code=202, response_model=Campaign, responses=REFUSALS,
    openapi_extra=json_request("CampaignRequest", "a template and its recipients"),
)  # fmt: skip
async def create_campaign(
    request: Request,
    key: Annotated[ApiKey, Depends(scoped(CAMPAIGNS))],
    found: Annotated[Services, Depends(services)],
) -> Campaign:
    """Create a campaign from JSON recipients (Idempotency-Key: a repeat returns the first campaign)."""
    payload = await json_body(request)
    if not isinstance(payload, dict):
        raise InvalidInput([("(body)", "must be an object with name, template and recipients")])
    unknown = sorted(set(payload) - set(CampaignRequest.model_fields))
    if unknown:
        raise InvalidInput([(name[:40], "is not a field of a campaign") for name in unknown])
    options = {
        "name": payload.get("name"), "template": payload.get("template"),
        "recipients": payload.get("recipients"), "message_class": payload.get("message_class"),
    }  # fmt: skip
    header = request.headers.get("Idempotency-Key")
    return await run_in_threadpool(_create, found, key, header, **options)


UPLOAD_BODY = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file", "name", "template"],
                    "properties": {
                        "file": {"type": "string", "format": "binary", "description": "the CSV"},
                        "name": {"type": "string"},
                        "template": {"type": "string", "description": "the campaign template as JSON"},
                        "number_column": {"type": "string", "default": "phone"},
                        "message_class": {"type": "string", "enum": ["marketing", "transactional"]},
                    },
                }
            }
        },
    }
}


@router.post(
    "/upload", status_code=202, response_model=Campaign, responses=REFUSALS, openapi_extra=UPLOAD_BODY
)
async def upload_campaign(
    request: Request,
    key: Annotated[ApiKey, Depends(scoped(CAMPAIGNS))],
    found: Annotated[Services, Depends(services)],
) -> Campaign:
    """Create a campaign from a CSV (multipart/form-data: ``file``, ``name``, ``template`` as JSON,
    optional ``number_column``). The file is written to disk as it arrives (SMSQ_API__UPLOAD_BYTES)."""
    assert request.url.path.endswith(UPLOAD_SUFFIX)  # the body limit is the upload one
    try:
        form = await request.form(max_files=1, max_fields=6)
    except HTTPException as refused:  # Starlette's word on a malformed form: bad input like any other
        raise InvalidInput([("(form)", str(refused.detail))]) from None
    try:
        upload, fields = (
            form.get("file"),
            {name: form.get(name) for name in ("name", "template", "number_column", "message_class")},
        )
        problems_found = []
        if not isinstance(upload, UploadFile):
            problems_found.append(("file", "attach the CSV as the form field 'file'"))
        template: Any = None
        try:
            template = json.loads(str(fields["template"] or ""))
        except ValueError:
            problems_found.append(("template", "must be the campaign template as JSON"))
        if problems_found:
            raise InvalidInput(problems_found)
        assert isinstance(upload, UploadFile)
        with tempfile.NamedTemporaryFile(prefix="smsq-upload-", suffix=".csv") as spool:
            await run_in_threadpool(shutil.copyfileobj, upload.file, spool, COPY_CHUNK)
            spool.flush()
            options = {
                "name": str(fields["name"] or ""), "template": template, "csv_path": spool.name,
                "number_column": str(fields["number_column"] or "phone"),
                "message_class": None if fields["message_class"] is None else str(fields["message_class"]),
            }  # fmt: skip
            header = request.headers.get("Idempotency-Key")
            return await run_in_threadpool(_create, found, key, header, **options)
    finally:
        await form.close()


def _own(found: Services, key: ApiKey, campaign_id: str) -> str:
    checked = checked_campaign_id(campaign_id)
    owner = found.smsq.store.redis.hget(found.smsq.store.keys.campaign(checked), KEY_ID)
    if owner != key.key_id:
        raise CampaignNotFound(campaign_id)
    return checked


@router.get("/{campaign_id}", response_model=Campaign, responses=REFUSALS)
async def read_campaign(
    campaign_id: str,
    key: Annotated[ApiKey, Depends(scoped(CAMPAIGNS))],
    found: Annotated[Services, Depends(services)],
) -> Campaign:
    """A campaign's progress: its status and its messages counted by status."""
    return await run_in_threadpool(lambda: view(found.smsq.campaigns.progress(_own(found, key, campaign_id))))


CONTROL_DOCS = {
    "pause": "Pause: no new sends within a second.",
    "resume": "Resume a paused campaign.",
    "cancel": "Cancel: its queued and scheduled messages become cancelled.",
}


def _control(action: str) -> Any:
    async def control(
        campaign_id: str,
        key: Annotated[ApiKey, Depends(scoped(CAMPAIGNS))],
        found: Annotated[Services, Depends(services)],
    ) -> Campaign:
        def run() -> Campaign:
            checked = _own(found, key, campaign_id)
            return view(getattr(found.smsq.campaigns, action)(checked))

        return await run_in_threadpool(run)

    control.__doc__ = CONTROL_DOCS[action]
    control.__name__ = f"{action}_campaign"
    return control


for _action in ("pause", "resume", "cancel"):
    router.add_api_route(
        f"/{{campaign_id}}/{_action}", _control(_action), methods=["POST"], response_model=Campaign,
        responses=REFUSALS, name=f"{_action}_campaign",
    )  # fmt: skip
