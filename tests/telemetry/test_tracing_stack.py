"""One trace through a real stack: `smsq api` (uvicorn), a worker and a callbacks worker (prefork
pools), beat, the provider sandbox and a callback receiver on loopback, every process exporting over
OTLP/HTTP to a receiver this test runs (tests/telemetry/otlp.py). The test process installs no
tracing itself: every span it reads came from another process."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
import redis

from smsq.cli.processes import http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.config import contract as names
from smsq.producers.callbacks.targets import CALLBACK_SECRET, new_secret
from smsq.producers.keys.store import KeyStore
from smsq.sandbox.server import running_sandbox
from smsq.telemetry import tracing
from smsq.workers.callbacks.receiver import Receiver, running_receiver
from tests.integration.stack import Running, stack_settings, started_stack
from tests.telemetry.otlp import Received, Span, running_otlp

pytestmark = pytest.mark.integration

PREFIX = "it-trace"
SECRET = new_secret()
NUMBER = "+37251234987"
TEXT = "your code is 482916"


@dataclass
class Traced:
    running: Running
    api: str
    otlp: Received
    hook: Receiver
    hook_url: str
    redis: redis.Redis


@pytest.fixture(scope="module")
def traced(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Traced]:
    redis_server = RedisServer(tmp_path_factory.mktemp("trace-redis"))
    redis_server.start()
    hook = Receiver(SECRET)
    try:
        with (
            running_sandbox() as sandbox_url,
            running_otlp() as (otlp, otlp_url),
            running_receiver(hook) as hook_url,
        ):
            settings = stack_settings(
                redis_server.url, sandbox_url, PREFIX,
                tracing__enabled="true", tracing__endpoint=otlp_url,
                callbacks__allow_http="true", callbacks__allow_private="true",
                campaigns__use_bulk="false",  # singles on the worker's aiohttp loop (event_loop.py)
            )  # fmt: skip
            workers = [
                ("worker", ("--concurrency", "1")),
                ("callbacks", ("--lanes", "callbacks", "--concurrency", "1")),
            ]
            with pytest.MonkeyPatch.context() as patch:
                patch.setenv("OTEL_BSP_SCHEDULE_DELAY", "100")  # export every 0.1 s, not 5 s
                with started_stack(settings, tmp_path_factory.mktemp("trace"), workers=workers) as running:
                    port = free_port()
                    child = running.stack.start("api", smsq_command("api", "--port", str(port)), running.env)
                    api = f"http://127.0.0.1:{port}"
                    try:
                        wait_until(http_ready(f"{api}/healthz"), timeout=30, what="smsq api to answer")
                    except TimeoutError:
                        pytest.fail(child.log_tail())
                    client = redis.Redis.from_url(redis_server.url, decode_responses=True)
                    yield Traced(running, api, otlp, hook, hook_url, client)
                    client.close()
    finally:
        redis_server.stop()


def api_key(traced: Traced) -> str:
    keys = KeyStore(traced.redis, prefix=PREFIX)
    created = keys.create("traced-app", "send,read,campaigns", callback_url=f"{traced.hook_url}/app")
    traced.redis.hset(f"{PREFIX}:apikey:{created.key.key_id}", CALLBACK_SECRET, SECRET)
    return created.secret


def in_trace(spans: list[Span], trace_id: str) -> list[Span]:
    return [span for span in spans if span.trace_id == trace_id]


def test_one_trace_from_the_api_request_to_the_provider_call_and_the_callback(traced: Traced) -> None:
    secret = api_key(traced)
    body = {"to": NUMBER, "messages": [{"channel": "sms", "text": TEXT}]}
    answer = httpx.post(
        f"{traced.api}/v1/messages", json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert answer.status_code == 202, answer.text
    message_id = answer.json()["id"]
    wait_until(lambda: traced.hook.received.for_message(message_id), timeout=60, what="the sent callback")

    def request_span() -> Span | None:
        return next((s for s in traced.otlp.snapshot() if s.kind == "SERVER" and s.service == "smsq-api"
                     and s.attributes.get("http.route") == "/v1/messages"), None)  # fmt: skip

    wait_until(lambda: request_span() is not None, timeout=30, what="the API request's span")
    server = request_span()
    assert server is not None

    def complete() -> bool:
        names_seen = {s.name for s in in_trace(traced.otlp.snapshot(), server.trace_id)}
        return {"smsq callback", "messente POST", f"run/{names.SEND_TASK}"} <= names_seen

    wait_until(complete, timeout=30, what="the task, provider call and callback spans in the trace")
    spans = in_trace(traced.otlp.snapshot(), server.trace_id)
    by_name = {s.name: s for s in spans}
    by_id = {s.span_id: s for s in spans}

    publish = by_name[f"publish {names.SEND_TASK}"]
    task = by_name[f"run/{names.SEND_TASK}"]
    provider = by_name["messente POST"]
    callback = by_name["smsq callback"]
    # Who made each: the API process published, a worker ran the task, a callbacks worker delivered.
    assert (server.service, publish.service, task.service, callback.service) == (
        "smsq-api", "smsq-api", "smsq-worker", "smsq-worker",
    )  # fmt: skip
    assert publish.kind == "PRODUCER" and task.kind == "CONSUMER"
    assert by_id[task.parent_id] is publish  # the context went through the task message's headers
    assert by_id[provider.parent_id] is task
    assert provider.attributes[tracing.PROVIDER] == "messente"
    assert task.attributes[tracing.MESSAGE_ID] == message_id
    assert task.attributes[tracing.LANE] == "regular"
    assert publish.attributes[tracing.MESSAGE_ID] == message_id
    # The provider's HTTP call itself (httpx's instrumentation), under smsq's provider span.
    http_calls = [s for s in spans if s.kind == "CLIENT" and s.parent_id == provider.span_id]
    assert http_calls and all("/v1/omnimessage" in str(s.attributes.get("http.url")) for s in http_calls)
    # The callback: its span and the aiohttp POST to the app under it, and the app got the trace.
    assert callback.attributes[tracing.MESSAGE_ID] == message_id
    posts = [s for s in spans if s.parent_id == callback.span_id and s.kind == "CLIENT"]
    assert posts and str(posts[0].attributes.get("http.url", "")).startswith(traced.hook_url)
    (event_id,) = [e for e, p in traced.hook.received.events.items() if p["data"]["message_id"] == message_id]
    assert traced.hook.received.traceparents[event_id].split("-")[1] == server.trace_id


def test_no_span_carries_the_number_the_text_or_a_secret(traced: Traced) -> None:
    secret = api_key(traced)
    body = {"to": NUMBER, "messages": [{"channel": "sms", "text": TEXT}]}
    answer = httpx.post(
        f"{traced.api}/v1/messages", json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    message_id = answer.json()["id"]
    wait_until(lambda: traced.hook.received.for_message(message_id), timeout=60, what="the sent callback")
    wait_until(
        lambda: any(s.attributes.get(tracing.MESSAGE_ID) == message_id and s.name == "smsq callback"
                    for s in traced.otlp.snapshot()),
        timeout=30, what="the callback span",
    )  # fmt: skip
    raw = traced.otlp.raw()  # every byte every process exported: names, attributes, events, resources
    assert raw
    for leak in (NUMBER, NUMBER[1:], NUMBER[4:], TEXT, "482916", secret, SECRET, "sandbox:sandbox"):
        assert leak.encode() not in raw, leak


def test_a_campaigns_singles_on_the_event_loop_are_http_spans_under_its_batch_task(traced: Traced) -> None:
    secret = api_key(traced)
    body = {
        "name": "traced",
        "template": {"messages": [{"channel": "sms", "text": "Hi %name%"}]},
        "recipients": [{"to": "+37251234001", "name": "Ann"}, {"to": "+37251234002", "name": "Bo"}],
    }
    answer = httpx.post(
        f"{traced.api}/v1/campaigns", json=body, headers={"Authorization": f"Bearer {secret}"}, timeout=10
    )
    assert answer.status_code == 202, answer.text

    def batch_posts() -> list[Span]:
        spans = traced.otlp.snapshot()
        batches = {s.span_id for s in spans if s.name == f"run/{names.SEND_BATCH_TASK}"}
        return [s for s in spans if s.parent_id in batches and s.kind == "CLIENT"
                and "/v1/omnimessage" in str(s.attributes.get("http.url"))]  # fmt: skip

    # aiohttp's instrumentation, installed at the pool process's start, sees the loop's session.
    wait_until(lambda: len(batch_posts()) >= 2, timeout=60, what="the singles' HTTP spans")
    raw = traced.otlp.raw()
    assert b"37251234001" not in raw and b"Ann" not in raw
