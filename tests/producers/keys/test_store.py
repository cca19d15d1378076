"""The API key store on a real Redis: only a hash of the secret is kept, lookups, revocation, bad input."""

from __future__ import annotations

import pytest
import redis

from smsq.producers.errors import InvalidInput
from smsq.producers.keys.store import TOUCH_EVERY_MS, KeyStore, parse_rate, secret_hash
from tests.support.fakes import FakeClock


@pytest.fixture
def keys(redis_client: redis.Redis, clock: FakeClock) -> KeyStore:
    return KeyStore(redis_client, prefix="t", clock=clock)


def every_value(client: redis.Redis) -> str:
    texts = []
    for key in client.scan_iter("*"):
        kind = client.type(key)
        if kind == "hash":
            texts.extend(f"{name}={value}" for name, value in client.hgetall(key).items())
        elif kind == "zset":
            texts.extend(client.zrange(key, 0, -1))
        else:
            texts.append(str(client.get(key)))
    return "\n".join(texts)


def test_create_keeps_a_hash_and_a_prefix_never_the_secret(keys: KeyStore, redis_client: redis.Redis) -> None:
    created = keys.create("shop", "send,read", rate="50/s", callback_url="https://app.example/cb")
    assert created.secret.startswith("smsq_live_") and len(created.secret) > 40
    assert created.secret not in every_value(redis_client)
    assert redis_client.hget(f"t:apikey:{created.key.key_id}", "hash") == secret_hash(created.secret)
    key = keys.get(created.key.key_id)
    assert key is not None and key.callback_url == "https://app.example/cb"
    assert key.scopes == {"send", "read"} and key.rate_per_second == 50.0 and not key.test
    assert key.prefix == created.secret[:14] and key.last_used_ms is None and key.revoked_ms is None
    assert sorted(redis_client.keys("t:*")) == ["t:apikey-hashes", f"t:apikey:{key.key_id}", "t:apikeys"]


def test_authenticate_finds_the_key_and_notes_its_use(keys: KeyStore, clock: FakeClock) -> None:
    created = keys.create("shop", "send", test=True)
    found = keys.authenticate(created.secret)
    assert found is not None and found.key_id == created.key.key_id and found.test
    assert keys.get(found.key_id).last_used_ms == int(clock() * 1000)  # type: ignore[union-attr]
    first = int(clock() * 1000)
    clock.advance(1)
    keys.authenticate(created.secret)
    assert keys.get(found.key_id).last_used_ms == first  # type: ignore[union-attr]  # not a write per request
    clock.advance(TOUCH_EVERY_MS / 1000)
    keys.authenticate(created.secret)
    assert keys.get(found.key_id).last_used_ms > first  # type: ignore[operator, union-attr]
    for wrong in (
        "",
        created.secret + "x",
        created.secret[:-1],
        "smsq_live_" + "a" * 300,
        "Bearer " + created.secret,
    ):
        assert keys.authenticate(wrong) is None


def test_revoke_by_id_or_prefix_stops_it_and_keeps_the_record(
    keys: KeyStore, redis_client: redis.Redis
) -> None:
    one, two = keys.create("one", "send"), keys.create("two", "read")
    revoked = keys.revoke(one.key.key_id)
    assert revoked.revoked and keys.authenticate(one.secret) is None
    assert keys.authenticate(two.secret) is not None
    assert keys.revoke(two.secret[:14]).revoked  # the visible prefix names it
    assert sorted(key.name for key in keys.all()) == ["one", "two"] and all(key.revoked for key in keys.all())
    assert redis_client.hlen("t:apikey-hashes") == 0
    with pytest.raises(InvalidInput, match="key: 'nope' is no key id or prefix"):
        keys.revoke("nope")


def test_a_remembered_key_is_one_read_and_a_revocation_elsewhere_still_stops_it_at_once(
    keys: KeyStore, redis_client: redis.Redis, clock: FakeClock
) -> None:
    created = keys.create("shop", "send")
    assert keys.authenticate(created.secret) is not None  # learns the secret's key id
    commands: list[str] = []
    original = redis_client.execute_command

    def counted(*args: object, **options: object) -> object:
        commands.append(str(args[0]))
        return original(*args, **options)

    redis_client.execute_command = counted  # type: ignore[method-assign]
    assert keys.authenticate(created.secret) is not None
    assert commands == ["HGETALL"]  # the record only: no hash lookup, no last-used write
    other_process = KeyStore(redis_client, prefix="t", clock=clock)
    other_process.revoke(created.key.key_id)
    assert keys.authenticate(created.secret) is None
    created_again = keys.create("shop2", "send")
    redis_client.delete(f"t:apikey:{created_again.key.key_id}")  # a record gone: refused, not remembered
    assert keys.authenticate(created_again.secret) is None


@pytest.mark.parametrize(
    ("name", "scopes", "rate", "fields"),
    [("", "send", "", ["name"]), ("ok", "send,admin", "", ["scopes"]), ("ok", "", "", ["scopes"]),
     ("ok", "send", "fast", ["rate"]), ("ok", "send", "0/s", ["rate"]), ("a\nb", "nope", "5/d", ["name", "scopes", "rate"])],
)  # fmt: skip
def test_bad_input_names_each_field_and_stores_nothing(
    keys: KeyStore, redis_client: redis.Redis, name: str, scopes: str, rate: str, fields: list[str]
) -> None:
    with pytest.raises(InvalidInput) as refused:
        keys.create(name, scopes, rate=rate)
    assert [field for field, _ in refused.value.problems] == fields
    assert redis_client.keys("*") == []


def test_a_callback_url_check_refuses_before_anything_is_stored(
    keys: KeyStore, redis_client: redis.Redis
) -> None:
    def no_http(url: str) -> None:
        if not url.startswith("https://"):
            raise InvalidInput([("callback_url", "must be https")])

    with pytest.raises(InvalidInput, match="callback_url: must be https"):
        keys.create("shop", "send", callback_url="http://10.0.0.1/", check_callback_url=no_http)
    assert redis_client.keys("*") == []


def test_rates() -> None:
    assert (parse_rate("50/s"), parse_rate("600/m"), parse_rate("3600/h")) == (50.0, 10.0, 1.0)
