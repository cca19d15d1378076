"""The far end's limiters (bench/far_end/limiters.py) refuse exactly what their algorithm says: they
are the instrument the 429 counts of bench.far_end.run are read from."""

from __future__ import annotations

import pytest

from bench.far_end import limiters


def allowed(limiter: limiters.Limiter, times: list[float]) -> list[bool]:
    return [limiter.allow(t) for t in times]


def test_a_token_bucket_lets_its_capacity_through_at_once_then_the_rate() -> None:
    bucket = limiters.TokenBucket(150, 5)
    assert allowed(bucket, [0.0] * 6) == [True] * 5 + [False]
    assert allowed(bucket, [1 / 150 + 1e-9, 1 / 150 + 2e-9]) == [True, False]


def test_fixed_windows_count_per_calendar_second() -> None:
    window = limiters.FixedWindow(150)
    assert allowed(window, [10.5] * 151) == [True] * 150 + [False]
    assert window.allow(10.999) is False and window.allow(11.0) is True  # a new second, a new count


def test_a_sliding_window_counts_any_one_second_span() -> None:
    window = limiters.SlidingWindow(150)
    assert all(allowed(window, [10.5 + n / 1000 for n in range(150)]))
    assert window.allow(11.4) is False  # 150 within the second before
    assert window.allow(11.5) is True  # the first of them left the span
    assert window.allow(11.5) is False


def test_the_kinds_and_a_wrong_one() -> None:
    assert isinstance(limiters.make("none", 150, 5), limiters.Unlimited)
    with pytest.raises(ValueError, match="unknown limiter 'leaky'"):
        limiters.make("leaky", 150, 5)
