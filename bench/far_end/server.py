"""The far end for the Python limiters (bench/far_end/limiters.py): Messente's single send (POST
/v1/omnimessage, 201) and status call (GET /v1/omnimessage/{id}/status, DELIVRD) after
``--latency-ms``, every request through one limiter (429 when refused), every answer logged with
its arrival time. GET /_log returns the log ([time, status, kind] rows), POST /_reset clears it.
nginx's own limit_req runs in bench/far_end/nginx.py instead.

    python -m bench.far_end.server --port 8099 --limiter sliding-window --rate 150
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid

from aiohttp import web

from bench.far_end import limiters

TOO_MANY = {"errors": [{"code": "102", "title": "Too Many Requests", "detail": "rate limit"}]}


def make_app(limiter: limiters.Limiter, latency: float) -> web.Application:
    log: list[tuple[float, int, str]] = []

    async def answer(kind: str, body: dict[str, object], status: int) -> web.Response:
        now = time.time()
        if not limiter.allow(now):
            log.append((now, 429, kind))
            return web.json_response(TOO_MANY, status=429)
        log.append((now, status, kind))
        if latency:
            await asyncio.sleep(latency)
        return web.json_response(body, status=status)

    async def send(request: web.Request) -> web.Response:
        to = (await request.json()).get("to", "")
        omni = str(uuid.uuid4())
        body = {"messages": [{"message_id": omni, "channel": "sms", "sender": "far"}], "to": to,
                "omnimessage_id": omni}  # fmt: skip
        return await answer("send", body, 201)

    async def status(request: web.Request) -> web.Response:
        omni = request.match_info["id"]
        delivered = {"channel": "sms", "message_id": omni, "status": "DELIVRD", "err": 0}
        body = {"omnimessage_id": omni, "to": "+37251234567", "statuses": [delivered]}
        return await answer("poll", body, 200)

    async def read_log(_: web.Request) -> web.Response:
        return web.json_response(log)

    async def reset(_: web.Request) -> web.Response:
        log.clear()
        return web.json_response({})

    async def health(_: web.Request) -> web.Response:
        return web.json_response({})

    app = web.Application()
    app.add_routes([web.post("/v1/omnimessage", send), web.get("/v1/omnimessage/{id}/status", status),
                    web.get("/_log", read_log), web.post("/_reset", reset),
                    web.get("/_health", health)])  # fmt: skip
    return app


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--limiter", choices=limiters.KINDS, default="sliding-window")
    parser.add_argument("--rate", type=float, default=150.0)
    parser.add_argument("--burst", type=int, default=5, help="the token bucket's capacity")
    parser.add_argument("--latency-ms", type=float, default=20.0)
    args = parser.parse_args()
    app = make_app(limiters.make(args.limiter, args.rate, args.burst), args.latency_ms / 1000)
    web.run_app(app, host="127.0.0.1", port=args.port, print=None, access_log=None)


if __name__ == "__main__":
    main()
