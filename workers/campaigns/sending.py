"""Sending a campaign batch: positions first..last of one campaign, in chunks (see
``smsq.workers.sending.batch``). Between chunks the campaign's status is read again, so a pause stops new
sends within a chunk's time (well under a second). Each chunk is started before the previous one is
finished (recorded), so with async singles the connections stay busy across chunk boundaries."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from smsq.producers.campaigns.model import message_id
from smsq.producers.core.keys import CampaignKeys
from smsq.workers.sending.batch import BatchOptions, BatchOutcome, start_chunk
from smsq.workers.sending.single import Sender

__all__ = ["BatchOptions", "BatchOutcome", "send_batch"]


def send_batch(
    campaign_id: str,
    first: int,
    last: int,
    sender: Sender,
    options: BatchOptions,
    pool: ThreadPoolExecutor | None,
) -> BatchOutcome:
    keys = CampaignKeys(sender.store.keys, campaign_id)
    outcome = BatchOutcome()
    unfinished: Callable[[], None] | None = None
    try:
        for start in range(first, last + 1, options.chunk):
            status = sender.store.redis.hget(keys.campaign, "status")
            if status == "paused":
                sender.store.redis.rpush(keys.held, f"{start}:{last}")
                outcome.held_from, outcome.stopped = start, "paused"
                return outcome
            if status != "running":
                # cancelled (the sweep marks what is left), or gone (expired, or removed after a
                # failed expansion)
                outcome.stopped = str(status or "gone")
                return outcome
            positions = range(start, min(last, start + options.chunk - 1) + 1)
            started = start_chunk(
                [message_id(campaign_id, p) for p in positions], sender, options, pool, outcome
            )
            if unfinished is not None:
                unfinished()
            unfinished = started
    finally:
        # Whatever happens, the chunk on its way is recorded before the task ends.
        if unfinished is not None:
            unfinished()
    return outcome
