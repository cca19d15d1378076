"""Sandbox settings: credentials each fake provider accepts, timings, switches."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass(frozen=True)
class SandboxConfig:
    messente_username: str = "sandbox"
    messente_password: str = "sandbox"
    smsapi_token: str = "sandbox-token"
    # Direct Messenger: the api_token field of sends and 2FA, and the Bearer token of its blacklist.
    dm_api_token: str = "sandbox-token"
    # Every time-based behaviour reads this (plus the admin clock offset), so tests can inject a fake.
    clock: Callable[[], float] = field(default=time.time)
    # Delivery timeline of one channel attempt, counted from the moment it is sent.
    ack_after_seconds: float = 1.0
    final_after_seconds: float = 3.0
    twofa_pin_ttl_seconds: float = 300.0
    # How long a "timeout" fault holds a request before answering 504, unless the fault says otherwise.
    timeout_fault_seconds: float = 30.0
    messente_default_sender: str = "Messente"
    smsapi_default_sender: str = "Test"
    smsapi_blacklist_page_size: int = 20
    # Delivery-report pushes to dlr_url / notify_url / dlruri; off unless asked for.
    delivery_reports: bool = False
    delivery_report_interval_seconds: float = 0.5
    max_logged_requests: int = 10_000
