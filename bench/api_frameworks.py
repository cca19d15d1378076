"""The HTTP API's framework, chosen by measurement (issue 14): the same endpoint in FastAPI, Starlette
and Litestar, each on uvicorn (one process, as `smsq api` runs), measured one after the other in one
run with the same aiohttp load from this process.

The endpoint does what `POST /v1/messages` does before it touches Redis: read the body, validate it
with the project's own `parse_omnimessage` (the producer API's validation, limits and all), answer
202 with a small JSON body. FastAPI is measured twice: with the body read by hand as smsq's routes
do, and with the model as a typed body parameter (FastAPI validating it itself).

    .venv/bin/python -m bench.api_frameworks                     # 10 s each, 32 connections
    .venv/bin/python -m bench.api_frameworks --seconds 5 --connections 16

Litestar comes with the `bench` extra.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import httpx
import uvicorn
from fastapi import FastAPI
from fastapi import Request as FastApiRequest
from fastapi.responses import Response as FastApiResponse
from litestar import Litestar, post
from litestar import Request as LitestarRequest
from litestar import Response as LitestarResponse
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bench.api import MESSAGE, hammer
from bench.common import percentile
from smsq.cli.processes import Stack, child_env, wait_until
from smsq.cli.redis_server import free_port
from smsq.producers.messages.models import Omnimessage, parse_omnimessage

PATH = "/v1/validate"
ACCEPTED = b'{"status":"accepted"}'
FRAMEWORKS = ("starlette", "fastapi", "fastapi-typed", "litestar")


def validate(raw: bytes) -> Any:
    return parse_omnimessage(json.loads(raw))


def starlette_app() -> Any:
    async def endpoint(request: Request) -> Response:
        validate(await request.body())
        return Response(ACCEPTED, status_code=202, media_type="application/json")

    return Starlette(routes=[Route(PATH, endpoint, methods=["POST"])])


async def fastapi_typed(message: Omnimessage) -> FastApiResponse:
    return FastApiResponse(ACCEPTED, status_code=202, media_type="application/json")


async def fastapi_by_hand(request: FastApiRequest) -> FastApiResponse:
    validate(await request.body())
    return FastApiResponse(ACCEPTED, status_code=202, media_type="application/json")


def fastapi_app(typed: bool) -> Any:
    app = FastAPI()
    app.post(PATH, status_code=202)(fastapi_typed if typed else fastapi_by_hand)
    return app


@post(PATH, status_code=202)
async def litestar_endpoint(request: LitestarRequest[Any, Any, Any]) -> LitestarResponse[bytes]:
    validate(await request.body())
    return LitestarResponse(ACCEPTED, status_code=202, media_type="application/json")


def litestar_app() -> Any:
    return Litestar(route_handlers=[litestar_endpoint])


def serve(framework: str, port: int) -> None:
    apps = {
        "starlette": starlette_app,
        "fastapi": lambda: fastapi_app(typed=False),
        "fastapi-typed": lambda: fastapi_app(typed=True),
        "litestar": litestar_app,
    }
    uvicorn.run(apps[framework](), host="127.0.0.1", port=port, log_level="warning", access_log=False)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--frameworks", default=",".join(FRAMEWORKS))
    parser.add_argument("--serve", nargs=2, metavar=("FRAMEWORK", "PORT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve[0], int(args.serve[1]))
        return
    body = json.dumps(MESSAGE).encode()
    headers = {"Content-Type": "application/json"}
    rows = []
    for framework in args.frameworks.split(","):
        with tempfile.TemporaryDirectory() as work, Stack(Path(work)) as stack:
            port = free_port()
            argv = [sys.executable, "-m", "bench.api_frameworks", "--serve", framework, str(port)]
            stack.start(framework, argv, child_env())
            url = f"http://127.0.0.1:{port}{PATH}"
            wait_until(_answers(url, body), timeout=60, what=framework)
            asyncio.run(hammer(url, body, headers, 1.0, args.connections))  # warm up
            count, latencies, refused = asyncio.run(
                hammer(url, body, headers, args.seconds, args.connections)
            )
            rows.append(
                (
                    framework,
                    count / args.seconds,
                    percentile(latencies, 50),
                    percentile(latencies, 99),
                    refused,
                )
            )
    print(f"one uvicorn process each, {args.connections} connections, {args.seconds:g} s each")
    print(f"{'framework':16} {'validated/s':>12} {'p50 ms':>8} {'p99 ms':>8} {'refused':>8}")
    for name, rate, p50, p99, bad in rows:
        print(f"{name:16} {rate:12.0f} {p50 * 1000:8.1f} {p99 * 1000:8.1f} {bad:8d}")


def _answers(url: str, body: bytes) -> Any:
    def check() -> bool:
        try:
            answer = httpx.post(url, content=body, headers={"Content-Type": "application/json"})
        except httpx.HTTPError:
            return False
        return answer.status_code == 202

    return check


if __name__ == "__main__":
    main()
