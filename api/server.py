"""Serving the API: blocking ``run`` for `smsq api`, ``running_api`` for tests, the demo and bench."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator

import httpx
import uvicorn

from smsq.api.app import create_app
from smsq.api.services import Services
from smsq.cli.processes import wait_until
from smsq.cli.redis_server import free_port
from smsq.config.settings import Settings
from smsq.telemetry.cost_events import count_cost_events
from smsq.telemetry.hooks import build_telemetry

STARTUP_TIMEOUT_SECONDS = 10.0


def run(settings: Settings, host: str, port: int, *, log_level: str = "info") -> None:
    found = Services.from_settings(settings)
    # Cap and pumping-guard events happen where messages are accepted: into this process's metrics.
    # (Once per process, here: the hook is process-wide, so not in Services, which tests build often.)
    count_cost_events(build_telemetry(settings.metrics, found.smsq.store.redis, settings.key_prefix))
    # The access log has the request line only: never a header, so never a key.
    uvicorn.run(create_app(found), host=host, port=port, log_level=log_level)


@contextlib.contextmanager
def running_api(found: Services, host: str = "127.0.0.1", port: int = 0) -> Iterator[str]:
    """Serve the API in a background thread on a free port; yields its base URL once it answers."""
    bound = port or free_port()
    config = uvicorn.Config(create_app(found), host=host, port=bound, log_level="warning", access_log=False)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name=f"api-{bound}", daemon=True)
    thread.start()
    url = f"http://{host}:{bound}"
    try:
        wait_until(lambda: _answers(url, thread), timeout=STARTUP_TIMEOUT_SECONDS, what=f"the API at {url}")
        yield url
    finally:
        server.should_exit = True
        thread.join(timeout=STARTUP_TIMEOUT_SECONDS)


def _answers(url: str, thread: threading.Thread) -> bool:
    if not thread.is_alive():
        raise RuntimeError(f"the API at {url} stopped during start-up")
    try:
        return httpx.get(f"{url}/healthz", timeout=0.5).status_code == 200
    except httpx.TransportError:
        return False
