"""Every metric smsq exports, as data: name, kind, help, labels, buckets. The recorder, the exporter,
the dashboard and the alert rules (and their test) all read this one table.

Prometheus conventions: base units in names (``_seconds``), counters end in ``_total`` (the
exporter adds it to the family name), labels only take bounded values (lane, provider, channel,
status, error class and code, outcome, kind): never a phone number, a message id or a campaign id.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

Kind = Literal["counter", "histogram", "gauge"]

PREFIX: Final = "smsq_"

# Latency of one provider call: tens of ms on a good day, the read timeout (10 s) on a bad one.
CALL_BUCKETS: Final = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
# Inline waits for the rate limiter are capped by SMSQ_LANES__MAX_INLINE_WAIT (0.5 s by default).
WAIT_BUCKETS: Final = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5)
# Schedule lateness: the release loop runs every 0.2 s; the target is p99 under 1 s.
LATENESS_BUCKETS: Final = (0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0)
# Sent to final: seconds for a delivery report, up to the 72 h poll give-up.
LAG_BUCKETS: Final = (1.0, 5.0, 15.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14400.0, 86400.0, 259200.0)


@dataclass(frozen=True)
class Metric:
    name: str  # without the _total a counter is exposed with
    kind: Kind
    help: str
    labels: tuple[str, ...] = ()
    buckets: tuple[float, ...] = ()

    @property
    def exposed(self) -> tuple[str, ...]:
        """The sample names a query may use."""
        if self.kind == "counter":
            return (f"{self.name}_total",)
        if self.kind == "histogram":
            return tuple(f"{self.name}{suffix}" for suffix in ("_bucket", "_sum", "_count"))
        return (self.name,)


# -- recorded by the processes that see the event (counters and histograms, kept in Redis) --------
MESSAGES = Metric(
    "smsq_messages",
    "counter",
    "Messages that reached sent or a final status, by that status, provider and first channel",
    ("status", "provider", "channel"),
)
PROVIDER_ERRORS = Metric(
    "smsq_provider_errors",
    "counter",
    "Provider answers that were errors, per message, by class (transient, permanent, rate_limited) and code",
    ("provider", "class", "code"),
)
RATE_LIMITED = Metric(
    "smsq_provider_rate_limited",
    "counter",
    "Provider answers that said slow down (HTTP 429 or the provider's own rate-limit code), per message",
    ("provider",),
)
SEND_DURATION = Metric(
    "smsq_send_duration_seconds",
    "histogram",
    "Time one provider send request took (a bulk call counts once)",
    ("provider",),
    CALL_BUCKETS,
)
LIMITER_WAIT = Metric(
    "smsq_limiter_wait_seconds",
    "histogram",
    "Time a send spent waiting inline for the global rate limiter",
    ("provider",),
    WAIT_BUCKETS,
)
LIMITER_DEFERRED = Metric(
    "smsq_limiter_deferred",
    "counter",
    "Sends put back to wait because the rate limiter had no token within the inline wait",
    ("provider",),
)
COST_EVENTS = Metric(
    "smsq_cost_events",
    "counter",
    "Spend-cap warnings (at SMSQ_COST__WARN_AT) and refusals, and SMS-pumping-guard refusals",
    ("event", "cap"),
)
PACING_LATE = Metric(
    "smsq_pacing_late",
    "counter",
    "Times a send could not leave within settings.pacing.late_after of its slot and took a new one",
    ("provider",),
)
SCHEDULE_LATENESS = Metric(
    "smsq_schedule_lateness_seconds",
    "histogram",
    "How long after its time_to_send a scheduled message was handed to the provider",
    (),
    LATENESS_BUCKETS,
)
REPORT_LAG = Metric(
    "smsq_delivery_report_lag_seconds",
    "histogram",
    "Time from sent to a final status, by provider and how it was learnt (poll or report)",
    ("provider", "via"),
    LAG_BUCKETS,
)
CIRCUIT_OPENED = Metric(
    "smsq_circuit_opened", "counter", "Times a provider's circuit breaker opened", ("provider",)
)
RECOVERIES = Metric(
    "smsq_recoveries",
    "counter",
    "Work a lost worker held, published again (message, batch) or settled by lease expiry (lease)",
    ("kind",),
)
CALLBACKS = Metric(
    "smsq_callbacks",
    "counter",
    "Callback attempts to applications, by outcome (delivered, retry, dead)",
    ("outcome",),
)
DEAD_LETTERS_TOTAL = Metric(
    "smsq_dead_letters_written", "counter", "Entries written to the dead-letter list", ()
)

RECORDED: Final = (
    MESSAGES,
    PROVIDER_ERRORS,
    RATE_LIMITED,
    SEND_DURATION,
    LIMITER_WAIT,
    LIMITER_DEFERRED,
    PACING_LATE,
    COST_EVENTS,
    SCHEDULE_LATENESS,
    REPORT_LAG,
    CIRCUIT_OPENED,
    RECOVERIES,
    CALLBACKS,
    DEAD_LETTERS_TOTAL,
)

# -- read from Redis at scrape time (gauges) ------------------------------------------------------
LANE_DEPTH = Metric("smsq_lane_depth", "gauge", "Tasks waiting in a lane's queue", ("lane",))
LANE_OLDEST_AGE = Metric(
    "smsq_lane_oldest_age_seconds",
    "gauge",
    "Age of the oldest task waiting in a lane (0 when the lane is empty)",
    ("lane",),
)
CIRCUIT_OPEN = Metric(
    "smsq_circuit_open", "gauge", "1 while a provider's circuit breaker is open", ("provider",)
)
LIMITER_BACKLOG = Metric(
    "smsq_limiter_backlog_seconds",
    "gauge",
    "How far ahead of now a provider's rate limiter has handed out tokens (0 when idle)",
    ("provider",),
)
SENDING = Metric("smsq_messages_sending", "gauge", "Messages held by a worker with a send lease")
SCHEDULED = Metric(
    "smsq_schedule_entries", "gauge", "Entries in the release schedule (future messages, retries, watches)"
)
POLL_BACKLOG = Metric("smsq_status_poll_backlog", "gauge", "Status polls that are due and not yet claimed")
POLLS_PENDING = Metric(
    "smsq_status_polls_pending", "gauge", "Sent messages waiting for a final status (poll schedule entries)"
)
CAMPAIGNS = Metric("smsq_campaigns", "gauge", "Campaigns not yet tidied away, by state", ("state",))
CAMPAIGN_MESSAGES = Metric(
    "smsq_campaign_messages",
    "gauge",
    "Messages of running and paused campaigns, by status (campaign progress)",
    ("status",),
)
DEAD_LETTERS = Metric(
    "smsq_dead_letters", "gauge", "Entries in the dead-letter list (kept: the newest 10,000)"
)
CALLBACK_BACKLOG = Metric(
    "smsq_callback_backlog", "gauge", "Callbacks due and not yet claimed by a delivery (events waiting)"
)
CALLBACK_DEAD = Metric("smsq_callbacks_dead", "gauge", "Callback events dead-lettered (kept for replay)")
SCRAPE_ERRORS = Metric(
    "smsq_exporter_errors", "counter", "Scrapes of a live figure that failed (Redis unreachable)", ("source",)
)

LIVE: Final = (
    LANE_DEPTH,
    LANE_OLDEST_AGE,
    CIRCUIT_OPEN,
    LIMITER_BACKLOG,
    SENDING,
    SCHEDULED,
    POLL_BACKLOG,
    POLLS_PENDING,
    CAMPAIGNS,
    CAMPAIGN_MESSAGES,
    DEAD_LETTERS,
    CALLBACK_BACKLOG,
    CALLBACK_DEAD,
)

ALL: Final = RECORDED + LIVE + (SCRAPE_ERRORS,)


def exported_names() -> frozenset[str]:
    """Every sample name smsq's exporter can produce (what dashboards and alerts may query)."""
    return frozenset(name for metric in ALL for name in metric.exposed)
