"""Spend caps and the pumping guard on the command line (issue 16): one line, exit 2, nothing stored."""

from __future__ import annotations

import pytest
import redis

from tests.cli.conftest import Run


def test_a_cap_refusal_is_one_line(
    run: Run, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_COST__CAPS__DAILY_SEGMENTS", "1")
    assert run("send", "--to", "+37251234567", "--text", "hi")[0] == 0
    keys = set(redis_client.keys("*"))
    code, out, err = run("send", "--to", "+37251234567", "--text", "hi again")
    assert code == 2 and out == "" and err.count("\n") == 1
    assert err.startswith(
        "error: the global daily SMS-parts cap of 1 SMS parts would be exceeded: 1 SMS parts used"
    )
    assert set(redis_client.keys("*")) == keys


def test_a_campaign_over_the_cap_is_refused_whole(
    run: Run, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_COST__CAPS__MONTHLY_SEGMENTS", "2")
    args = ["campaign", "create", "--name", "n", "--text", "hi"]
    code, _, err = run(*args, "--to", "+37251000001", "--to", "+37251000002", "--to", "+37251000003")
    assert code == 2 and "the global monthly SMS-parts cap of 2 SMS parts would be exceeded" in err
    assert redis_client.keys("smsq:msg:*") == [] and redis_client.keys("smsq:caps:*") == []


def test_the_pumping_guard_is_one_line(
    run: Run, redis_client: redis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SMSQ_COST__PUMPING__ALLOWED_COUNTRIES", '["EE"]')
    code, _, err = run("send", "--to", "+2399912345", "--text", "123456", "--priority", "high")
    assert code == 2 and "may not go to ST" in err and err.count("\n") == 1
    assert redis_client.dbsize() == 0
