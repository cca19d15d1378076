"""Settings of callbacks to the application (``settings.callbacks``, ``SMSQ_CALLBACKS__*``): the
status changes of a key's messages POSTed to the key's callback URL by `callbacks` workers
(workers/callbacks/), and the checks a callback URL passes (producers/callbacks/urls.py)."""

from __future__ import annotations

from pydantic import BaseModel, Field

HOURS = 3600.0


class CallbackSettings(BaseModel):
    # -- what a callback URL may point at (server-side request forgery) ---------------------------
    # http:// URLs (a receiver on a private network, a test). Off: https only.
    allow_http: bool = False
    # Loopback, private, link-local, shared (CGNAT) and unique-local targets. Off: refused when the URL
    # is set and again when each connection is made (DNS may answer differently later).
    allow_private: bool = False

    # -- one request -------------------------------------------------------------------------------
    timeout: float = Field(5.0, gt=0, le=60, description="seconds for connect, write, read, pool each")
    # The receiver's answer is read up to this many bytes (kept, cut, in the event's last result).
    max_response_bytes: int = Field(1024, ge=0, le=65_536)

    # -- retries -----------------------------------------------------------------------------------
    # A 5xx, 429, timeout or connection error is retried with exponential backoff and jitter until
    # this long after the status change; then the event is dead-lettered.
    give_up_after: float = Field(24 * HOURS, gt=0)
    base_delay: float = Field(5.0, gt=0, description="seconds before the first retry")
    max_delay: float = Field(HOURS, gt=0, description="cap on one backoff delay, seconds")
    jitter: float = Field(0.5, ge=0, le=1, description="fraction of the delay that is randomised")
    # Any other 4xx (and a 3xx: redirects are not followed) is tried this many times in all, then
    # dead-lettered. A 410 stops calling that URL at once.
    client_error_attempts: int = Field(3, ge=1, le=20)
    # A URL that answered 410 is not called for this long (setting the URL again clears it).
    gone_days: float = Field(30.0, gt=0)

    # -- throughput and fairness ---------------------------------------------------------------------
    # Requests in flight to one URL across every worker: a slow receiver holds at most this many of
    # the callback workers' slots (2 x worker_in_flight), so other keys' callbacks go on. A round of
    # claim, broker hop, request and record took about 100 ms against a receiver answering in 50 ms,
    # so 100 carried 907/s to one URL and 200 carries 1,745/s (bench/callbacks.py).
    per_url_concurrency: int = Field(200, ge=1, le=1000)
    # Events per callback task, delivered concurrently (asyncio) by the worker process's loop.
    batch_size: int = Field(50, ge=1, le=500)
    # Requests one worker process has out at most; a task waits for room past it. A task hands its
    # events to the loop and ends, so a slow receiver holds requests, never a worker process.
    worker_in_flight: int = Field(1000, ge=1, le=100_000)
    # A claimed event comes back after this long unless its task recorded an outcome (a worker that
    # died holding it): more than a batch's worst case (timeouts) plus its wait in the queue.
    claim_lease_seconds: float = Field(60.0, gt=0)
    # A stopping worker process (SIGTERM, a deploy) waits this long for the answers of its requests in
    # flight, then hands the rest back: due again at once, no attempt counted.
    shutdown_wait: float = Field(5.0, ge=0, le=60)
    # A slot freed by an answer is taken on the next pass: a receiver answering in 50 ms with the
    # cap of 100 waits up to a pass between batches (at 0.1 s it was 1 of every 3 rounds' time).
    claim_interval: float = Field(0.05, gt=0, le=60, description="seconds between claim passes in beat")
    claim_batch: int = Field(2000, ge=1, description="due events claimed per pass at most")
    max_queued_tasks: int = Field(40, ge=1, description="back-pressure on the callbacks queue")
    # An event over its URL's cap is looked at again this much later, a cap's worth per delay
    # (claim.lua): one URL gets at most per_url_concurrency / busy_delay events a second (4,000/s).
    # At 0.2 s that was 500/s, whatever the receiver could take; shorter costs a few more re-reads.
    busy_delay: float = Field(0.05, gt=0)

    # -- keeping -------------------------------------------------------------------------------------
    # Delivered and dead-lettered events stay this long for `smsq callbacks list|replay`.
    keep_days: float = Field(3.0, gt=0)
