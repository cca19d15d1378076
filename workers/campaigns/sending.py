"""Sending a campaign batch: positions first..last of one campaign, in chunks (see
``smsq.workers.sending.batch``). Between chunks the campaign's status is read again, so a pause stops new
sends within a chunk's time (well under a second). Each chunk is started before the previous one is
finished (recorded), so with async singles the connections stay busy across chunk boundaries."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from smsq.producers.campaigns.batches import Batch, Batches
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.keys import CampaignKeys
from smsq.workers.sending.batch import BatchOptions, BatchOutcome, start_chunk
from smsq.workers.sending.single import Sender

__all__ = ["BatchLease", "BatchOptions", "BatchOutcome", "send_batch"]


@dataclass(frozen=True)
class BatchLease:
    """The batch's lease (``smsq.producers.campaigns.batches``): renewed with every chunk for
    ``seconds``, dropped when the batch is done, handed back when ``stopping()`` says stop."""

    batches: Batches
    seconds: float
    stopping: Callable[[], bool] = lambda: False


def send_batch(
    campaign_id: str,
    first: int,
    last: int,
    sender: Sender,
    options: BatchOptions,
    pool: ThreadPoolExecutor | None,
    lease: BatchLease | None = None,
) -> BatchOutcome:
    keys = CampaignKeys(sender.store.keys, campaign_id)
    batch = Batch(campaign_id, first, last)
    outcome = BatchOutcome()
    unfinished: Callable[[], None] | None = None
    done = True  # False: the lease stays (handed back, or an error: it comes due again)
    try:
        for start in range(first, last + 1, options.chunk):
            if lease is not None and lease.stopping():
                lease.batches.hand_back(batch, start)  # published again at once, by beat
                outcome.stopped, done = "shutdown", False
                return outcome
            status = _status_and_renew(sender, keys.campaign, batch, lease)
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
    except BaseException:
        done = False
        raise
    finally:
        # Whatever happens, the chunk on its way is recorded before the task ends.
        if unfinished is not None:
            unfinished()
        if lease is not None and done:
            lease.batches.finish(batch)
    return outcome


def _status_and_renew(
    sender: Sender, campaign_key: str, batch: Batch, lease: BatchLease | None
) -> str | None:
    """The campaign's status, and the batch's lease renewed, in one round trip."""
    with sender.store.redis.pipeline(transaction=False) as pipe:
        pipe.hget(campaign_key, "status")
        if lease is not None:
            until = sender.store.now_ms() + int(lease.seconds * 1000)
            pipe.zadd(lease.batches.key, {batch.member: until}, xx=True)
        status = pipe.execute()[0]
    return None if status is None else str(status)
