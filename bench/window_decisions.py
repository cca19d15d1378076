"""What the send-window check adds to a campaign chunk of 100 recipients (smsq.workers.sending.windows):
the decisions a worker keeps (``WindowCache``), warm and cold, against deciding each recipient
afresh (``decide``). Pure CPU, no Redis: the deferral's own round trip happens only when some
message of the chunk is deferred.

    .venv/bin/python -m bench.window_decisions
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

from smsq.producers.windows.cache import WindowCache
from smsq.producers.windows.check import decide

CHUNK = 100
ROUNDS = 200
AT = datetime(2026, 12, 8, 14, 30, tzinfo=UTC)  # a Tuesday: open in New York and Paris, shut in LA
PREFIXES = ("+1212555", "+1310555", "+3361234", "+3725123", "+6141234")  # NY, LA, FR, EE, AU


def chunk(offset: int) -> list[str]:
    return [f"{PREFIXES[n % len(PREFIXES)]}{(offset + n) % 10_000:04d}" for n in range(CHUNK)]


def per_chunk_us(run: Callable[[list[str]], object]) -> float:
    chunks = [chunk(i * CHUNK) for i in range(ROUNDS)]
    started = time.perf_counter()
    for numbers in chunks:
        run(numbers)
    return (time.perf_counter() - started) / ROUNDS * 1e6


def main() -> None:
    now_ms = int(AT.timestamp() * 1000)
    kept = WindowCache()

    def warm(numbers: list[str]) -> object:
        return [kept.opening_ms(n, now_ms) for n in numbers]

    def cold(numbers: list[str]) -> object:
        fresh = WindowCache()
        return [fresh.opening_ms(n, now_ms) for n in numbers]

    def naive(numbers: list[str]) -> object:
        return [decide(n, AT) for n in numbers]

    warm(chunk(0))
    print(f"a chunk of {CHUNK} recipients in {len(PREFIXES)} number ranges, mean of {ROUNDS} chunks:")
    print(f"  kept decisions, warm (a worker's steady state): {per_chunk_us(warm):8.0f} us")
    print(f"  kept decisions, cold (a new cache per chunk):   {per_chunk_us(cold):8.0f} us")
    print(f"  decide() per recipient (no cache):              {per_chunk_us(naive):8.0f} us")


if __name__ == "__main__":
    main()
