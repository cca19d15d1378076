"""The exporter: a prometheus_client collector that reads, at each scrape, the counters every process
recorded into Redis (``smsq.telemetry.recorder``) and the live figures (``smsq.telemetry.live``).
Any number of exporters can serve the same figures (the API's /metrics, ``smsq metrics``): nothing
is held here between scrapes.

    from smsq.telemetry.exporter import metrics_app, metrics_endpoint
    app.add_route("/metrics", metrics_endpoint(settings))   # smsq api does this
    asgi = metrics_app(settings)                              # or a whole ASGI app
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping
from typing import Any

import redis
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    generate_latest,
    make_asgi_app,
    make_wsgi_app,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from smsq.config.settings import Settings
from smsq.producers.core.keys import Keys
from smsq.telemetry import names
from smsq.telemetry.live import LiveReader, Snapshot, reader_for
from smsq.telemetry.recorder import COUNT_FIELD, FIELD_SEPARATOR, LABEL_SEPARATOR, SUM_FIELD

log = logging.getLogger(__name__)


class SmsqCollector(Collector):
    def __init__(self, client: redis.Redis, live: LiveReader, prefix: str) -> None:
        """``client``: the state store's Redis (decode_responses=True)."""
        self.client = client
        self.live = live
        self.keys = Keys(prefix)
        self.errors: dict[str, int] = {}

    def describe(self) -> list[Metric]:
        return []  # collected fresh at each scrape; nothing to check at registration

    def collect(self) -> Iterator[Metric]:
        yield from self._guarded("recorded", self._recorded)
        yield from self._guarded("live", self._live)
        errors = CounterMetricFamily(names.SCRAPE_ERRORS.name, names.SCRAPE_ERRORS.help, labels=["source"])
        for source, count in sorted(self.errors.items()):
            errors.add_metric([source], count)
        yield errors

    def _guarded(self, source: str, families: Callable[[], list[Metric]]) -> Iterator[Metric]:
        # A scrape with Redis away still answers (with the error counted), so the target stays up
        # and the alert on smsq_exporter_errors_total can say why the figures are missing.
        try:
            yield from families()
        except redis.RedisError as error:
            self.errors[source] = self.errors.get(source, 0) + 1
            log.warning("metrics: cannot read %s figures from Redis: %s", source, type(error).__name__)

    # -- recorded counters and histograms -------------------------------------------------------

    def _recorded(self) -> list[Metric]:
        with self.client.pipeline(transaction=False) as pipe:
            for metric in names.RECORDED:
                pipe.hgetall(self.keys.metrics(metric.name))
            stored = pipe.execute()
        families: list[Metric] = []
        for metric, fields in zip(names.RECORDED, stored, strict=True):
            if metric.kind == "counter":
                families.append(_counter(metric, fields))
            else:
                families.append(_histogram(metric, fields))
        return families

    # -- live gauges ----------------------------------------------------------------------------

    def _live(self) -> list[Metric]:
        return live_families(self.live.snapshot())


def _labels(metric: names.Metric, series: str) -> list[str]:
    values = series.split(LABEL_SEPARATOR) if metric.labels else []
    return values if len(values) == len(metric.labels) else ["other"] * len(metric.labels)


def _counter(metric: names.Metric, fields: Mapping[str, str]) -> CounterMetricFamily:
    family = CounterMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    for series, value in sorted(fields.items()):
        family.add_metric(_labels(metric, series), float(value))
    return family


def _histogram(metric: names.Metric, fields: Mapping[str, str]) -> HistogramMetricFamily:
    family = HistogramMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    by_series: dict[str, dict[str, float]] = {}
    for name, value in fields.items():
        series, _, part = name.rpartition(FIELD_SEPARATOR)
        by_series.setdefault(series, {})[part] = float(value)
    bounds = [*(repr(float(b)) for b in metric.buckets), "+Inf"]
    for series, parts in sorted(by_series.items()):
        running = 0.0
        buckets: list[Any] = []
        for index, bound in enumerate(bounds):
            running += parts.get(str(index), 0.0)
            buckets.append((bound, running))
        # +Inf must equal the count even if a bucket increment was lost between flushes.
        buckets[-1] = ("+Inf", max(running, parts.get(COUNT_FIELD, running)))
        family.add_metric(_labels(metric, series), buckets, parts.get(SUM_FIELD, 0.0))
    return family


def _gauge(metric: names.Metric, values: Mapping[tuple[str, ...], float]) -> GaugeMetricFamily:
    family = GaugeMetricFamily(metric.name, metric.help, labels=list(metric.labels))
    for labels, value in values.items():
        family.add_metric(list(labels), value)
    return family


def live_families(snap: Snapshot) -> list[Metric]:
    progress: dict[tuple[str, ...], float] = {}
    for line in snap.campaigns:
        for status, count in line.counts.items():
            progress[(status,)] = progress.get((status,), 0) + count
    families: list[Metric] = [
        _gauge(names.LANE_DEPTH, {(lane.name,): lane.depth for lane in snap.lanes}),
        _gauge(names.LANE_OLDEST_AGE, {(lane.name,): lane.oldest_age_seconds for lane in snap.lanes}),
        _gauge(names.CIRCUIT_OPEN, {(p,): float(is_open) for p, is_open in snap.circuits_open.items()}),
        _gauge(names.LIMITER_BACKLOG, {(p,): wait for p, wait in snap.limiter_backlog_seconds.items()}),
        _gauge(names.SENDING, {(): snap.sending}),
        _gauge(names.SCHEDULED, {(): snap.scheduled}),
        _gauge(names.POLL_BACKLOG, {(): snap.polls_due}),
        _gauge(names.POLLS_PENDING, {(): snap.polls_pending}),
        _gauge(names.CAMPAIGNS, {(state,): count for state, count in sorted(snap.campaign_states.items())}),
        _gauge(names.CAMPAIGN_MESSAGES, dict(sorted(progress.items()))),
        _gauge(names.DEAD_LETTERS, {(): snap.dead_letters}),
        _gauge(names.CALLBACK_BACKLOG, {(): snap.callback_backlog}),
        _gauge(names.CALLBACK_DEAD, {(): snap.callbacks_dead}),
    ]
    return families


def build_registry(settings: Settings) -> CollectorRegistry:
    """A registry holding smsq's collector alone (no process metrics of whichever process serves it)."""
    live = reader_for(settings)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(SmsqCollector(live.store, live, settings.key_prefix))
    return registry


def metrics_app(settings: Settings) -> Callable[..., Any]:
    """An ASGI app answering every GET with the exposition (mount it at /metrics)."""
    return make_asgi_app(build_registry(settings))


def metrics_wsgi_app(settings: Settings) -> Callable[..., Any]:
    return make_wsgi_app(build_registry(settings))


def metrics_endpoint(settings: Settings) -> Callable[[Any], Awaitable[Any]]:
    """A Starlette/FastAPI endpoint for exactly ``/metrics`` (a mounted app would answer /metrics/):
    ``app.add_route("/metrics", metrics_endpoint(settings), include_in_schema=False)``. The scrape's
    Redis reads run in a thread, never on the event loop."""
    from starlette.concurrency import run_in_threadpool
    from starlette.responses import Response

    registry = build_registry(settings)

    async def metrics(_: Any) -> Response:
        body = await run_in_threadpool(generate_latest, registry)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    return metrics
