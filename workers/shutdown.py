"""Graceful shutdown of a worker: SIGTERM (a deploy, `docker stop`, Kubernetes) finishes or hands back
the work in flight within a bounded time, so a clean restart leaves no message `unknown`.

Celery's main process answers SIGTERM with a warm shutdown: it stops taking tasks, hands every task it
had reserved but not started back to the broker (kombu restores unacked messages when it closes its
channel), and waits for the running ones. The running ones must end soon, so each pool process learns
of the shutdown too: the main process forwards SIGTERM to its pool processes (a container's stop
signal reaches only PID 1), whose handler only sets ``requested()``; a later SIGTERM, from Celery's
own cold shutdown or an impatient supervisor, ends the process as usual. Then:

- a send in flight finishes: its request is bounded by the provider timeouts, and its outcome is
  recorded, so its lease never has to expire;
- a campaign batch stops at its next chunk (``SMSQ_CAMPAIGNS__CHUNK`` messages, well under a second
  of sending) and hands the rest of its positions back as a batch of its own, which beat publishes at
  once (``smsq.producers.campaigns.batches``).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from types import FrameType

log = logging.getLogger(__name__)

_requested = threading.Event()
# A stop signalled to the whole process group reaches a pool process twice: directly, and forwarded by
# the main process. A second SIGTERM this soon after the first is that same stop, not a second one.
SAME_STOP_SECONDS = 2.0


def requested() -> bool:
    """True once this process was asked to stop (SIGTERM)."""
    return _requested.is_set()


def request() -> None:
    _requested.set()


def reset() -> None:
    _requested.clear()


_installed_in: list[
    int
] = []  # the pid it was installed in (a fork inherits the list, not the handler's intent)


def install_in_pool_process() -> None:
    """In a pool process (billiard puts its own exit-at-once handler on SIGTERM): the first SIGTERM
    only asks the running task to wind down; a later one ends the process. Once per process."""
    if _installed_in == [os.getpid()]:
        return
    _installed_in[:] = [os.getpid()]
    reset()
    first: list[float] = []

    def on_sigterm(signum: int, frame: FrameType | None) -> None:
        now = time.monotonic()
        if not first:
            first.append(now)
            _requested.set()
            log.info("asked to stop: finishing the work in hand")
        elif now - first[0] > SAME_STOP_SECONDS:
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            os.kill(os.getpid(), signal.SIGTERM)

    signal.signal(signal.SIGTERM, on_sigterm)


def forward_to_pool(pids: list[int]) -> None:
    """From the main process, when its warm shutdown starts: tell every pool process."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except (ProcessLookupError, PermissionError):
            continue
