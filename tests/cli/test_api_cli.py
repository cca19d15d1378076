"""`smsq api` serves the API under uvicorn, as a deployment runs it."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx

from smsq.cli.processes import child_env, http_ready, smsq_command, wait_until
from smsq.cli.redis_server import RedisServer, free_port
from smsq.config.settings import Settings
from smsq.producers.keys.store import KeyStore


def test_smsq_api_serves_on_the_given_port(
    redis_server: RedisServer, redis_client: object, settings: Settings, tmp_path: Path
) -> None:
    port = free_port()
    log = (tmp_path / "api.log").open("wb")
    process = subprocess.Popen(
        smsq_command("api", "--port", str(port), "--log-level", "warning"),
        env=child_env(redis_url=redis_server.url), stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )  # fmt: skip
    try:
        wait_until(http_ready(f"http://127.0.0.1:{port}/healthz"), timeout=30, what="smsq api")
        secret = KeyStore.from_settings(settings).create("cli", "read").secret
        answer = httpx.get(f"http://127.0.0.1:{port}/v1/messages", params={"ids": "x"},
                           headers={"Authorization": f"Bearer {secret}"})  # fmt: skip
        assert answer.status_code == 422  # authenticated against the same Redis, then refused the id
    finally:
        process.terminate()
        process.wait(timeout=15)
