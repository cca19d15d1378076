"""The HTTP API's settings (``settings.api``, ``SMSQ_API__*``): where `smsq api` listens and the bounds
it puts on requests before any of them reaches the producer API."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"  # 0.0.0.0 to listen on every interface (docker-compose does)
    port: int = Field(8030, ge=1, le=65535)
    # A JSON request body over this is refused with 413 before it is parsed (a batch of 1,000
    # messages of ~300 bytes is about 300 kB).
    body_bytes: int = Field(2 * 1024 * 1024, ge=1024, le=256 * 1024 * 1024)
    # A campaign's CSV upload, streamed to disk: refused with 413 past this.
    upload_bytes: int = Field(200 * 1024 * 1024, ge=1024, le=16 * 1024**3)
    batch_max: int = Field(1000, ge=1, le=10_000)  # messages in one POST /v1/messages/batch
    ids_max: int = Field(500, ge=1, le=10_000)  # ids in one GET /v1/messages?ids=
    # Retry-After on a 503 (Redis unreachable): long enough for a restart, short for a blip.
    unavailable_retry_after: int = Field(5, ge=1, le=3600)
    # An Idempotency-Key's first answer is replayed this long; one still in flight is held as such
    # at most in_flight_seconds (a process that died mid-request does not block the key forever).
    idempotency_seconds: int = Field(86_400, ge=60, le=30 * 86_400)
    in_flight_seconds: int = Field(60, ge=1, le=3600)
    # /readyz: a lane counts as served when a worker answered within this many seconds.
    ready_worker_seconds: float = Field(2.0, gt=0, le=60)
