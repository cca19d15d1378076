"""/v1/messages: read one or many, cancel one (sending: ``smsq.api.sending``). A key reads and cancels
only its own messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from fastapi.concurrency import run_in_threadpool

from smsq.api.auth import scoped
from smsq.api.models import MessageList
from smsq.api.problems import problems
from smsq.api.services import Services, services
from smsq.producers.core.records import KEY_ID
from smsq.producers.core.results import MessageResult
from smsq.producers.errors import InvalidInput, MessageNotFound
from smsq.producers.keys.store import READ, SEND, ApiKey
from smsq.producers.messages.record import checked_message_id

router = APIRouter(prefix="/v1/messages", tags=["messages"])
AUTH = (401, 403, 503)


@router.get("/{message_id}", response_model=MessageResult, responses=problems(*AUTH, 404, 422))
async def read_message(
    message_id: str,
    key: Annotated[ApiKey, Depends(scoped(READ))],
    found: Annotated[Services, Depends(services)],
) -> MessageResult:
    """One message of this key: status, channel results, attempts, times."""
    return await run_in_threadpool(own_result, found, key, message_id)


@router.get("", response_model=MessageList, responses=problems(*AUTH, 422))
async def read_messages(
    key: Annotated[ApiKey, Depends(scoped(READ))],
    found: Annotated[Services, Depends(services)],
    ids: Annotated[list[str], Query(description="message ids, repeated or comma-separated")],
) -> MessageList:
    """Many messages of this key in one round trip; unknown ids (or another key's) in ``not_found``."""
    wanted = list(dict.fromkeys(part.strip() for value in ids for part in value.split(",") if part.strip()))
    most = found.settings.api.ids_max
    if not wanted or len(wanted) > most:
        raise InvalidInput([("ids", f"give 1 to {most} message ids (got {len(wanted)})")])
    checked = [checked_message_id(message_id) for message_id in wanted]
    records = await run_in_threadpool(found.smsq.store.get_many, checked)
    messages, missing = [], []
    for message_id, record in zip(checked, records, strict=True):
        if record is not None and record.get(KEY_ID) == key.key_id:
            messages.append(MessageResult.from_record(record))
        else:
            missing.append(message_id)
    return MessageList(messages=messages, not_found=missing)


@router.delete("/{message_id}", response_model=MessageResult, responses=problems(*AUTH, 404, 409, 422))
async def cancel_message(
    message_id: str,
    key: Annotated[ApiKey, Depends(scoped(SEND))],
    found: Annotated[Services, Depends(services)],
) -> MessageResult:
    """Cancel a scheduled message of this key; 409 saying why when it was already released or sent."""

    def cancel() -> MessageResult:
        own_result(found, key, message_id)
        return found.smsq.cancel(message_id)

    return await run_in_threadpool(cancel)


def own_result(found: Services, key: ApiKey, message_id: str) -> MessageResult:
    """The message if this key accepted it; MessageNotFound (404) otherwise, so a key cannot even tell
    whether another key's message exists."""
    record = found.smsq.store.get(checked_message_id(message_id))
    if record is None or record.get(KEY_ID) != key.key_id:
        raise MessageNotFound(message_id)
    return MessageResult.from_record(record)
