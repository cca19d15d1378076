"""Counters and histograms recorded by any smsq process, kept in Redis so one exporter anywhere sees
the sum over every process and host.

Why Redis and not prometheus_client's multiprocess mode: a Celery prefork child's counts must
reach whatever serves /metrics, and in smsq that is ``smsq api`` or ``smsq metrics``, usually on
another host or container than the workers. Multiprocess mode sums the mmap files of one host's
processes (a shared directory, ``PROMETHEUS_MULTIPROC_DIR`` set before import, dead pids' files to
clean), so each worker host would need its own exporter and the API could not show the whole
system. In Redis, counters outlive a worker's restart, and the live figures (lane depth, circuits)
come from the same place. The cost: a recording is one append to a deque in the process (no I/O,
no lock), and a thread folds them into increments and sends those every ``flush_interval`` in one
pipeline; a process killed with SIGKILL loses at most that interval's counts
(bench/telemetry_cost.py measures each way).

Why no lock on the recording side: the event loop that paces requests at the wire records each
request's latency. With a lock shared with the sending thread, a thread preempted while holding it
(by the GIL's switch interval or by the OS on a busy machine) stalled the loop until it ran again, and
the loop's requests went out late for their slots: bench/throughput.py --metrics-compare showed
metrics on twice as slow as off on a loaded machine. ``deque.append`` is atomic under the GIL.

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
from collections import deque
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
        self._lock = threading.Lock()  # between flushes (the thread, at exit, by hand); never recording
        # (metric, label values, amount or observed value, observed?) as recorded, folded at flush
        self._events: deque[tuple[Metric, Sequence[object], float, bool]] = deque()
        self._pending: dict[tuple[str, str], float] = {}
        self._series: dict[str, dict[tuple[object, ...], str]] = {}
        self._pid = os.getpid()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    # -- recording (no I/O, no lock) --------------------------------------------------------------

    def inc(self, metric: Metric, labels: Sequence[object] = (), amount: float = 1.0) -> None:
        if amount == 0:
            return
        if len(labels) != len(metric.labels):  # checked here, not at the fold: fails where it is made
            raise _wrong_labels(metric, labels)
        self._events.append((metric, labels, amount, False))
        if self._thread is None or self._pid != os.getpid():
            self._ensure_thread()

    def observe(self, metric: Metric, labels: Sequence[object], value: float) -> None:
        if len(labels) != len(metric.labels):
            raise _wrong_labels(metric, labels)
        self._events.append((metric, labels, value, True))
        if self._thread is None or self._pid != os.getpid():
            self._ensure_thread()

    def _fold(self) -> None:
        """Turn the recorded events into pending increments (under the flush lock)."""
        events, add = self._events, self._add
        while events:
            metric, labels, value, observed = events.popleft()
            key = self._series_of(metric, labels)
            if not observed:
                add(metric.name, key, value)
                continue
            index = bisect.bisect_left(metric.buckets, value)  # le semantics: value <= bound
            base = key + FIELD_SEPARATOR
            add(metric.name, base + str(index), 1)
            add(metric.name, base + SUM_FIELD, value)
            add(metric.name, base + COUNT_FIELD, 1)

    def _add(self, name: str, field: str, amount: float) -> None:
        slot = (name, field)
        self._pending[slot] = self._pending.get(slot, 0.0) + amount

    def _series_of(self, metric: Metric, labels: Sequence[object]) -> str:
        # The label sets seen so far map straight to their field: no cleaning per event.
        known = self._series.setdefault(metric.name, {})
        raw = tuple(labels)
        key = known.get(raw)
        if key is not None:
            return key
        if len(known) >= self.max_series:
            return series_field([OTHER] * len(raw))
        key = known[raw] = series_field([clean_label(value) for value in raw])
        return key

    # -- sending --------------------------------------------------------------------------------

    def flush(self) -> int:
        """Send what was recorded since the last flush; returns how many fields were sent. On a
        Redis error the increments are kept for the next try."""
        with self._lock:
            self._fold()
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
        if self._pid != os.getpid():  # forked (and missed by the at-fork hook): not our buffer
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


def _wrong_labels(metric: Metric, labels: Sequence[object]) -> ValueError:
    return ValueError(f"{metric.name} takes labels {metric.labels}, got {len(labels)} values")


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
