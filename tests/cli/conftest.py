"""The command line as a user runs it: `smsq ...` in-process on the session's private Redis, with
no SMSQ_* variables or .env of the machine leaking in."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import redis

from smsq.cli.main import main
from smsq.cli.redis_server import RedisServer

Run = Callable[..., tuple[int, str, str]]


@pytest.fixture
def run(
    redis_server: RedisServer,
    redis_client: redis.Redis,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> Run:
    monkeypatch.chdir(tmp_path)  # no .env
    for name in [n for n in os.environ if n.startswith("SMSQ_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("SMSQ_REDIS_URL", redis_server.url)
    monkeypatch.setenv("COLUMNS", "200")

    def invoke(*args: str) -> tuple[int, str, str]:
        monkeypatch.setattr(sys, "argv", ["smsq", *args])
        code = 0
        try:
            main()
        except SystemExit as exit_:
            code = int(exit_.code or 0)
        out, err = capsys.readouterr()
        return code, out, err

    return invoke
