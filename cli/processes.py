"""Child processes of smsq (sandbox, workers, beat) started and stopped as one stack, leaving nothing
behind. The demo uses it; so do the integration tests."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

import httpx

STOP_TIMEOUT_SECONDS = 15.0


def smsq_command(*args: str) -> list[str]:
    """Run the smsq CLI with the current interpreter, so a venv is never mixed up."""
    return [sys.executable, "-m", "smsq.cli", *args]


def child_env(**smsq: str) -> dict[str, str]:
    """The current environment with every SMSQ_ setting replaced: children see only what we pass."""
    env = {name: value for name, value in os.environ.items() if not name.startswith("SMSQ_")}
    env.update({f"SMSQ_{name.upper()}": value for name, value in smsq.items()})
    return env


class Child:
    def __init__(self, name: str, argv: list[str], env: Mapping[str, str], log_path: Path) -> None:
        self.name = name
        self.log_path = log_path
        self._log = log_path.open("ab")
        # A session of its own: Ctrl-C in the terminal reaches the demo, which then stops the
        # children in order, and a whole process group (Celery's pool) is stopped at once.
        self.process = subprocess.Popen(
            argv, env=dict(env), stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True
        )

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.alive():
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, sig)
            try:
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=STOP_TIMEOUT_SECONDS)
        # The group may still hold pool children that outlived their parent.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self._log.close()

    def log_tail(self, lines: int = 30) -> str:
        text = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
        return "\n".join(text.splitlines()[-lines:])


class Stack:
    """Start children in order; stop them in reverse order on exit, whatever happened."""

    def __init__(self, log_dir: Path) -> None:
        self.log_dir = log_dir
        self.children: list[Child] = []

    def start(self, name: str, argv: list[str], env: Mapping[str, str]) -> Child:
        child = Child(name, argv, env, self.log_dir / f"{name}.log")
        self.children.append(child)
        return child

    def stop(self) -> None:
        while self.children:
            self.children.pop().stop()

    def __enter__(self) -> Stack:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self.stop()


def wait_until(condition: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.05) -> None:
    """Poll ``condition`` until it holds, or raise TimeoutError naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(interval)


def http_ready(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            return httpx.get(url, timeout=0.5).status_code < 500
        except httpx.TransportError:
            return False

    return check
