"""`smsq keys` as a user runs it: the secret printed once and never stored, list, revoke, and bad
input as one line naming the option, exit 2, nothing stored."""

from __future__ import annotations

import json

import pytest
import redis

from smsq.config.settings import Settings
from smsq.producers.keys.store import KeyStore
from tests.cli.conftest import Run
from tests.producers.keys.test_store import every_value


def test_create_prints_the_secret_once_and_list_shows_only_the_prefix(
    run: Run, redis_client: redis.Redis
) -> None:
    code, out, _ = run(
        "keys", "create", "--name", "shop", "--scopes", "send,read", "--rate", "50/s", "--test"
    )
    assert code == 0, out
    secret = out.strip().splitlines()[-1]
    assert secret.startswith("smsq_test_") and secret not in every_value(redis_client)
    code, out, _ = run("keys", "list", "--json")
    (listed,) = json.loads(out)
    assert listed["name"] == "shop" and listed["prefix"] == secret[:14] and listed["rate"] == "50/s"
    assert listed["test"] is True and secret not in out
    code, out, _ = run("keys", "list")
    assert code == 0 and "shop" in out and secret[:14] in out and secret not in out


def test_revoke(run: Run, settings: Settings, redis_client: redis.Redis) -> None:
    code, out, _ = run("keys", "create", "--name", "shop", "--json")
    created = json.loads(out)
    assert KeyStore(redis_client).authenticate(created["secret"]) is not None
    code, out, _ = run("keys", "revoke", created["key_id"])
    assert code == 0 and "revoked" in out
    assert KeyStore(redis_client).authenticate(created["secret"]) is None
    code, _, err = run("keys", "revoke", "smsq_live_zzzz")
    assert code == 2 and "is no key id or prefix" in err


@pytest.mark.parametrize(
    ("args", "named"),
    [(("--name", "shop", "--scopes", "send,root"), "scopes"), (("--name", "shop", "--rate", "lots"), "rate"),
     (("--name", "",), "name")],
)  # fmt: skip
def test_bad_input_is_one_line_exit_2_nothing_stored(
    run: Run, redis_client: redis.Redis, args: tuple[str, ...], named: str
) -> None:
    code, _, err = run("keys", "create", *args)
    assert code == 2 and f"{named}:" in err and len(err.strip().splitlines()) == 1
    assert redis_client.keys("*") == []
