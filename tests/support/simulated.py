"""The simulated provider's reserved numbers and the outcome each ends in (test API keys), shared by
the integration tests that send to them; LATE_SECONDS is the delay the stacks set for "delivered late"."""

from __future__ import annotations

LATE_SECONDS = 3.0
OUTCOMES = {
    "+37251230001": "failed",
    "+37251230002": "undeliverable",
    "+37251230003": "unknown",
    "+37251230004": "delivered",  # late
    "+37251234567": "delivered",
}
