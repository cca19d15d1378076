from __future__ import annotations

import random

import pytest

from smsq.config.settings import RetrySettings
from smsq.workers.sending.backoff import backoff_delay


@pytest.mark.parametrize(("attempt", "exponential"), [(1, 2), (2, 4), (3, 8), (4, 16), (7, 100), (30, 100)])
def test_delay_doubles_within_its_jitter_band_and_is_capped(attempt: int, exponential: float) -> None:
    retry = RetrySettings(base_delay=2, max_delay=100, jitter=0.5)
    delays = [backoff_delay(attempt, retry, random.Random(seed)) for seed in range(200)]
    assert all(exponential / 2 <= d <= exponential for d in delays)
    assert max(delays) - min(delays) > exponential / 4  # it really is spread out


def test_no_jitter_gives_the_exact_exponential() -> None:
    retry = RetrySettings(base_delay=1.5, max_delay=100, jitter=0)
    assert [backoff_delay(n, retry, random.Random()) for n in (1, 2, 3)] == [1.5, 3.0, 6.0]


def test_attempts_start_at_one() -> None:
    with pytest.raises(ValueError, match="start at 1"):
        backoff_delay(0, RetrySettings(), random.Random())
