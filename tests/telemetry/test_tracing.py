"""The tracing set-up (smsq.telemetry.tracing): off, nothing is installed or imported; without the
extra, turning it on is refused in one line; on, a publish carries the span's traceparent and the span
reaches an OTLP receiver; what is exported never holds a URL's query, a number in a path or an
error's text. Set-ups run in subprocesses: OpenTelemetry's global provider can be set once per process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

from opentelemetry.sdk.trace import Event, ReadableSpan
from opentelemetry.trace import SpanContext, Status, StatusCode

from smsq.config.telemetry_settings import TracingSettings
from smsq.producers.callbacks.events import Event as CallbackEvent
from smsq.producers.callbacks.targets import Target, new_secret
from smsq.telemetry import tracing
from smsq.workers.callbacks.delivery import request
from tests.telemetry.otlp import running_otlp

# Makes these packages unimportable, as when the extra is not installed (redis-py's own optional
# probe for OpenTelemetry is answered with ImportError, which it expects).
BLOCK = """
import sys
BLOCKED = {blocked!r}
class Missing:
    def find_spec(self, name, path=None, target=None):
        if any(name == b or name.startswith(b + ".") for b in BLOCKED):
            raise ModuleNotFoundError(f"No module named {{name!r}}")
        return None
sys.meta_path.insert(0, Missing())
"""
WITHOUT_OPENTELEMETRY = BLOCK.format(blocked=("opentelemetry",))
# FastAPI itself requires opentelemetry-api (0.165): an API host without the extra has the API only.
EXTRA_PACKAGES = ("opentelemetry.sdk", "opentelemetry.instrumentation", "opentelemetry.exporter")
WITHOUT_THE_EXTRA = BLOCK.format(blocked=EXTRA_PACKAGES)


def run_python(code: str, **env: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True, text=True, timeout=60,
        env={"PATH": "/usr/bin:/bin", "SMSQ_REDIS_URL": "redis://127.0.0.1:1/0", **env},
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout.strip().splitlines()[-1]


def test_off_nothing_is_installed_and_the_seams_do_nothing() -> None:
    assert tracing.install(TracingSettings(), "worker") is False
    assert tracing.installed() is None
    headers: dict[str, str] = {}
    tracing.inject(headers)
    assert headers == {}
    assert tracing.traceparent() == ""
    with tracing.span("nothing", {tracing.PROVIDER: "messente"}) as made:
        assert made is None


def test_without_opentelemetry_a_worker_and_a_producer_work_and_import_none_of_it() -> None:
    answer = run_python(
        WITHOUT_OPENTELEMETRY
        + """
import json
from smsq.config.settings import load_settings
from smsq.producers.client import Smsq
from smsq.producers.publisher import task_message
from smsq.workers.app import create_app
settings = load_settings()
create_app(settings)
Smsq.from_settings(settings)
headers = json.loads(task_message("smsq.send", {"message_id": "m"}, "regular", "o"))["headers"]
print(json.dumps({"traceparent": "traceparent" in headers,
                  "imported": sorted(m for m in sys.modules if m.startswith("opentelemetry"))}))
"""
    )
    assert json.loads(answer) == {"traceparent": False, "imported": []}


def test_without_the_extra_the_api_works_and_imports_none_of_it() -> None:
    answer = run_python(
        WITHOUT_THE_EXTRA
        + """
import json
from smsq.config.settings import load_settings
from smsq.api.app import create_app
from smsq.api.services import Services
create_app(Services.from_settings(load_settings(), lanes=lambda: {}))
print(json.dumps(sorted(m for m in sys.modules if m.startswith(BLOCKED))))
"""
    )
    assert json.loads(answer) == []


def test_on_without_the_extra_is_refused_in_one_line_naming_the_extra() -> None:
    answer = run_python(
        WITHOUT_OPENTELEMETRY
        + """
from smsq.config.settings import load_settings
from smsq.producers.errors import SettingsError
from smsq.workers.app import create_app
try:
    create_app(load_settings())
except SettingsError as error:
    print(error)
