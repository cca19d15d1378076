"""Campaign tasks: thin. Send a batch of positions, sweep a cancelled campaign, expand from groups."""

from __future__ import annotations

import logging
import os
import sys

from celery import Celery

from smsq.config import contract as names
from smsq.config.contract import CampaignFromGroupsPayload, CampaignSweepPayload, SendBatchPayload
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.batches import Batches
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.keys import CampaignKeys
from smsq.workers import shutdown
from smsq.workers.campaigns.sending import BatchLease, BatchOptions, send_batch
from smsq.workers.context import WorkerContext
from smsq.workers.providers.base import LoopSingles
from smsq.workers.providers.messente.phonebook import MessentePhonebookClient, contact_to_wire
from smsq.workers.sending.batch import send_pool
from smsq.workers.sending.event_loop import LOOP_SWITCH_INTERVAL, LoopClients
from smsq.workers.sending.loop_http import AsyncHttp
from smsq.workers.tasks import smsq_task

log = logging.getLogger(__name__)
SWEEP_CHUNK = 1000


_async: dict[int, LoopClients] = {}


def async_http_for(context: WorkerContext) -> LoopClients | None:
    """The event loop clients for async singles (SMSQ_CAMPAIGNS__ASYNC_SEND), one per provider a
    process sends singles to, made when first used."""
    settings = context.settings
    if not settings.campaigns.async_send or settings.campaigns.use_bulk:
        return None
    pid = os.getpid()
    if pid not in _async:
        sys.setswitchinterval(LOOP_SWITCH_INTERVAL)
        _async[pid] = LoopClients(lambda provider: loop_client(context, provider))
    return _async[pid]


def loop_client(context: WorkerContext, provider: LoopSingles) -> AsyncHttp:
    settings, telemetry = context.settings, context.telemetry
    name = provider.name
    return AsyncHttp.for_provider(
        provider,
        max_connections=settings.campaigns.concurrency,
        late_after=settings.pacing.late_after,
        on_done=(lambda seconds: telemetry.send_seconds(name, seconds)) if telemetry.enabled else None,
    )


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
    context.redis.delete(keys.held, keys.held_ids)  # the held messages were cancelled above
    return cancelled


def register_campaign_tasks(app: Celery) -> None:
    @smsq_task(app, names.SEND_BATCH_TASK)
    def send_batch_task(context: WorkerContext, payload: SendBatchPayload) -> None:
        settings = context.settings.campaigns
        options = BatchOptions(
            chunk=settings.chunk,
            use_bulk=settings.use_bulk,
            bulk_size=settings.bulk_size,
            concurrency=settings.concurrency,
            async_http=async_http_for(context),
            windows=context.windows,
        )
        priority = context.redis.hget(context.store.keys.campaign(payload.campaign_id), "priority")
        lane = names.LANE_FOR_PRIORITY.get(str(priority), names.LOW)
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

    @smsq_task(app, names.CAMPAIGN_SWEEP_TASK)
    def campaign_sweep(context: WorkerContext, payload: CampaignSweepPayload) -> None:
        log.info(
            "campaign %s: %d waiting messages cancelled",
            payload.campaign_id,
            sweep_cancelled(context, payload.campaign_id),
        )

    @smsq_task(app, names.CAMPAIGN_FROM_GROUPS_TASK)
    def campaign_from_groups(context: WorkerContext, payload: CampaignFromGroupsPayload) -> None:
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
