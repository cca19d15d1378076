"""The far end in nginx: its own ``limit_req`` (a leaky bucket counted in milliseconds) at 150
requests/s, burst 5, nodelay, or one of the other common limiters (token bucket, fixed and sliding
one-second windows: bench/far_end/limiters.lua, run by nginx's Lua module, which reads the clock per
request), one limit for sends and status polls, answering like Messente after ``latency_ms`` (echo
module). Every request is logged with nginx's time and status, read back as [time, status, kind]
rows like the Python far end's. nginx comes from Debian's packages (nginx-light,
libnginx-mod-http-echo, libnginx-mod-http-lua), installed with apt-get when missing."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

from bench.nginx_stub import ECHO_MODULE, apt_install, nginx_binary
from smsq.cli.processes import Stack, child_env, http_ready, wait_until
from smsq.cli.redis_server import free_port

SEND_ANSWER = (
    '{"messages":[{"message_id":"$request_id","channel":"sms","sender":"far"}],'
    '"to":"+37251234567","omnimessage_id":"$request_id"}'
)
LUA_LIMITERS = ("token-bucket", "fixed-window", "sliding-window")  # bench/far_end/limiters.lua
LUA_MODULES = (Path("/usr/lib/nginx/modules/ndk_http_module.so"),
               Path("/usr/lib/nginx/modules/ngx_http_lua_module.so"))  # fmt: skip
LUA_PACKAGE = "libnginx-mod-http-lua"
# The clock read per request (update_time), not nginx's time cached per event loop pass.
LUA_ACCESS = (
    "access_by_lua_block { ngx.update_time() if not far_end_allow(ngx.now()) then return ngx.exit(429) end }"
)
STATUS_ANSWER = (
    '{"omnimessage_id":"$1","to":"+37251234567",'
    '"statuses":[{"channel":"sms","message_id":"$1","status":"DELIVRD","err":0}]}'
)


def write_config(
    directory: Path, port: int, *, rate: float, burst: int, latency_ms: float, limiter: str = "nginx"
) -> Path:
    """``limiter``: "nginx" (limit_req) or one of LUA_LIMITERS."""
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o777)  # nginx's worker processes run as nobody
    delay = f"echo_sleep {latency_ms / 1000:.3f};" if latency_ms > 0 else ""
    if limiter == "nginx":
        modules, init = "", f"limit_req_zone $server_name zone=provider:1m rate={rate:g}r/s;"
        limit = f"limit_req zone=provider burst={burst} nodelay;"
    elif limiter in LUA_LIMITERS:
        # One worker process: the limiter's state is that process's (as limit_req's zone is one).
        modules = "".join(f"load_module {module};\n" for module in LUA_MODULES)
        init = (f'lua_package_path "{Path(__file__).parent}/?.lua;;";\n'
                f'    init_by_lua_block {{ far_end_allow = require("limiters").new("{limiter}", {rate:g}, '
                f"{burst}) }}")  # fmt: skip
        limit = LUA_ACCESS
    else:
        raise ValueError(f"unknown limiter {limiter!r}; nginx or one of {', '.join(LUA_LIMITERS)}")
    config = f"""
{modules}load_module {ECHO_MODULE};
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log crit;
events {{ worker_connections 4096; }}
http {{
    log_format arrivals '$msec $request_time $status $request_method $uri';
    access_log {directory}/arrivals.log arrivals;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    {init}
    limit_req_status 429;
    server {{
        listen 127.0.0.1:{port} backlog=4096;
        location = /_health {{ access_log off; default_type application/json; return 200 '{{}}'; }}
        location = /v1/omnimessage {{
            {limit}
            default_type application/json;
            echo_read_request_body;
            {delay}
            echo_status 201;
            echo -n '{SEND_ANSWER}';
        }}
        location ~ ^/v1/omnimessage/([^/]+)/status$ {{
            {limit}
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
    limiter: str = "nginx",
) -> str:
    binary = nginx_binary()
    if limiter != "nginx":
        _lua_module()
    port = free_port()
    config = write_config(directory, port, rate=rate, burst=burst, latency_ms=latency_ms, limiter=limiter)
    argv = [*priority, binary, "-p", str(directory), "-c", str(config), "-g", "daemon off;"]
    stack.start(f"far-end-{limiter}", argv, child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(f"{url}/_health"), timeout=20, what="nginx")
    return url


def _lua_module() -> None:
    """nginx's Lua module from Debian's packages, installed with apt-get when missing."""
    if all(module.exists() for module in LUA_MODULES):
        return
    apt_install([LUA_PACKAGE])
    if not all(module.exists() for module in LUA_MODULES):
        raise RuntimeError(f"nginx's Lua module is needed: apt-get install {LUA_PACKAGE}")


def read_log(directory: Path) -> list[tuple[float, int, str]]:
    """[arrival time, status, kind] per send or poll nginx answered (the health checks left out)."""
    rows: list[tuple[float, int, str]] = []
    path = directory / "arrivals.log"
    if not path.exists():
        return rows
    for line in path.read_text().splitlines():
        parts = line.split()
        if len(parts) != 5 or not parts[2].isdigit():
            continue
        # $msec is when the answer was logged (after the latency): less $request_time, the arrival
        at = round(float(parts[0]) - float(parts[1]), 3)
        status, method, uri = int(parts[2]), parts[3], parts[4]
        if method == "POST" and uri == "/v1/omnimessage":
            rows.append((at, status, "send"))
        elif method == "GET" and uri.startswith("/v1/omnimessage/") and uri.endswith("/status"):
            rows.append((at, status, "poll"))
    return rows
