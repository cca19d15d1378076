"""Many requests' calls to a synchronous function gathered into one: the event loop's Redis work
(marking records before their requests leave, new rate-limit slots for late ones) done in a thread,
one call for everything that arrived while the previous call was on its way."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any


class Gatherer:
    """Calls a synchronous function (the store's and the limiter's Redis clients are synchronous) for
    many requests at once, in a thread: while one call is on its way the next requests gather.
    ``fn(items)`` answers with one result per item, or fewer (the rest get None), or None (all None)."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self._pending: dict[Callable[[list[Any]], Any], list[tuple[Any, asyncio.Future[Any]]]] = {}
        self._flushing = False
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="smsq-gather")

    async def call(self, fn: Callable[[list[Any]], Sequence[Any] | object], item: Any) -> Any:
        done: asyncio.Future[Any] = self.loop.create_future()
        self._pending.setdefault(fn, []).append((item, done))
        if not self._flushing:
            self._flushing = True
            self.loop.create_task(self._flush())
        return await done

    async def _flush(self) -> None:
        try:
            while self._pending:
                batch, self._pending = self._pending, {}
                for fn, waiting in batch.items():
                    try:
                        results = await self.loop.run_in_executor(self._thread, fn, [i for i, _ in waiting])
                    except Exception as exc:
                        for _, done in waiting:
                            done.set_exception(exc)
                        continue
                    each = results if isinstance(results, Sequence) else ()
                    for k, (_, done) in enumerate(waiting):
                        done.set_result(each[k] if k < len(each) else None)
        finally:
            self._flushing = False

    def close(self) -> None:
        self._thread.shutdown(wait=False)
