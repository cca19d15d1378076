"""The decisions a worker keeps (WindowCache) answer exactly what ``decide`` answers, at every
moment: walked across two weeks that hold the US and EU DST changes, for numbers of one zone and of
many (Australia: the most restrictive reading)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from smsq.producers.windows.cache import WindowCache
from smsq.producers.windows.check import decide

NUMBERS = ["+12125550104", "+13105550123", "+33612345678", "+37251234567", "+61412345678"]


# Four days around each change, walked in steps that fall on and off the hour.
SPANS = [(datetime(2026, 3, 6, 0, 3, tzinfo=UTC), 4), (datetime(2026, 3, 27, 0, 3, tzinfo=UTC), 4)]


@pytest.mark.parametrize("step_minutes", [11, 60])
def test_kept_decisions_match_deciding_afresh(step_minutes: int) -> None:
    cache = WindowCache()
    for start, days in SPANS:
        at = start
        while at < start + timedelta(days=days):
            now_ms = int(at.timestamp() * 1000)
            for number in NUMBERS:
                decision = decide(number, at)
                expected = None if decision.opens_at is None else int(decision.opens_at.timestamp() * 1000)
                assert cache.opening_ms(number, now_ms) == expected, (number, at)
            at += timedelta(minutes=step_minutes)
