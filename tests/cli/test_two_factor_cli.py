"""`smsq 2fa` as a user runs it: bad input prints one line naming what is wrong, exits 2 and queues
nothing (the working path runs through a real worker in tests/integration/test_send_via_each_provider.py)."""

from __future__ import annotations

import pytest
import redis

from tests.cli.conftest import Run


@pytest.mark.parametrize(
    ("args", "named"),
    [(("send", "12"), "number"), (("send", "+37251000001", "--pin-length", "3"), "pin-length"),
     (("verify", "abc", "123456"), "session_id"), (("verify", "a" * 32, "12 34"), "pin")],
)  # fmt: skip
def test_bad_input_names_the_field_and_queues_nothing(
    run: Run, redis_client: redis.Redis, args: tuple[str, ...], named: str
) -> None:
    code, out, err = run("2fa", *args)
    assert code == 2 and named in (out + err)
    assert redis_client.keys("*") == []  # no task message on any queue, nothing stored
