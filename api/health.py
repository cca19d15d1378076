"""/healthz: the process answers. /readyz: Redis answers and a worker consumes every lane."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from smsq.api.models import Health, Readiness
from smsq.api.services import Services, services
from smsq.config import contract as names
from smsq.producers.errors import StoreUnavailable

router = APIRouter(tags=["health"])


@router.get("/healthz", response_model=Health)
async def healthz() -> Health:
    return Health()


@router.get("/readyz", response_model=Readiness, responses={503: {"model": Readiness}})
async def readyz(found: Annotated[Services, Depends(services)]) -> JSONResponse:
    readiness = await run_in_threadpool(check, found)
    return JSONResponse(readiness.model_dump(), status_code=200 if readiness.ready else 503)


def check(found: Services) -> Readiness:
    try:
        found.smsq.store.redis.ping()
    except StoreUnavailable:
        return Readiness(ready=False, redis="unreachable", lanes={}, missing=list(names.ALL_QUEUES))
    try:
        lanes = found.lanes()
    except Exception:  # no worker answer is an answer: nothing consumes
        lanes = {}
    lanes = {lane: sorted(lanes.get(lane, [])) for lane in names.ALL_QUEUES}
    missing = [lane for lane, nodes in lanes.items() if not nodes]
    return Readiness(ready=not missing, redis="ok", lanes=lanes, missing=missing)
