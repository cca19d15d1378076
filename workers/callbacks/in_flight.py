"""Callback deliveries a worker process has handed to its event loop and not recorded yet: what a
stopping process waits for and then hands back (graceful shutdown, issue 12).

A task hands its events to the loop and ends at once, so Celery's warm shutdown has nothing to wait
for: without this, a stopping process dropped its requests and their events stayed claimed until the
claim lease ran out (``SMSQ_CALLBACKS__CLAIM_LEASE_SECONDS``). Now the process, as it exits, waits up
to ``SMSQ_CALLBACKS__SHUTDOWN_WAIT`` for the answers (recorded as usual), then hands every event still
out back: due again at once, no attempt counted, its URL slot freed. Whichever comes first for a
batch, its answers or the hand-back, is the only one recorded. A handed-back request may still reach
the receiver; the next delivery carries the same ``webhook-id``, so the receiver drops the repeat.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass

from smsq.workers.callbacks.queue import Claimed, Finished

HANDBACK = "handback"  # finish.lua: pending again, due at once, no attempt counted


@dataclass(frozen=True)
class Batch:
    decided: list[Finished]  # outcomes decided without a request (no URL, a URL that answered 410)
    out: list[Claimed]  # events whose requests are on the loop


class InFlight:
    def __init__(self) -> None:
        self._changed = threading.Condition()
        self._batches: dict[int, Batch] = {}
        self._tickets = itertools.count()

    def add(self, batch: Batch) -> int:
        with self._changed:
            ticket = next(self._tickets)
            self._batches[ticket] = batch
            return ticket

    def settle(self, ticket: int) -> bool:
        """The batch's answers are in: True if they are to be recorded (it was not handed back)."""
        with self._changed:
            found = self._batches.pop(ticket, None) is not None
            self._changed.notify_all()
            return found

    def wait(self, timeout: float) -> bool:
        """Until every batch is settled or ``timeout`` seconds passed; True when none is left."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._batches, timeout=timeout)

    def take_all(self) -> list[Batch]:
        with self._changed:
            batches = list(self._batches.values())
            self._batches.clear()
            return batches

    def __len__(self) -> int:
        with self._changed:
            return sum(len(batch.out) for batch in self._batches.values())


def handback(claim: Claimed, now_ms: int) -> Finished:
    note = "handed back: its worker stopped"
    return Finished(claim.event_id, claim.claim, claim.url_id, HANDBACK, note, now_ms)
