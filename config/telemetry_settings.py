"""Settings of what an operator sees (``smsq.telemetry``): metrics, logs and traces. Part of the one
Settings object (``settings.metrics``, ``settings.log``, ``settings.tracing``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field, field_validator


class MetricsSettings(BaseModel):
    # Off: no process records anything (the exporter still serves the live figures read from Redis).
    enabled: bool = True
    # Each process sends its counts to Redis this often; a process killed with SIGKILL loses at most
    # this long's counts.
    flush_interval: float = Field(1.0, gt=0, le=60)
    # Label sets recorded per metric and process; more are counted as "other" (never unbounded).
    max_series: int = Field(200, ge=10, le=10_000)
    # Campaigns the exporter looks at per scrape (the newest first) for campaign progress.
    max_campaigns: int = Field(200, ge=1, le=10_000)


class LogSettings(BaseModel):
    # json: one JSON object per line (for a log shipper); console: readable key=value lines.
    format: Literal["json", "console"] = "console"
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class TracingSettings(BaseModel):
    """OpenTelemetry traces (``smsq.telemetry.tracing``; needs the ``tracing`` extra). Off: nothing of
    OpenTelemetry is imported and nothing changes."""

    enabled: bool = False
    # The OTLP/HTTP (protobuf) receiver: a collector, Jaeger or Tempo; /v1/traces is appended.
    endpoint: str = "http://127.0.0.1:4318"
    # None: smsq-api, smsq-worker or smsq-producer, after the process.
    service_name: str | None = Field(None, min_length=1, max_length=100)
    # The share of new traces kept (a trace begun by a caller keeps its caller's decision).
    sample_ratio: float = Field(1.0, ge=0, le=1)

    @field_validator("endpoint")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL (the OTLP/HTTP receiver)")
        return value.rstrip("/")
