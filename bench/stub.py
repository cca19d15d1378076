"""A fast loopback stand-in for Messente's send calls, for benchmarks only (the sandbox keeps state
and validates, so it is too slow to be the far end of a throughput test).

POST /v1/omnimessage and /v1/omnimessages answer 201 like Messente after ``--latency-ms``. Requests
whose ``to`` is in the watched range (``--watch-prefix``) have their arrival time recorded, so a
benchmark can measure producer-to-provider latency and count duplicates. GET /_stats returns totals
and the watched arrivals; GET /_counts how many requests reached it per recipient (bench/faults.py);
POST /_mode {"mode": "ok" | "500" | "hang" | "garbage" | "429"} makes it answer every send that way
(hang: no answer for 120 s; 429: Retry-After 2 s); POST /_reset clears everything.

    python bench/stub.py --port 8099 --latency-ms 50
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
import uuid
from collections import defaultdict
from typing import Any

from aiohttp import web


class Stats:
    def __init__(self, watch_prefix: str) -> None:
        self.watch_prefix = watch_prefix
        self.total = 0
        self.arrivals: dict[str, list[float]] = defaultdict(list)
        self.counts: dict[str, int] = defaultdict(int)

    def saw(self, to: str, at: float) -> None:
        self.total += 1
        self.counts[to] += 1
        if to.startswith(self.watch_prefix):
            self.arrivals[to].append(at)


def make_app(latency: float, watch_prefix: str, limit_per_second: float | None) -> web.Application:
    stats = Stats(watch_prefix)
    window: list[float] = []  # arrival times in the last second, for the optional 429 check
    too_many = 0
    mode = ["ok"]

    async def faulty() -> web.Response | None:
        """The answer every send gets while a fault mode is on (the request is not counted: it failed)."""
        if mode[0] == "500":
            return web.json_response(
                {"errors": [{"code": "104", "title": "down", "detail": "down"}]}, status=500
            )
        if mode[0] == "hang":
            await asyncio.sleep(120)
            return web.json_response({}, status=504)
        if mode[0] == "garbage":
            return web.Response(text="<html>gateway</html>", status=201, content_type="text/html")
        if mode[0] == "429":
            return web.json_response({"errors": [{"code": "429"}]}, status=429, headers={"Retry-After": "2"})
        return None

    def over_limit(now: float) -> bool:
        nonlocal too_many
        if limit_per_second is None:
            return False
        while window and window[0] <= now - 1:
            window.pop(0)
        if len(window) >= limit_per_second:
            too_many += 1
            return True
        window.append(now)
        return False

    def accepted(to: str) -> dict[str, Any]:
        return {"messages": [{"message_id": str(uuid.uuid4()), "channel": "sms", "sender": "stub"}],
                "to": to, "omnimessage_id": str(uuid.uuid4())}  # fmt: skip

    async def one(request: web.Request) -> web.Response:
        now = time.time()
        body = await request.json()
        if over_limit(now):
            return web.json_response({"errors": [{"code": "429"}]}, status=429)
        if (fault := await faulty()) is not None:
            return fault
        stats.saw(body.get("to", ""), now)
        if latency:
            await asyncio.sleep(latency)
        return web.json_response(accepted(body.get("to", "")), status=201)

    async def many(request: web.Request) -> web.Response:
        now = time.time()
        body = await request.json()
        if over_limit(now):
            return web.json_response({"errors": [{"code": "429"}]}, status=429)
        if (fault := await faulty()) is not None:
            return fault
        entries = body.get("messages", [])
        for entry in entries:
            stats.saw(entry.get("to", ""), now)
        if latency:
            await asyncio.sleep(latency)
        return web.json_response({"messages": [accepted(e.get("to", "")) for e in entries]}, status=201)

    async def read_stats(_: web.Request) -> web.Response:
        return web.Response(
            text=json.dumps({"total": stats.total, "too_many": too_many, "arrivals": stats.arrivals}),
            content_type="application/json",
        )

    async def reset(_: web.Request) -> web.Response:
        nonlocal too_many
        stats.total, too_many = 0, 0
        stats.arrivals.clear()
        stats.counts.clear()
        mode[0] = "ok"
        return web.json_response({})

    async def read_counts(_: web.Request) -> web.Response:
        return web.Response(text=json.dumps(stats.counts), content_type="application/json")

    async def set_mode(request: web.Request) -> web.Response:
        mode[0] = str((await request.json())["mode"])
        return web.json_response({"mode": mode[0]})

    app = web.Application()
    app.add_routes([web.post("/v1/omnimessage", one), web.post("/v1/omnimessages", many),
                    web.get("/_stats", read_stats), web.post("/_reset", reset),
                    web.get("/_counts", read_counts), web.post("/_mode", set_mode),
                    web.get("/_health", lambda _: asyncio.sleep(0, web.json_response({})))])  # fmt: skip
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--watch-prefix", default="+3712")
    parser.add_argument("--limit-per-second", type=float, default=None, help="answer 429 above this rate")
    args = parser.parse_args()
    app = make_app(args.latency_ms / 1000, args.watch_prefix, args.limit_per_second)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
