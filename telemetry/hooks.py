"""The seams' side of metrics: one object, passed in (``Sender.telemetry``, the beat loops, the
settler), with one method per thing worth counting. Nothing here does I/O; a ``Telemetry()``
without a recorder (metrics off, unit tests) does nothing at all.

Callbacks (``workers/callbacks/``) call ``telemetry.callback(outcome)`` once per delivery attempt
(``delivered``, ``retry``, ``dead``); their backlog is read at scrape time (``smsq.telemetry.live``).
"""

from __future__ import annotations

import redis

from smsq.config.telemetry_settings import MetricsSettings
from smsq.producers.core.keys import Keys
from smsq.telemetry import names
from smsq.telemetry.recorder import Recorder

NO_PROVIDER = "none"


class Telemetry:
    def __init__(self, recorder: Recorder | None = None) -> None:
        self.recorder = recorder

    @property
    def enabled(self) -> bool:
        return self.recorder is not None

    # -- sends ----------------------------------------------------------------------------------

    def message(self, status: str, provider: str | None, channel: str, count: int = 1) -> None:
        """A message reached ``status`` (sent, or a final status) at ``provider`` (None: no call)."""
        if self.recorder is not None:
            self.recorder.inc(names.MESSAGES, (status, provider or NO_PROVIDER, channel), count)

    def provider_error(self, provider: str, error_class: str, code: str) -> None:
        if self.recorder is not None:
            self.recorder.inc(names.PROVIDER_ERRORS, (provider, error_class, code))
            if error_class == "rate_limited":
                self.recorder.inc(names.RATE_LIMITED, (provider,))

    def send_seconds(self, provider: str, seconds: float) -> None:
        if self.recorder is not None:
            self.recorder.observe(names.SEND_DURATION, (provider,), seconds)

    def limiter_wait(self, provider: str, seconds: float) -> None:
        if self.recorder is not None:
            self.recorder.observe(names.LIMITER_WAIT, (provider,), seconds)

    def limiter_deferred(self, provider: str, count: int = 1) -> None:
        if self.recorder is not None:
            self.recorder.inc(names.LIMITER_DEFERRED, (provider,), count)

    def pacing_late(self, provider: str, count: int = 1) -> None:
        if self.recorder is not None:
            self.recorder.inc(names.PACING_LATE, (provider,), count)

    def schedule_lateness(self, seconds: float) -> None:
        if self.recorder is not None:
            self.recorder.observe(names.SCHEDULE_LATENESS, (), max(0.0, seconds))

    def circuit_opened(self, provider: str) -> None:
        if self.recorder is not None:
            self.recorder.inc(names.CIRCUIT_OPENED, (provider,))

    # -- after the send -------------------------------------------------------------------------

    def settled(self, status: str, provider: str, channel: str, via: str, lag_seconds: float | None) -> None:
        """A poll or a delivery report moved a message to its final ``status``."""
        if self.recorder is None:
            return
        self.recorder.inc(names.MESSAGES, (status, provider or NO_PROVIDER, channel))
        if lag_seconds is not None:
            self.recorder.observe(names.REPORT_LAG, (provider or NO_PROVIDER, via), max(0.0, lag_seconds))

    def recovered(self, kind: str, count: int = 1) -> None:
        """Work of a lost worker: ``message`` or ``batch`` published again, ``lease`` expired."""
        if self.recorder is not None and count:
            self.recorder.inc(names.RECOVERIES, (kind,), count)

    def callback(self, outcome: str) -> None:
        if self.recorder is not None:
            self.recorder.inc(names.CALLBACKS, (outcome,))

    # -- lifetime -------------------------------------------------------------------------------

    def flush(self) -> None:
        if self.recorder is not None:
            self.recorder.flush()

    def close(self) -> None:
        if self.recorder is not None:
            self.recorder.close()


OFF = Telemetry()


def build_telemetry(settings: MetricsSettings, client: redis.Redis, prefix: str) -> Telemetry:
    """The process's telemetry: a recorder on ``client`` when metrics are on, else ``OFF``."""
    if not settings.enabled:
        return OFF
    return Telemetry(
        Recorder(client, Keys(prefix), flush_interval=settings.flush_interval, max_series=settings.max_series)
    )
