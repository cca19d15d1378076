"""A RabbitMQ vhost of the test's own on the machine's RabbitMQ (127.0.0.1:5672, guest/guest), made
and deleted with rabbitmqctl: never the default vhost. Tests that need it skip, with the reason, only
where no RabbitMQ answers there."""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import socket
import subprocess
import uuid
from collections.abc import Iterator

import pytest

HOST = os.environ.get("SMSQ_TEST_RABBITMQ_HOST", "127.0.0.1")
PORT = int(os.environ.get("SMSQ_TEST_RABBITMQ_PORT", "5672"))
USER = PASSWORD = "guest"


def unreachable_reason() -> str | None:
    """Why RabbitMQ cannot be used here, or None."""
    try:
        with socket.create_connection((HOST, PORT), timeout=1):
            pass
    except OSError as error:
        return f"no RabbitMQ answers at {HOST}:{PORT} ({error})"
    if shutil.which("rabbitmqctl") is None:
        return "rabbitmqctl is not installed (it makes the test's own vhost)"
    return None


def rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


# Each rabbitmqctl call boots an Erlang VM (about 2.5 s here): the vhost and its permissions are made
# in one call, and deletions run in the background (waited for when the test session ends).
_ADD = (
    'ok = rabbit_vhost:add(<<"{vhost}">>, <<"smsq-tests">>), '
    'rabbit_auth_backend_internal:set_permissions(<<"{user}">>, <<"{vhost}">>, '
    '<<".*">>, <<".*">>, <<".*">>, <<"smsq-tests">>).'
)
_deleting: list[subprocess.Popen[bytes]] = []


def add_vhost(vhost: str) -> None:
    try:
        rabbitmqctl("eval", _ADD.format(vhost=vhost, user=USER))
    except subprocess.CalledProcessError:  # another RabbitMQ version's internals: the two plain calls
        rabbitmqctl("add_vhost", vhost)
        rabbitmqctl("set_permissions", "-p", vhost, USER, ".*", ".*", ".*")


def delete_vhost_later(vhost: str) -> None:
    _deleting.append(
        subprocess.Popen(
            ["rabbitmqctl", "-q", "delete_vhost", vhost], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
    )


@atexit.register
def _wait_for_deletions() -> None:
    for process in _deleting:
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=60)


@contextlib.contextmanager
def own_vhost(name: str | None = None) -> Iterator[str]:
    """An amqp:// URL of a fresh vhost; the vhost (with its queues) is deleted afterwards."""
    reason = unreachable_reason()
    if reason is not None:
        pytest.skip(reason)
    vhost = name or f"smsq-test-{uuid.uuid4().hex[:10]}"
    add_vhost(vhost)
    try:
        yield f"amqp://{USER}:{PASSWORD}@{HOST}:{PORT}/{vhost}"
    finally:
        delete_vhost_later(vhost)
