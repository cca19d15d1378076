"""A much faster far end for single-message throughput runs: nginx from Debian's packages, bound to
127.0.0.1 on a free port, answering POST /v1/omnimessage with a fixed Messente-shaped 201 body (and
SMSAPI's /smsapi/sms.do and Direct Messenger's /dm with theirs), after ``latency_ms`` with the echo
module's non-blocking ``echo_sleep`` (nginx-light and libnginx-mod-http-echo, installed with apt-get
when missing). The config is generated in a temporary
directory; nothing system-wide is touched. It answers only single sends (a bulk answer must echo the
request's entry count: the aiohttp stub in bench/stub.py does that, and bulk needs ~100x fewer
requests), and it counts nothing.

    python -m bench.nginx_stub --port 8099 --latency-ms 100      # runs in the foreground
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

from smsq.cli.processes import Stack, child_env, http_ready, wait_until
from smsq.cli.redis_server import free_port

ECHO_MODULE = Path("/usr/lib/nginx/modules/ngx_http_echo_module.so")
PACKAGES = ("nginx-light", "libnginx-mod-http-echo")
# SMSAPI's sms.do (format=json) and Direct Messenger's send answers, for their singles at the same far end.
SMSAPI_ANSWER = (
    '{"count":1,"list":[{"id":"6E0BA1B7A7A5","points":0.16,"number":"37251234567","status":"QUEUE"}]}'
)
DM_ANSWER = '{"status":"Success","dlr_id":"7d1c2a40"}'
ANSWER = (
    '{"messages":[{"message_id":"5a2c0a6e-0b1a-4c5e-9c61-3f0c1f4e2b7d","channel":"sms","sender":"stub"}],'
    '"to":"+37251234567","omnimessage_id":"0c7f3f7e-6a55-4d3e-8a86-0d8f5c1b9e21"}'
)


def nginx_binary() -> str:
    """nginx with the echo module, installed from Debian's packages when missing (every far end in
    bench/ that runs nginx comes here)."""
    if (binary := _installed()) is None:
        apt_install(PACKAGES)
        if (binary := _installed()) is None:
            raise RuntimeError(f"nginx with the echo module is needed: apt-get install {' '.join(PACKAGES)}")
    return binary


def apt_install(packages: Sequence[str]) -> None:
    """Debian's ``packages``, with the package lists fetched first if the install needs them."""
    install = ["apt-get", "install", "-y", "--no-install-recommends", *packages]
    if subprocess.run(install, check=False).returncode != 0:  # a fresh machine's lists are empty
        subprocess.run(["apt-get", "update"], check=True)
        subprocess.run(install, check=True)


def _installed() -> str | None:
    binary = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    return binary if binary is not None and ECHO_MODULE.exists() else None


def write_config(directory: Path, port: int, latency_ms: float, workers: int) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    os.chmod(directory, 0o777)  # nginx's worker processes run as nobody
    delay = f"echo_sleep {latency_ms / 1000:.3f};" if latency_ms > 0 else ""
    config = f"""
load_module {ECHO_MODULE};
worker_processes {workers};
pid {directory}/nginx.pid;
error_log {directory}/error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 300s;
    client_body_buffer_size 64k;
    server {{
        listen 127.0.0.1:{port} reuseport backlog=4096;
        location = /v1/omnimessage {{
            default_type application/json;
            echo_read_request_body;
            {delay}
            echo_status 201;
            echo -n '{ANSWER}';
        }}
        location = /smsapi/sms.do {{
            default_type application/json;
            echo_read_request_body;
            {delay}
            echo -n '{SMSAPI_ANSWER}';
        }}
        location ~ ^/dm/?$ {{
            default_type application/json;
            echo_read_request_body;
            {delay}
            echo -n '{DM_ANSWER}';
        }}
        location = /_health {{ default_type application/json; return 200 '{{}}'; }}
    }}
}}
"""
    path = directory / "nginx.conf"
    path.write_text(config)
    return path


def nginx_argv(directory: Path, port: int, latency_ms: float, workers: int = 1) -> list[str]:
    config = write_config(directory, port, latency_ms, workers)
    return [nginx_binary(), "-p", str(directory), "-c", str(config), "-g", "daemon off;"]


def start_nginx_stub(stack: Stack, directory: Path, *, latency_ms: float, workers: int = 1) -> str:
    port = free_port()
    stack.start("nginx-stub", nginx_argv(directory, port, latency_ms, workers), child_env())
    url = f"http://127.0.0.1:{port}"
    wait_until(http_ready(f"{url}/_health"), timeout=20, what="the nginx stub")
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--dir", type=Path, default=Path("/tmp/smsq-nginx-stub"))
    args = parser.parse_args()
    os.execv(nginx_binary(), nginx_argv(args.dir, args.port, args.latency_ms, args.workers))


if __name__ == "__main__":
    main()
