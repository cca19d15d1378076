"""A key's callback target: the URL is checked before it is stored, the key keeps one signing secret,
a revoked key is told nothing."""

from __future__ import annotations

import pytest

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.targets import callback_target, set_callback
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import UnsafeCallbackUrl
from smsq.producers.keys.store import KeyStore

PUBLIC = lambda host, port: ["93.184.215.14"]  # noqa: E731


def test_setting_a_url_checks_it_first_and_keeps_one_secret(store: MessageStore) -> None:
    key = KeyStore(store.redis, prefix="t").create("app", "send").key
    settings = CallbackSettings()
    with pytest.raises(UnsafeCallbackUrl, match="callback_url: must use https"):
        set_callback(store.redis, store.keys, key.key_id, "http://app.example/h", settings, resolver=PUBLIC)
    assert callback_target(store.redis, store.keys, key.key_id) is None  # nothing stored
    secret = set_callback(
        store.redis, store.keys, key.key_id, "https://app.example/h", settings, resolver=PUBLIC
    )
    assert secret is not None and secret.startswith("whsec_")
    again = set_callback(
        store.redis, store.keys, key.key_id, "https://app.example/other", settings, resolver=PUBLIC
    )
    assert again == secret
    target = callback_target(store.redis, store.keys, key.key_id)
    assert target is not None and (target.url, target.secret) == ("https://app.example/other", secret)
    set_callback(store.redis, store.keys, key.key_id, None, settings)
    assert callback_target(store.redis, store.keys, key.key_id) is None


def test_a_key_whose_url_has_no_secret_gets_one_and_a_revoked_key_none(store: MessageStore) -> None:
    keys = KeyStore(store.redis, prefix="t")
    key = keys.create("app", "send", callback_url="https://app.example/h").key
    first = callback_target(store.redis, store.keys, key.key_id)
    assert first is not None and first.secret.startswith("whsec_")
    assert callback_target(store.redis, store.keys, key.key_id) == first
    keys.revoke(key.key_id)
    assert callback_target(store.redis, store.keys, key.key_id) is None
