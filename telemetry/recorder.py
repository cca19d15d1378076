"""Counters and histograms recorded by any smsq process, kept in Redis so one exporter anywhere sees
the sum over every process and host.

Why Redis and not prometheus_client's multiprocess mode: a Celery prefork child's counts must
reach whatever serves /metrics, and in smsq that is ``smsq api`` or ``smsq metrics``, usually on
another host or container than the workers. Multiprocess mode sums the mmap files of one host's
processes (a shared directory, ``PROMETHEUS_MULTIPROC_DIR`` set before import, dead pids' files to
clean), so each worker host would need its own exporter and the API could not show the whole
system. In Redis, counters outlive a worker's restart, and the live figures (lane depth, circuits)
come from the same place. The cost: a recording is a dict update in the process (no I/O), and a
thread sends the increments every ``flush_interval`` in one pipeline; a process killed with SIGKILL
loses at most that interval's counts (bench/telemetry_cost.py measures each way).

Storage: one hash per metric, ``<prefix>:metrics:<name>``; a counter's field is its label values
joined by ``|``; a histogram's fields are ``<labels>#<bucket index>`` (not cumulative), ``#sum`` and
``#count``. Label values are cut to a safe alphabet and length, and each process records at most
``max_series`` label sets per metric (the rest as ``other``), so no key grows without bound.
"""

from __future__ import annotations

import atexit
import bisect
import logging
import os
import re
import threading
import weakref
from collections.abc import Sequence

import redis

from smsq.producers.core.keys import Keys
from smsq.telemetry.names import Metric

log = logging.getLogger(__name__)

LABEL_SEPARATOR = "|"
FIELD_SEPARATOR = "#"
SUM_FIELD = "sum"
COUNT_FIELD = "count"
OTHER = "other"
# A label value outside this alphabet, or longer, is cut: an error code or provider word is never
# a way to smuggle unbounded text (or a separator) into a series name.
_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
MAX_LABEL_CHARS = 40
DEFAULT_MAX_SERIES = 200

_live: weakref.WeakSet[Recorder] = weakref.WeakSet()


def clean_label(value: object) -> str:
    text = _UNSAFE.sub("_", str(value))[:MAX_LABEL_CHARS]
    return text or "none"


def series_field(values: Sequence[str]) -> str:
    return LABEL_SEPARATOR.join(values)


class Recorder:
    """Buffers increments in the process; ``flush`` (called by its thread, at exit, or by hand)
    sends them to Redis in one pipeline. Safe across fork: a child starts with an empty buffer and
    its own thread (the parent flushes what it recorded itself)."""

    def __init__(
        self,
        client: redis.Redis,
        keys: Keys,
        *,
        flush_interval: float = 1.0,
        max_series: int = DEFAULT_MAX_SERIES,
        background: bool = True,
    ) -> None:
        self.redis = client
        self.keys = keys
        self.flush_interval = flush_interval
        self.max_series = max_series
        self.background = background
        self._reset()
        _live.add(self)

    def _reset(self) -> None:
        self._lock = threading.Lock()
        self._pending: dict[tuple[str, str], float] = {}
        self._series: dict[str, dict[tuple[object, ...], str]] = {}
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- recording (no I/O) ---------------------------------------------------------------------

    def inc(self, metric: Metric, labels: Sequence[object] = (), amount: float = 1.0) -> None:
        if amount == 0:
            return
        with self._lock:
            key = self._series_of(metric, labels)
            self._add(metric.name, key, amount)
        self._ensure_thread()

    def observe(self, metric: Metric, labels: Sequence[object], value: float) -> None:
        index = bisect.bisect_left(metric.buckets, value)  # le semantics: value <= bound
        with self._lock:
            key = self._series_of(metric, labels)
            base = key + FIELD_SEPARATOR
            self._add(metric.name, base + str(index), 1)
            self._add(metric.name, base + SUM_FIELD, value)
            self._add(metric.name, base + COUNT_FIELD, 1)
        self._ensure_thread()

    def _add(self, name: str, field: str, amount: float) -> None:
        slot = (name, field)
        self._pending[slot] = self._pending.get(slot, 0.0) + amount

    def _series_of(self, metric: Metric, labels: Sequence[object]) -> str:
        # The label sets seen so far map straight to their field: no cleaning on the hot path.
        known = self._series.setdefault(metric.name, {})
        raw = tuple(labels)
        key = known.get(raw)
        if key is not None:
            return key
        if len(raw) != len(metric.labels):
            raise ValueError(f"{metric.name} takes labels {metric.labels}, got {len(raw)} values")
        if len(known) >= self.max_series:
            return series_field([OTHER] * len(raw))
        key = known[raw] = series_field([clean_label(value) for value in raw])
        return key

    # -- sending --------------------------------------------------------------------------------

    def flush(self) -> int:
        """Send what was recorded since the last flush; returns how many fields were sent. On a
        Redis error the increments are kept for the next try."""
        with self._lock:
            pending, self._pending = self._pending, {}
        if not pending:
            return 0
        try:
            with self.redis.pipeline(transaction=False) as pipe:
                for (name, field), amount in pending.items():
                    if amount == int(amount):
                        pipe.hincrby(self.keys.metrics(name), field, int(amount))
                    else:
                        pipe.hincrbyfloat(self.keys.metrics(name), field, amount)
                pipe.execute()
        except redis.RedisError as error:
            log.warning("metrics not sent to Redis (kept for the next try): %s", type(error).__name__)
            with self._lock:
                for slot, amount in pending.items():
                    self._pending[slot] = self._pending.get(slot, 0.0) + amount
            return 0
        return len(pending)

    def _ensure_thread(self) -> None:
        if not self.background:
            return
        if self._pid != os.getpid():  # forked: the parent's buffer and thread are not ours
            self._reset()
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="smsq-metrics", daemon=True)
                    self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.flush_interval):
            self.flush()

    def close(self) -> None:
        self._stop.set()
        if self._pid == os.getpid():
            self.flush()


def flush_all() -> None:
    """Flush every recorder of this process (a pool process about to exit)."""
    for recorder in list(_live):
        if recorder._pid == os.getpid():
            recorder.flush()


def _after_fork_in_child() -> None:
    for recorder in list(_live):
        recorder._reset()


os.register_at_fork(after_in_child=_after_fork_in_child)
atexit.register(flush_all)
