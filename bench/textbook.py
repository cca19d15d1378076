"""'The textbook approach' for bench/throughput.py: one Celery task per message, a sync httpx call per
task, the prefork pool, ``apply_async`` per message to enqueue. A separate, tiny Celery app that
imports nothing of smsq's worker code; each task records its result in Redis (``textbook:msg:<n>``:
status, provider id, sent_ms, and a done counter) so it is counted the same way as smsq's.

Environment: TEXTBOOK_BROKER (Redis URL for the broker and the results), TEXTBOOK_STUB_URL (the far
end, Messente-shaped), TEXTBOOK_RATE_LIMIT (optional Celery rate_limit, e.g. "150/s": Celery's own
per-worker-node limiter, the textbook answer to a provider's limit).

    celery -A bench.textbook worker -Q textbook -c 200
"""

from __future__ import annotations

import os
import time
from typing import Any

import httpx
import redis
from celery import Celery
from celery.signals import worker_process_init

QUEUE = "textbook"
TASK = "textbook.send"
PREFIX = "textbook:msg:"
DONE = "textbook:done"  # how many tasks have recorded their result

app = Celery("textbook", broker=os.environ.get("TEXTBOOK_BROKER", "redis://127.0.0.1:6379/15"))
app.conf.update(
    task_serializer="json",
    accept_content=["json"],
    task_ignore_result=True,
    task_default_queue=QUEUE,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
)
if os.environ.get("TEXTBOOK_RATE_LIMIT"):
    app.conf.task_annotations = {TASK: {"rate_limit": os.environ["TEXTBOOK_RATE_LIMIT"]}}

_http: httpx.Client | None = None
_redis: redis.Redis | None = None


@worker_process_init.connect
def _after_fork(**_: Any) -> None:
    """One client per pool process, made after the fork (a socket must never cross a fork)."""
    global _http, _redis
    _http = httpx.Client(
        base_url=os.environ.get("TEXTBOOK_STUB_URL", "http://127.0.0.1:8099").rstrip("/") + "/v1/",
        auth=("sandbox", "sandbox"),  # what the sandbox accepts; the stubs ignore it
        timeout=httpx.Timeout(10.0, connect=3.0),
    )
    _redis = redis.Redis.from_url(app.conf.broker_url, decode_responses=True)


@app.task(name=TASK)
def send(n: int, to: str, text: str) -> None:
    if _http is None or _redis is None:
        _after_fork()
    assert _http is not None and _redis is not None
    body = {"to": to, "messages": [{"channel": "sms", "sender": "Acme", "text": text}]}
    try:
        response = _http.post("omnimessage", json=body)
        status = "sent" if response.status_code == 201 else f"http-{response.status_code}"
        provider_id = response.json().get("omnimessage_id", "") if status == "sent" else ""
    except httpx.HTTPError as exc:
        status, provider_id = f"error-{type(exc).__name__}", ""
    with _redis.pipeline(transaction=False) as pipe:
        sent_ms = int(time.time() * 1000)
        pipe.hset(f"{PREFIX}{n}", items=["status", status, "provider_id", provider_id, "sent_ms", sent_ms])
        pipe.incr(DONE)
        pipe.execute()
