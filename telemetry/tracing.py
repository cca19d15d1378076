"""OpenTelemetry traces, optional (the ``tracing`` extra, ``SMSQ_TRACING__ENABLED``): one trace from
the API request or producer call, through the publish, the worker's task and the provider's HTTP call,
to the callback the app receives.

The seams call ``span``, ``annotate``, ``inject`` and ``traceparent``; until ``install`` has run (tracing
off, the extra missing, unit tests) they do nothing, and nothing of OpenTelemetry is imported: every
import of it is inside ``install``. Who installs: the worker pool process (``worker_process_init``:
the exporter's thread does not survive a fork), the API's app factory and ``Smsq.from_settings``.

Context crosses processes three ways: smsq's own publish writes task messages straight to the broker,
past Celery's ``before_task_publish``, so ``CeleryPublisher`` injects the W3C ``traceparent`` into each
task's headers itself (Celery's instrumentation reads it back in the worker); a message's record keeps
the ``traceparent`` it was accepted under and records.lua copies it onto each callback event, so the
delivery, in another task of another trace, opens its span under the message's trace.

Attributes are smsq's own (``smsq.message_id``, ``smsq.provider``, ``smsq.lane``) and those of the
instrumentations; every URL-like attribute loses its query, credentials and any path segment with a
run of digits (a phone number in a provider's path) before export (``ScrubbingExporter``).
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import threading
from collections.abc import Iterator, Mapping, MutableMapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, cast
from urllib.parse import urlsplit, urlunsplit

from smsq.config.telemetry_settings import TracingSettings
from smsq.producers.errors import SettingsError

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter, SpanExportResult
    from opentelemetry.trace import Tracer

Role = Literal["api", "worker", "producer"]
Kind = Literal["internal", "client", "producer", "consumer"]

TRACER_NAME = "smsq"
TRACEPARENT = "traceparent"  # the W3C header, also the record's and the callback event's field
TRACES_PATH = "/v1/traces"
EXTRA = "pip install 'smsq[tracing]'"
# smsq's own attributes: bounded, never a number, a text or a secret.
MESSAGE_ID = "smsq.message_id"
PROVIDER = "smsq.provider"
LANE = "smsq.lane"
TASK = "smsq.task"
MESSAGES = "smsq.messages"
EVENT = "smsq.callback.event"
# Attributes that hold a URL or a piece of one, as the HTTP instrumentations name them (old and new
# semantic conventions); a query string is dropped whole.
URL_ATTRIBUTES = frozenset({"http.url", "url.full", "http.target", "url.path"})
QUERY_ATTRIBUTES = frozenset({"url.query"})
# A path segment with this many digits in a row may be a phone number (Messente's phonebook path).
DIGITS = re.compile(r"\d{6,}")
REDACTED = "{redacted}"
EXCEPTION_EVENT = "exception"
EXCEPTION_TYPE = "exception.type"
# Probes and scrapes make no traces.
UNTRACED_API_PATHS = "healthz,readyz,metrics"

_NULL: AbstractContextManager[None] = contextlib.nullcontext()
_lock = threading.Lock()


@dataclass
class Installed:
    provider: TracerProvider
    tracer: Tracer
    role: Role
    owned: bool  # False: the application had set its own provider; smsq only uses it


_installed: Installed | None = None


def available() -> bool:
    try:
        return importlib.util.find_spec("opentelemetry.sdk") is not None
    except ModuleNotFoundError:  # no opentelemetry package at all
        return False


def check(settings: TracingSettings) -> None:
    """Refuse at start-up, in one line, tracing turned on without the extra installed."""
    if settings.enabled and not available():
        raise SettingsError(f"SMSQ_TRACING__ENABLED is true but OpenTelemetry is not installed: {EXTRA}")


def installed() -> Installed | None:
    return _installed


def install(settings: TracingSettings, role: Role) -> bool:
    """Set up tracing for this process once (later calls keep the first set-up); False when off."""
    global _installed
    if not settings.enabled:
        return False
    check(settings)
    with _lock:
        if _installed is None:
            _installed = _set_up(settings, role)
    return True


def _set_up(settings: TracingSettings, role: Role) -> Installed:
    from opentelemetry import trace
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor
    from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased

    import smsq

    current = trace.get_tracer_provider()
    owned = not isinstance(current, TracerProvider)
    if owned:
        resource = Resource.create({
            "service.name": settings.service_name or f"smsq-{role}",
            "service.version": smsq.__version__,
        })  # fmt: skip
        sampler = ParentBased(TraceIdRatioBased(settings.sample_ratio))
        provider = TracerProvider(resource=resource, sampler=sampler)
        exporter = OTLPSpanExporter(endpoint=settings.endpoint + TRACES_PATH)
        scrubbing = cast("SpanExporter", ScrubbingExporter(exporter))
        provider.add_span_processor(BatchSpanProcessor(scrubbing))
        trace.set_tracer_provider(provider)
    else:
        provider = current  # type: ignore[assignment]
    _instrument_libraries(provider, role)
    return Installed(provider, provider.get_tracer(TRACER_NAME, smsq.__version__), role, owned)


def _instrument_libraries(provider: TracerProvider, role: Role) -> None:
    """Celery everywhere (its publish signal covers what goes through ``send_task``); the HTTP clients
    in workers, globally, so the provider clients and the event loop's aiohttp session need no edit."""
    from opentelemetry.instrumentation.celery import CeleryInstrumentor

    CeleryInstrumentor().instrument(tracer_provider=provider)
    if role == "worker":
        from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
        from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

        HTTPXClientInstrumentor().instrument(tracer_provider=provider)
        AioHttpClientInstrumentor().instrument(tracer_provider=provider)


