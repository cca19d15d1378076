"""Publishing stored messages due now. A record is stored with its outbox entry (a schedule entry
``PUBLISH_GRACE_MS`` ahead) in the same script, so publishing is only the fast way: once a task is
published its entry becomes the message's watch (the recovery deadline); if the publish fails, or
the producer dies first, the release loop publishes it from the outbox, and the message is accepted
all the same."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING

from smsq.config import contract as names

if TYPE_CHECKING:
    from smsq.producers.client import Smsq

log = logging.getLogger(__name__)

# Messages published due now per SEND_MANY task by send_many: what the release loop hands a worker.
SEND_GROUP = 50


def publish_one(smsq: Smsq, message_id: str, lane: str, outbox_ms: int) -> None:
    """Publish one stored message as a SEND task; its outbox entry becomes its watch."""
    try:
        smsq.publisher.publish(names.SEND_TASK, names.SendPayload(message_id=message_id), lane)
        published_ms = smsq.store.now_ms()  # after the publish: never earlier than the task's stamp
        deadline_ms = published_ms + int(smsq.recovery.limit_for(lane) * 1000)
        smsq.store.mark_published([(message_id, outbox_ms, deadline_ms)], published_ms)
    except Exception as error:  # the record and its outbox entry are already durable
        log.warning(
            "message %s is stored; its publish failed (%s): the release loop does it", message_id, error
        )


def publish_many(smsq: Smsq, due: Sequence[tuple[str, str, int]]) -> None:
    """Publish stored messages, each (message id, lane, outbox ms), in groups per lane (SEND_MANY,
    ``SEND_GROUP`` a task, all in one round trip), then turn their outbox entries into watches."""
    if not due:
        return
    by_lane: dict[str, list[str]] = {}
    for message_id, lane, _ in due:
        by_lane.setdefault(lane, []).append(message_id)
    tasks = [
        (names.SEND_MANY_TASK, names.SendManyPayload(message_ids=ids[start : start + SEND_GROUP]), lane)
        for lane, ids in by_lane.items()
        for start in range(0, len(ids), SEND_GROUP)
    ]
    try:
        smsq.publisher.publish_many(tasks)
        published_ms = smsq.store.now_ms()
        limits_ms = {lane: int(smsq.recovery.limit_for(lane) * 1000) for lane in by_lane}
        smsq.store.mark_published(
            [(message_id, outbox_ms, published_ms + limits_ms[lane]) for message_id, lane, outbox_ms in due],
            published_ms,
        )
    except Exception as error:  # the records and their outbox entries are already durable
        log.warning(
            "%d messages are stored; their publish failed (%s): the release loop does it", len(due), error
        )
