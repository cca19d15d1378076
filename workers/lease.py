"""One active beat among many: a lease in the state store (``<p>:beat:lease``).

Every `smsq beat` process may run, on as many hosts as wanted; the one holding the lease does the
work (the release loop, the status-poll claimer, Celery beat's periodic tasks), the others stand by.
The holder renews the lease every third of its length; a beat that dies (SIGKILL, a lost host) stops
renewing, and a standby takes the lease over once it runs out (``SMSQ_BEAT__LEASE_SECONDS``, 10 s).

The lease is redis-py's ``Lock`` (SET NX PX with a random token; renewal and release are scripts that
check the token), not a hand-written one. Why a lease at all: the release loop's own steps are safe to
run twice (every claim is an atomic script, every send a compare-and-set), but two beats would double
Celery beat's periodic tasks and the Redis calls of every pass, and an operator reading the logs should
see one beat at work. A lease can still be held by two beats for a moment (a holder paused longer than
the lease, or a Sentinel failover losing the last write): that costs duplicate passes, never a
duplicate send, for the reason above.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import threading
from typing import Any

import redis
from celery.beat import PersistentScheduler
from redis.exceptions import LockError

log = logging.getLogger(__name__)


class BeatLease:
    def __init__(self, client: redis.Redis, key: str, *, seconds: float) -> None:
        self.seconds = seconds
        self.name = f"{socket.gethostname()}:{os.getpid()}"
        self._lock = client.lock(key, timeout=seconds, blocking=False, thread_local=False)
        self._held = threading.Event()

    def held(self) -> bool:
        return self._held.is_set()

    def step(self) -> bool:
        """Renew the lease if held, else try to take it. Returns whether it is held now."""
        was = self.held()
        try:
            if was:
                self._lock.reacquire()  # LockNotOwnedError once another beat took it over
            elif self._lock.acquire(blocking=False, token=self.name.encode() + os.urandom(8).hex().encode()):
                log.warning("beat %s took the lease: its release loop runs now", self.name)
                self._held.set()
        except LockError:
            log.warning("beat %s lost the lease: standing by", self.name)
            self._held.clear()
        except redis.RedisError:
            # Unreachable: keep working only while the lease can still be ours.
            log.exception("beat %s could not renew the lease", self.name)
            self._held.clear()
        return self.held()

    def run(self, stop: threading.Event) -> None:
        """Until ``stop``: renew or try to take the lease every third of its length."""
        while not stop.is_set():
            self.step()
            stop.wait(self.seconds / 3)
        self.release()

    def release(self) -> None:
        if self.held():
            self._held.clear()
            with contextlib.suppress(LockError, redis.RedisError):
                self._lock.release()  # a clean stop hands the lease on at once


def start_lease_thread(lease: BeatLease, stop: threading.Event) -> threading.Thread:
    lease.step()  # before the workers' threads start: they look at it on their first pass
    thread = threading.Thread(target=lease.run, args=(stop,), name="smsq-beat-lease", daemon=True)
    thread.start()
    return thread


def leased_scheduler(lease: BeatLease) -> type[PersistentScheduler]:
    """Celery beat's scheduler, sending a due periodic task only while ``lease`` is held (the entry
    still moves on to its next run, so a standby does not send a backlog when it takes over)."""

    class LeasedScheduler(PersistentScheduler):
        def apply_entry(self, entry: Any, producer: Any = None) -> None:
            if lease.held():
                super().apply_entry(entry, producer=producer)

    return LeasedScheduler