""",
        SMSQ_TRACING__ENABLED="true",
    )
    assert (
        answer
        == "SMSQ_TRACING__ENABLED is true but OpenTelemetry is not installed: pip install 'smsq[tracing]'"
    )


def test_on_a_publish_carries_its_span_and_the_span_reaches_the_receiver() -> None:
    with running_otlp() as (received, url):
        answer = run_python(
            """
import json
from smsq.config.settings import load_settings
from smsq.producers.publisher import task_message
from smsq.telemetry import tracing
settings = load_settings()
assert tracing.install(settings.tracing, "producer")
with tracing.span("outer", {tracing.MESSAGE_ID: "m-1"}):
    headers = json.loads(task_message("smsq.send", {"message_id": "m-1"}, "regular", "o"))["headers"]
    current = tracing.traceparent()
tracing.flush()
print(json.dumps({"header": headers.get("traceparent"), "current": current}))
""",
            SMSQ_TRACING__ENABLED="true",
            SMSQ_TRACING__ENDPOINT=url,
        )
        spans = received.snapshot()
    found = json.loads(answer)
    assert found["header"] == found["current"] and found["header"]
    (outer,) = [s for s in spans if s.name == "outer"]
    assert (outer.service, outer.attributes) == ("smsq-producer", {tracing.MESSAGE_ID: "m-1"})
    assert found["header"].split("-")[1:3] == [outer.trace_id, outer.span_id]


def test_urls_lose_credentials_query_and_number_like_path_segments() -> None:
    cases = {
        "https://user:pw@api.messente.com/v1/phonebook/blacklist/%2B37251234567?token=abc#x":
            "https://api.messente.com/v1/phonebook/blacklist/{redacted}",
        "http://127.0.0.1:8030/v1/messages": "http://127.0.0.1:8030/v1/messages",
        "/v1/blacklist/+37251234567?x=1": "/v1/blacklist/{redacted}",
        "/v1/messages/0f8e2b1c-8a4d-4b7e-9c1a-2d3e4f5a6b7c": "/v1/messages/0f8e2b1c-8a4d-4b7e-9c1a-2d3e4f5a6b7c",
    }  # fmt: skip
    assert {url: tracing.clean_url(url) for url in cases} == cases


def exported(**options: object) -> ReadableSpan:
    context = SpanContext(trace_id=1, span_id=2, is_remote=False)
    return ReadableSpan(name="POST", context=context, **options)  # type: ignore[arg-type]


def test_exported_spans_keep_no_query_no_error_text_and_no_status_description() -> None:
    span = exported(
        attributes={
            "http.url": "https://h/v1/x/37251234567?sig=s",
            "url.query": "to=+3725",
            "http.method": "POST",
        },
        events=[
            Event("exception", {"exception.type": "TransientError", "exception.message": "+37251234567"})
        ],
        status=Status(StatusCode.ERROR, "TransientError: server error 500: +37251234567"),
    )
    clean = tracing.scrubbed(span)
    assert dict(clean.attributes or {}) == {"http.url": "https://h/v1/x/{redacted}", "http.method": "POST"}
    assert [dict(e.attributes or {}) for e in clean.events] == [{"exception.type": "TransientError"}]
    assert (clean.status.status_code, clean.status.description) == (StatusCode.ERROR, None)
    untouched = exported(attributes={"smsq.provider": "messente"})
    assert tracing.scrubbed(untouched) is untouched


def test_a_callback_carries_its_messages_traceparent_only_when_it_has_one() -> None:
    from datetime import UTC, datetime

    parent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
    target = Target("https://app.example/hook", new_secret())
    fields = {"kind": "message", "message_id": "m", "status": "sent", "seq": "1", "at_ms": "0"}
    now = datetime.now(UTC)
    _, headers, _ = request(CallbackEvent("m:1", {**fields, "traceparent": parent}), target, now)
    assert headers["traceparent"] == parent
    _, plain, _ = request(CallbackEvent("m:1", fields), target, now)
    assert "traceparent" not in plain
