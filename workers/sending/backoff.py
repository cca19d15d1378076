"""Backoff between send attempts: exponential, capped, with jitter so retries do not stampede."""

from __future__ import annotations

import random

from smsq.config.settings import RetrySettings


def backoff_delay(attempt: int, retry: RetrySettings, rng: random.Random) -> float:
    """Seconds to wait after failed attempt number ``attempt`` (1-based).

    The delay doubles each attempt up to ``max_delay``; a ``jitter`` fraction of it is randomised
    (so jitter=0.5 gives a delay between 50 % and 100 % of the exponential value)."""
    if attempt < 1:
        raise ValueError("attempt numbers start at 1")
    exponential = min(retry.max_delay, retry.base_delay * 2 ** (attempt - 1))
    fixed = exponential * (1 - retry.jitter)
    return fixed + rng.uniform(0, exponential - fixed)
