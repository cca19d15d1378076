"""A fast loopback stand-in for Messente's delivery-status call, for the status-poll benchmark only.

GET /v1/omnimessage/{id}/status answers 200 like Messente after ``--latency-ms``. The id decides the
outcome, so the stub keeps no state per message: ids ``bench-<n>`` end DELIVRD, except n % 20 == 17
UNDELIV, 18 FAILED, 19 EXPIRED; with ``--pending-first`` the first call for an id answers ACK (still
in progress), so every message is polled twice and rescheduled once. GET /_stats returns call counts.

    python bench/status_stub.py --port 8098 --latency-ms 5
"""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from aiohttp import web

FINAL = {
    17: ("UNDELIV", 1, "Delivery failure"),
    18: ("FAILED", 3, "Invalid number"),
    19: ("EXPIRED", 2, "Expired"),
}


def make_app(latency: float, pending_first: bool) -> web.Application:
    seen: set[str] = set()
    calls = {"total": 0, "pending": 0}

    def result(omnimessage_id: str) -> dict[str, Any]:
        if pending_first and omnimessage_id not in seen:
            seen.add(omnimessage_id)
            calls["pending"] += 1
            return {"status": "ACK", "err": 0, "error": None}
        number = int(omnimessage_id.rsplit("-", 1)[-1]) if omnimessage_id[-1:].isdigit() else 0
        status, err, error = FINAL.get(number % 20, ("DELIVRD", 0, None))
        return {"status": status, "err": err, "error": error}

    async def status(request: web.Request) -> web.Response:
        calls["total"] += 1
        omnimessage_id = request.match_info["omnimessage_id"]
        if latency:
            await asyncio.sleep(latency)
        entry = {"channel": "sms", "message_id": f"{omnimessage_id}-sms", "sender": "stub",
                 "timestamp": "2026-01-01T00:00:00", **result(omnimessage_id)}  # fmt: skip
        return web.json_response(
            {"statuses": [entry], "to": "+37251234567", "omnimessage_id": omnimessage_id}
        )

    async def stats(_: web.Request) -> web.Response:
        return web.json_response(calls)

    async def health(_: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.add_routes([web.get("/v1/omnimessage/{omnimessage_id}/status", status), web.get("/_stats", stats),
                    web.get("/_health", health)])  # fmt: skip
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--pending-first", action="store_true")
    args = parser.parse_args()
    app = make_app(args.latency_ms / 1000, args.pending_first)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
