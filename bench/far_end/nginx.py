"""nginx's own limiter as the far end: ``limit_req`` (a leaky bucket counted in milliseconds) at
150 requests/s, burst 5, nodelay, one zone for sends and status polls, answering like Messente after
``latency_ms`` (echo module). Every request is logged with nginx's arrival time and status, read back
as [time, status, kind] rows like the Python far end's. nginx comes from Debian's packages
(nginx-light, libnginx-mod-http-echo), installed with apt-get when missing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bench.nginx_stub import ECHO_MODULE, nginx_binary
from smsq.cli.processes import Stack, child_env, http_ready, wait_until
from smsq.cli.redis_server import free_port

SEND_ANSWER = (
    '{"messages":[{"message_id":"$request_id","channel":"sms","sender":"far"}],'
    '"to":"+37251234567","omnimessage_id":"$request_id"}'
)
STATUS_ANSWER = (
    '{"omnimessage_id":"$1","to":"+37251234567",'
    '"statuses":[{"channel":"sms","message_id":"$1","status":"DELIVRD","err":0}]}'
)


def write_config(directory: Path, port: int, *, rate: float, burst: int, latency_ms: float) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o777)  # nginx's worker processes run as nobody
    delay = f"echo_sleep {latency_ms / 1000:.3f};" if latency_ms > 0 else ""
    config = f"""
load_module {ECHO_MODULE};
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log crit;
events {{ worker_connections 4096; }}
http {{
    log_format arrivals '$msec $status $request_method $uri';
    access_log {directory}/arrivals.log arrivals;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    limit_req_zone $server_name zone=provider:1m rate={rate:g}r/s;
    limit_req_status 429;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /_health {{ access_log off; default_type application/json; return 200 '{{}}'; }}
        location = /v1/omnimessage {{
            limit_req zone=provider burst={burst} nodelay;
            default_type application/json;
            echo_read_request_body;
            {delay}
            echo_status 201;
            echo -n '{SEND_ANSWER}';
        }}
        location ~ ^/v1/omnimessage/([^/]+)/status$ {{
            limit_req zone=provider burst={burst} nodelay;
            default_type application/json;
            {delay}
            echo -n '{STATUS_ANSWER}';
        }}
    }}
}}
"""
    path = directory / "nginx.conf"
    path.write_text(config)
    return path


def start(
    stack: Stack,
    directory: Path,
    *,
    rate: float,
    burst: int,
    latency_ms: float,
    priority: Sequence[str] = (),
) -> str:
    port = free_port()
    config = write_config(directory, port, rate=rate, burst=burst, latency_ms=latency_ms)
    argv = [*priority, nginx_binary(), "-p", str(directory), "-c", str(config), "-g", "daemon off;"]
    stack.start("far-end-nginx", argv, child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(f"{url}/_health"), timeout=20, what="nginx")
    return url


def read_log(directory: Path) -> list[tuple[float, int, str]]:
    """[time, status, kind] per send or poll nginx answered (the health checks left out)."""
    rows: list[tuple[float, int, str]] = []
    path = directory / "arrivals.log"
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 4 or not parts[1].isdigit():
            continue
        at, status, method, uri = float(parts[0]), int(parts[1]), parts[2], parts[3]
        if method == "POST" and uri == "/v1/omnimessage":
            rows.append((at, status, "send"))
        elif method == "GET" and uri.startswith("/v1/omnimessage/") and uri.endswith("/status"):
            rows.append((at, status, "poll"))
    return rows
