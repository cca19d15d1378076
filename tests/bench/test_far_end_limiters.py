"""The far end's limiters refuse exactly what their algorithm says: they are the instrument the 429
counts of bench.far_end.run are read from. Each case runs against both implementations, the Python
one (bench/far_end/limiters.py, the aiohttp far end) and the Lua one nginx runs
(bench/far_end/limiters.lua), the very file, in Redis's Lua interpreter."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import pytest
import redis

from bench.far_end import limiters

LUA_FILE = Path(limiters.__file__).with_suffix(".lua")
# limiters.lua returns its module: wrapped in a function, it runs as a script's first lines.
DRIVER = """
local M = (function()
{module}
end)()
local allow = M.new(ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]))
local out = {{}}
for i = 4, #ARGV do out[#out + 1] = allow(tonumber(ARGV[i])) and 1 or 0 end
return out
"""

Run = Callable[[str, float, int, Sequence[float]], list[bool]]


@pytest.fixture(params=["python", "lua"])
def run(request: pytest.FixtureRequest) -> Run:
    if request.param == "python":

        def in_python(kind: str, rate: float, capacity: int, times: Sequence[float]) -> list[bool]:
            limiter = limiters.make(kind, rate, capacity)
            return [limiter.allow(t) for t in times]

        return in_python
    client: redis.Redis = request.getfixturevalue("redis_client")
    script = DRIVER.format(module=LUA_FILE.read_text())

    def in_lua(kind: str, rate: float, capacity: int, times: Sequence[float]) -> list[bool]:
        replies = client.eval(script, 0, kind, rate, capacity, *(repr(t) for t in times))
        return [reply == 1 for reply in replies]  # type: ignore[union-attr]

    return in_lua


def test_a_token_bucket_lets_its_capacity_through_at_once_then_the_rate(run: Run) -> None:
    times = [0.0] * 6 + [1 / 150 + 1e-9, 1 / 150 + 2e-9]
    assert run("token-bucket", 150, 5, times) == [True] * 5 + [False] + [True, False]


def test_fixed_windows_count_per_calendar_second(run: Run) -> None:
    times = [10.5] * 151 + [10.999, 11.0]  # 10.999 is still full; 11.0 is a new second, a new count
    assert run("fixed-window", 150, 5, times) == [True] * 150 + [False] + [False, True]


def test_a_sliding_window_counts_any_one_second_span(run: Run) -> None:
    times = [10.5 + n / 1000 for n in range(150)] + [11.4, 11.5, 11.5]
    # 11.4: 150 within the second before; 11.5: the first of them left the span; then full again
    assert run("sliding-window", 150, 5, times) == [True] * 150 + [False, True, False]


def test_a_sliding_window_does_not_count_a_refused_request(run: Run) -> None:
    times = [0.0] * 150 + [0.5] * 10 + [1.0] * 151
    # the ten refused at 0.5 took no place: at 1.0 the whole limit is free again, and no more
    assert run("sliding-window", 150, 5, times)[150:] == [False] * 10 + [True] * 150 + [False]


def test_the_kinds_and_a_wrong_one() -> None:
    assert isinstance(limiters.make("none", 150, 5), limiters.Unlimited)
    with pytest.raises(ValueError, match="unknown limiter 'leaky'"):
        limiters.make("leaky", 150, 5)
