"""The README's HTTP API examples, run as a reader would: the curl block with bash and the Node one
with node, against the API on loopback with a real key; each must answer what the README shows."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import httpx
import pytest

from tests.api.conftest import MakeKey

README = Path(__file__).resolve().parents[2] / "README.md"


def block(marker: str) -> str:
    match = re.search(rf"<!-- {marker}:.*?-->\n```\w+\n(.*?)```", README.read_text(), re.S)
    assert match, f"no {marker} block in the README"
    return match.group(1)


def run(argv: list[str], url: str, secret: str, cwd: Path) -> list[str]:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "SMSQ_API": url, "KEY": secret}
    done = subprocess.run(argv, env=env, cwd=cwd, capture_output=True, text=True, timeout=60, check=True)
    return done.stdout.strip().splitlines()


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_the_curl_example(http: httpx.Client, make_key: MakeKey, tmp_path: Path) -> None:
    script = tmp_path / "example.sh"
    script.write_text(block("api-curl-example"))
    accepted, refused = (
        json.loads(line) for line in run(["bash", str(script)], str(http.base_url), make_key(), tmp_path)
    )
    assert accepted["status"] == "queued" and accepted["duplicate"] is False and len(accepted["id"]) == 36
    assert refused["status"] == 422 and [e["field"] for e in refused["errors"]] == [
        "to",
        "messages.0.sms.text",
    ]


@pytest.mark.skipif(shutil.which("node") is None, reason="node is not installed")
def test_the_node_example(http: httpx.Client, make_key: MakeKey, tmp_path: Path) -> None:
    (tmp_path / "send.mjs").write_text(block("api-node-example"))
    secret = make_key()
    first = run(["node", "send.mjs"], str(http.base_url), secret, tmp_path)
    again = run(["node", "send.mjs"], str(http.base_url), secret, tmp_path)
    assert first == again and re.fullmatch(r"202 [0-9a-f-]{36} queued", first[0]), first
