"""Recording a chunk's outcomes through a Redis outage: the answers are in, and losing them would
turn every message of the chunk into `unknown` when its lease runs out (bench/faults.py scenario 2:
130 of 318 at a Redis restart, every one of them received by the provider).

The outcomes are written again, with a short backoff, until they are written or the lease is over.
Writing again is safe: each transition is compare-and-set on the lease token and the `sending`
status, so one already applied (before the connection broke) is refused the second time, and once
the lease has run out and the release loop has settled the message, the token no longer matches.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from typing import Any

import redis

from smsq.producers.core.store import MessageStore, Transition

log = logging.getLogger(__name__)

FIRST_DELAY_SECONDS = 0.2
MAX_DELAY_SECONDS = 2.0
UNREACHABLE = (redis.ConnectionError, redis.TimeoutError)


def write_outcomes(
    store: MessageStore,
    finishes: Sequence[tuple[str, str, dict[str, Any]]],
    *,
    within: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[Transition]:
    """``store.transition_many(finishes)``, tried again while Redis is unreachable, for up to
    ``within`` seconds (the send lease); then the last error is raised."""
    deadline = clock() + within
    delay = FIRST_DELAY_SECONDS
    while True:
        try:
            return store.transition_many(finishes)
        except UNREACHABLE as error:
            if clock() + delay > deadline:
                raise
            log.warning("recording %d outcomes: Redis unreachable (%s); again in %.1f s",
                        len(finishes), type(error).__name__, delay)  # fmt: skip
            sleep(delay)
            delay = min(delay * 2, MAX_DELAY_SECONDS)
