"""Campaign tasks: thin. Send a batch of positions, sweep a cancelled campaign, expand from groups."""

from __future__ import annotations

import logging
import os
from typing import Any

from celery import Celery, Task
from pydantic import BaseModel, ConfigDict, Field

from smsq.config import contract as names
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.batches import Batches
from smsq.producers.campaigns.model import CampaignKeys, message_id
from smsq.producers.errors import InvalidInput
from smsq.workers import shutdown
from smsq.workers.campaigns.sending import BatchLease, BatchOptions, send_batch
from smsq.workers.context import WorkerContext, context_for
from smsq.workers.payloads import decode
from smsq.workers.providers.messente.phonebook import MessentePhonebookClient, contact_to_wire
from smsq.workers.sending.batch import send_pool
from smsq.workers.sending.event_loop import AsyncHttp

log = logging.getLogger(__name__)
SWEEP_CHUNK = 1000


class BatchPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    first: int = Field(ge=1)
    last: int = Field(ge=1)


class SweepPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign_id: str = Field(pattern=r"^[0-9a-f]{32}$")


class GroupsPayload(BaseModel):
    model_config = ConfigDict(extra="forbid")
    campaign_id: str = Field(pattern=r"^[0-9a-f]{32}$")
    group_ids: list[str] = Field(min_length=1)


_async: dict[int, AsyncHttp] = {}


def async_http_for(context: WorkerContext) -> AsyncHttp | None:
    """The event loop client for async singles (SMSQ_CAMPAIGNS__ASYNC_SEND), one per worker process."""
    settings = context.settings
    if not settings.campaigns.async_send or settings.campaigns.use_bulk or not settings.messente.enabled:
        return None
    pid = os.getpid()
    if pid not in _async:
        _async[pid] = AsyncHttp.for_messente(
            settings.messente, max_connections=settings.campaigns.concurrency
        )
    return _async[pid]


def campaigns_for(context: WorkerContext) -> Campaigns:
    from smsq.producers.blacklist.store import Blacklist

    settings = context.settings.campaigns
    return Campaigns(
        context.store,
        context.producer.publisher,
        Blacklist(context.redis, prefix=context.settings.key_prefix),
        batch_size=settings.batch_size,
        max_queued_batches=settings.max_queued_batches,
    )


def sweep_cancelled(context: WorkerContext, campaign_id: str) -> int:
    """Every waiting message of a cancelled campaign becomes cancelled; sent ones are kept."""
    keys = CampaignKeys(context.store.keys, campaign_id)
    last = int(context.redis.hget(keys.campaign, "last_position") or 0)
    cancelled = 0
    for start in range(1, last + 1, SWEEP_CHUNK):
        ids = [message_id(campaign_id, p) for p in range(start, min(last, start + SWEEP_CHUNK - 1) + 1)]
        answers = context.store.transition_many(
            [(i, "cancelled", {"allowed_from": {"queued", "scheduled"}}) for i in ids]
        )
        cancelled += sum(answer.ok for answer in answers)
    context.redis.delete(keys.held)
    return cancelled


def register_campaign_tasks(app: Celery) -> None:
    def dead_letter(context: WorkerContext, task: str, args: Any, kwargs: Any, error: InvalidInput) -> None:
        context.store.dead_letter(task, {"args": args, "kwargs": kwargs}, str(error))
        log.error("dead-lettered a %s task: %s", task, error)

    @app.task(name=names.SEND_BATCH_TASK, bind=True, ignore_result=True, shared=False)
    def send_batch_task(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            payload = decode(BatchPayload, args, kwargs)
        except InvalidInput as error:
            return dead_letter(context, names.SEND_BATCH_TASK, args, kwargs, error)
        settings = context.settings.campaigns
        options = BatchOptions(
            chunk=settings.chunk,
            use_bulk=settings.use_bulk,
            bulk_size=settings.bulk_size,
            concurrency=settings.concurrency,
            async_http=async_http_for(context),
        )
        lane = str((self.request.delivery_info or {}).get("routing_key") or names.LOW)
        lease = BatchLease(
            Batches(context.store), context.settings.recovery.limit_for(lane), stopping=shutdown.requested
        )
        outcome = send_batch(
            payload.campaign_id,
            payload.first,
            payload.last,
            context.sender,
            options,
            send_pool(settings.concurrency),
            lease,
        )
        log.info(
            "campaign %s %d-%d: %s%s",
            payload.campaign_id,
            payload.first,
            payload.last,
            outcome.statuses,
            f" (stopped: {outcome.stopped})" if outcome.stopped else "",
        )

    @app.task(name=names.CAMPAIGN_SWEEP_TASK, bind=True, ignore_result=True, shared=False)
    def campaign_sweep(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            payload = decode(SweepPayload, args, kwargs)
        except InvalidInput as error:
            return dead_letter(context, names.CAMPAIGN_SWEEP_TASK, args, kwargs, error)
        log.info(
            "campaign %s: %d waiting messages cancelled",
            payload.campaign_id,
            sweep_cancelled(context, payload.campaign_id),
        )

    @app.task(name=names.CAMPAIGN_FROM_GROUPS_TASK, bind=True, ignore_result=True, shared=False)
    def campaign_from_groups(self: Task, *args: Any, **kwargs: Any) -> None:
        context = context_for(self.app)
        try:
            payload = decode(GroupsPayload, args, kwargs)
        except InvalidInput as error:
            return dead_letter(context, names.CAMPAIGN_FROM_GROUPS_TASK, args, kwargs, error)
        phonebook = MessentePhonebookClient.from_settings(context.settings.messente)
        try:
            contacts = phonebook.contacts(payload.group_ids)
        finally:
            phonebook.close()
        # Contact fields are the template's variables (firstName, ...); a contact in several groups
        # is listed once by Messente, and expansion drops any repeat of a number anyway.
        recipients = [{"to": c.phone_number, **contact_to_wire(c)} for c in contacts]
        progress = campaigns_for(context).expand_into(payload.campaign_id, recipients)
        log.info(
            "campaign %s: %d messages from %d contacts", payload.campaign_id, progress.messages, len(contacts)
        )