def instrument_api(app: Any) -> None:
    """The FastAPI app's server spans (one per request; probes and /metrics left out)."""
    if _installed is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=_installed.provider,
        excluded_urls=UNTRACED_API_PATHS,
        exclude_spans=["receive", "send"],
    )


def flush(timeout_seconds: float = 5.0) -> None:
    """Export what is buffered: a prefork pool process ends with os._exit, past atexit."""
    if _installed is not None and _installed.owned:
        _installed.provider.force_flush(int(timeout_seconds * 1000))


def uninstall() -> None:
    """Tests only: forget the set-up (the global provider OpenTelemetry allows once stays)."""
    global _installed
    if _installed is None:
        return
    from opentelemetry.instrumentation.aiohttp_client import AioHttpClientInstrumentor
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

    for instrumentor in (CeleryInstrumentor(), HTTPXClientInstrumentor(), AioHttpClientInstrumentor()):
        instrumentor.uninstrument()
    _installed = None


# -- what the seams call ---------------------------------------------------------------------------


def span(
    name: str, attributes: Mapping[str, str | int] | None = None, *, kind: Kind = "internal", parent: str = ""
) -> AbstractContextManager[Any]:
    """A span around a block, the current one's child (or ``parent``'s: a traceparent); with tracing
    off, a shared no-op context manager (nothing is built)."""
    if _installed is None:
        return _NULL
    return _span(_installed.tracer, name, kind, parent, dict(attributes or {}))


@contextlib.contextmanager
def _span(tracer: Tracer, name: str, kind: Kind, parent: str, attributes: dict[str, Any]) -> Iterator[Any]:
    from opentelemetry import propagate, trace

    context = propagate.extract({TRACEPARENT: parent}) if parent else None
    span_kind = getattr(trace.SpanKind, kind.upper())
    with tracer.start_as_current_span(
        name, context=context, kind=span_kind, attributes=attributes,
        record_exception=False, set_status_on_exception=False,
    ) as made:  # fmt: skip
        try:
            yield made
        except BaseException as error:
            # The type only: an error's text may quote a provider's answer, and so a number.
            made.set_attribute("error.type", type(error).__name__)
            made.set_status(trace.Status(trace.StatusCode.ERROR, type(error).__name__))
            raise


def annotate(attributes: Mapping[str, str | int]) -> None:
    """Set these attributes on the current span, if one records."""
    if _installed is None:
        return
    from opentelemetry import trace

    current = trace.get_current_span()
    if current.is_recording():
        current.set_attributes(dict(attributes))


def inject(headers: MutableMapping[str, Any]) -> None:
    """Write the current trace context into a task's (or a request's) headers."""
    if _installed is None:
        return
    from opentelemetry import propagate

    propagate.inject(headers)


def traceparent() -> str:
    """The current context as a W3C traceparent ('' with tracing off or no span)."""
    if _installed is None:
        return ""
    carrier: dict[str, str] = {}
    inject(carrier)
    return carrier.get(TRACEPARENT, "")


# -- what leaves the process -----------------------------------------------------------------------


def clean_url(value: str) -> str:
    """A URL (or a path) without credentials, query or fragment, digit runs in its path redacted."""
    parts = urlsplit(value)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    path = "/".join(REDACTED if DIGITS.search(segment) else segment for segment in parts.path.split("/"))
    return urlunsplit((parts.scheme, netloc, path, "", ""))


def scrubbed_attributes(attributes: Any) -> dict[str, Any] | None:
    """The attributes to export instead, or None when they may go as they are."""
    if not attributes:
        return None
    changed = False
    kept: dict[str, Any] = {}
    for name, value in attributes.items():
        if name in QUERY_ATTRIBUTES:
            changed = True
            continue
        if name in URL_ATTRIBUTES and isinstance(value, str):
            cleaned = clean_url(value)
            changed = changed or cleaned != value
            value = cleaned
        kept[name] = value
    return kept if changed else None


class ScrubbingExporter:
    """Wraps the OTLP exporter: every span's URL attributes are cleaned on the way out, whichever
    instrumentation made it (the last place a number or a token in a URL could leave by)."""

    def __init__(self, inner: SpanExporter) -> None:
        self.inner = inner

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        return self.inner.export([scrubbed(one) for one in spans])

    def shutdown(self) -> None:
        self.inner.shutdown()

    def force_flush(self, timeout_millis: int = 30_000) -> bool:
        return self.inner.force_flush(timeout_millis)


def scrubbed(span: ReadableSpan) -> ReadableSpan:
    """``span`` with clean URLs, exception events (an instrumentation's) cut to the error's type and
    no status description: an error's message may quote a provider's answer or a task's arguments."""
    from opentelemetry.sdk.trace import Event, ReadableSpan
    from opentelemetry.trace import Status

    attributes = scrubbed_attributes(span.attributes)
    exceptions = [event for event in span.events if event.name == EXCEPTION_EVENT]
    if attributes is None and not exceptions and not span.status.description:
        return span
    events = [
        Event(event.name, {k: v for k, v in (event.attributes or {}).items() if k == EXCEPTION_TYPE},
              event.timestamp)
        if event.name == EXCEPTION_EVENT else event
        for event in span.events
    ]  # fmt: skip
    return ReadableSpan(
        name=span.name, context=span.context, parent=span.parent, resource=span.resource,
        attributes=span.attributes if attributes is None else attributes, events=events, links=span.links,
        kind=span.kind, status=Status(span.status.status_code), start_time=span.start_time,
        end_time=span.end_time, instrumentation_scope=span.instrumentation_scope,
    )  # fmt: skip
