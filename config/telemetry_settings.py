"""Settings of what an operator sees (``smsq.telemetry``): metrics and logs. Part of the one Settings
object (``settings.metrics``, ``settings.log``)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
