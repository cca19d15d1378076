"""Serving the sandbox: blocking `run` for the CLI, `running_sandbox` for tests and the demo."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import httpx
import uvicorn

from smsq.sandbox.app import create_app
from smsq.sandbox.config import SandboxConfig

STARTUP_TIMEOUT_SECONDS = 10.0
# A request held by a "timeout" fault must not hold up shutdown for its whole duration.
GRACEFUL_SHUTDOWN_SECONDS = 1


def run(host: str, port: int, config: SandboxConfig | None = None) -> None:
    uvicorn.run(
        create_app(config),
        host=host,
        port=port,
        log_level="warning",
        timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
    )


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        port: int = probe.getsockname()[1]
        return port


@contextlib.contextmanager
def running_sandbox(
    config: SandboxConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> Iterator[str]:
    """Serve the sandbox in a background thread; yields its base URL once it answers."""
    bound_port = port or _free_port(host)
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config),
            host=host,
            port=bound_port,
            log_level="warning",
            lifespan="on",
            timeout_graceful_shutdown=GRACEFUL_SHUTDOWN_SECONDS,
        )
    )
    thread = threading.Thread(target=server.run, name=f"sandbox-{bound_port}", daemon=True)
    thread.start()
    base_url = f"http://{host}:{bound_port}"
    try:
        _wait_until_ready(base_url, thread)
        yield base_url
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)


def _wait_until_ready(base_url: str, thread: threading.Thread) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if not thread.is_alive():
            raise RuntimeError(f"sandbox at {base_url} stopped during start-up")
        try:
            if httpx.get(f"{base_url}/_admin/health", timeout=0.5).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"sandbox at {base_url} did not answer within {STARTUP_TIMEOUT_SECONDS} s")
