"""An API key's own rate limit (``--rate 50/s``): the providers' GCRA script (``lua/gcra.lua``) on
its own key, so every API process shares one limit on Redis server time.

The burst is one second's worth of the rate (at least one message): a key at 50/s may send 50 at
once after a quiet second. A batch costs one token per message; a batch larger than the burst is let
through only when the key's whole allowance is there (it has been idle), and the messages after it
wait for it to be paid off, so the long-run rate holds either way."""

from __future__ import annotations

import math

import redis

from smsq.producers.core import lua
from smsq.producers.core.keys import Keys
from smsq.producers.keys.store import ApiKey


class KeyLimiter:
    def __init__(self, client: redis.Redis, *, prefix: str = "smsq") -> None:
        self.keys = Keys(prefix)
        self._gcra = client.register_script(lua.GCRA)

    def acquire(self, key: ApiKey, cost: int = 1) -> float:
        """Take ``cost`` tokens from the key's limit: 0.0 when granted, else the seconds to wait
        (nothing was taken). A key without a rate is never limited."""
        rate = key.rate_per_second
        if rate is None or cost <= 0:
            return 0.0
        interval_us = math.ceil(1_000_000 / rate)
        tolerance_us = interval_us * max(1, math.ceil(rate), cost)
        wait_us = self._gcra(
            keys=[self.keys.api_key_rate(key.key_id)], args=[interval_us, tolerance_us, cost]
        )
        return int(wait_us) / 1_000_000
