"""The OTPs of the fault scenarios: sent at a steady rate through the producer API while faults
happen, then followed to the recording stub (bench/faults.py scenarios 1 and 2)."""

from __future__ import annotations

import threading
import time

import httpx

from bench.common import percentile
from bench.fault_stack import Bench
from bench.fault_table import Row
from smsq.producers.errors import StoreUnavailable

OTP_PREFIX = "+3712"  # the stub records these numbers' arrival times
# What `appendfsync everysec` may lose at a crash: the writes of about the last second (two, when an
# fsync is slow and Redis postpones its write; Redis's persistence documentation).
FSYNC_WINDOW = 2.0


class Otps(threading.Thread):
    """One OTP every 1/rate seconds through the producer API until stopped. Only an accepted OTP is
    one that must arrive: a call refused with StoreUnavailable told its caller (who would try again),
    so it is counted apart, never as lost."""

    def __init__(self, b: Bench, rate: float) -> None:
        super().__init__(daemon=True)
        self.b, self.rate, self.stop = b, rate, threading.Event()
        self.ids: list[str] = []
        self.accepted_at: dict[str, float] = {}  # number -> when the call returned (time.time())
        self.refused = 0

    def run(self) -> None:
        n = 0
        while not self.stop.wait(1 / self.rate):
            to = f"{OTP_PREFIX}{n:07d}"
            n += 1
            otp = {"to": to, "priority": "high", "messages": [{"channel": "sms", "text": "code 1234"}]}
            called = time.time()
            try:
                self.ids.append(self.b.smsq.send(otp).message_id)
            except StoreUnavailable:
                self.refused += 1
                continue
            self.b.otp_sent[to] = called
            self.accepted_at[to] = time.time()


def otp_latency(b: Bench, row: Row, otps: Otps, *, redis_killed_at: float | None = None) -> None:
    """OTP latency at the stub, and the accepted OTPs that never arrived. With ``redis_killed_at``,
    a missing OTP accepted in the FSYNC_WINDOW before the kill is one `appendfsync everysec` may
    lose by its own promise; it is counted apart, and only the others fail the check."""
    arrivals = httpx.get(f"{b.stub_url}/_stats", timeout=30).json()["arrivals"]
    waits = [min(arrivals[to]) - sent for to, sent in b.otp_sent.items() if to in arrivals]
    if waits:
        p50, p99, worst = (percentile(waits, 50) * 1000, percentile(waits, 99) * 1000, max(waits) * 1000)
        row.add("OTP latency p50 / p99 / max (ms)", f"{p50:.0f} / {p99:.0f} / {worst:.0f}")
    missing = [to for to in b.otp_sent if to not in arrivals]
    row.add("OTPs accepted / refused (StoreUnavailable) / never arrived",
            f"{len(b.otp_sent)} / {otps.refused} / {len(missing)}")  # fmt: skip
    if redis_killed_at is None:
        row.check("every accepted OTP arrived", not missing)
        return
    window_opened = redis_killed_at - FSYNC_WINDOW
    inside = [to for to in missing if window_opened <= otps.accepted_at[to] <= redis_killed_at]
    row.add(f"never arrived, accepted in the {FSYNC_WINDOW:g} s before the kill", len(inside))
    row.check("every accepted OTP arrived, but for everysec's window", len(missing) == len(inside))
