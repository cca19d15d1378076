"""The HTTP API's speed (issue 14): one `smsq api` process (uvicorn, one worker) on a private Redis.

1. single POST /v1/messages: accepted messages/s and p50/p99 latency, next to a bare endpoint in the
   same server (same app, same middleware) that parses the same JSON body and answers 202: the
   limit the server itself sets. Target: the real endpoint >= 50 % of the bare one.
2. POST /v1/messages/batch with 1,000 recipients each: recipients accepted per second.

No worker consumes the queues (what is measured is acceptance: validate, store, publish).
The load comes from aiohttp in this process, on the same machine, so client and server share its CPU.

    .venv/bin/python -m bench.api                          # 10 s a phase, 32 connections
    .venv/bin/python -m bench.api --seconds 5 --connections 16
    .venv/bin/python -m bench.api --seconds 3 --batch-only           # the batch phase alone
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from fastapi import Request
from fastapi.responses import Response

from bench.common import percentile, private_redis
from smsq.cli.processes import Stack, child_env, http_ready, wait_until
from smsq.cli.redis_server import free_port

MESSAGE = {
    "to": "+37251234567",
    "messages": [{"channel": "sms", "text": "Your code is 1234", "sender": "Shop"}],
}
BARE_PATH = "/_bench/bare"


def serve(redis_url: str, port: int) -> None:
    """The child: the real app plus the bare endpoint, under uvicorn as `smsq api` runs it."""
    import uvicorn

    from smsq.api.app import create_app
    from smsq.api.services import Services
    from smsq.config.settings import Settings

    app = create_app(Services.from_settings(Settings(_env_file=None, redis_url=redis_url)))  # type: ignore[call-arg]

    @app.post(BARE_PATH, include_in_schema=False)
    async def bare(request: Request) -> Response:
        json.loads(await request.body())
        return Response(b'{"status":"accepted"}', status_code=202, media_type="application/json")

    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def hammer(
    url: str, body: bytes, headers: dict[str, str], seconds: float, connections: int
) -> tuple[int, list[float], int]:
    """``connections`` loops posting ``body`` for ``seconds``: (2xx answers, latencies in s, others)."""
    latencies: list[float] = []
    refused = 0
    deadline = time.monotonic() + seconds
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:

        async def loop() -> None:
            nonlocal refused
            while time.monotonic() < deadline:
                started = time.perf_counter()
                async with session.post(url, data=body, headers=headers) as answer:
                    await answer.read()
                    if answer.status < 300:
                        latencies.append(time.perf_counter() - started)
                    else:
                        refused += 1

        await asyncio.gather(*(loop() for _ in range(connections)))
    return len(latencies), latencies, refused


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--batch-connections", type=int, default=4)
    parser.add_argument(
        "--batch-only", action="store_true", help="only the batch phase (a short smoke of the batch path)"
    )
    parser.add_argument("--serve", nargs=2, metavar=("REDIS_URL", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return

    from smsq.config.settings import Settings
    from smsq.producers.keys.store import KeyStore

    with (
        tempfile.TemporaryDirectory() as work,
        private_redis(Path(work)) as redis_server,
        Stack(Path(work)) as stack,
    ):
        port = free_port()
        argv = [sys.executable, "-m", "bench.api", "--serve", redis_server.url, str(port)]
        stack.start("api", argv, child_env())
        base = f"http://127.0.0.1:{port}"
        wait_until(http_ready(f"{base}/healthz"), timeout=60, what="the API")
        secret = (
            KeyStore.from_settings(Settings(_env_file=None, redis_url=redis_server.url))
            .create(  # type: ignore[call-arg]
                "bench", "send"
            )
            .secret
        )
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        body = json.dumps(MESSAGE).encode()
        rows = []
        singles = (
            []
            if args.batch_only
            else [("bare endpoint (parse JSON, 202)", BARE_PATH), ("POST /v1/messages", "/v1/messages")]
        )
        for name, path in singles:
            asyncio.run(hammer(base + path, body, headers, 1.0, args.connections))  # warm up
            count, latencies, refused = asyncio.run(
                hammer(base + path, body, headers, args.seconds, args.connections)
            )
            rows.append(
                (name, count / args.seconds, percentile(latencies, 50), percentile(latencies, 99), refused)
            )
        batch = json.dumps(
            {"messages": [{**MESSAGE, "to": f"+3725{i:07d}"} for i in range(args.batch_size)]}
        ).encode()
        batch_url = base + "/v1/messages/batch"
        asyncio.run(hammer(batch_url, batch, headers, 1.0, args.batch_connections))  # warm up
        count, latencies, refused = asyncio.run(
            hammer(batch_url, batch, headers, args.seconds, args.batch_connections)
        )
        print(f"one `smsq api` process, {args.connections} connections, {args.seconds:g} s a phase")
        if rows:
            print(f"{'endpoint':34} {'accepted/s':>11} {'p50 ms':>8} {'p99 ms':>8} {'refused':>8}")
            for name, rate, p50, p99, bad in rows:
                print(f"{name:34} {rate:11.0f} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {bad:8d}")
            print(f"real / bare: {rows[1][1] / max(rows[0][1], 1e-9):.0%}")
        recipients = count * args.batch_size / args.seconds
        print(
            f"POST /v1/messages/batch ({args.batch_size} a request, {args.batch_connections} connections): "
            f"{recipients:.0f} recipients/s accepted, p50 {percentile(latencies, 50) * 1000:.0f} ms, "
            f"p99 {percentile(latencies, 99) * 1000:.0f} ms, {refused} refused"
        )


if __name__ == "__main__":
    main()
