"""Where a key's callbacks go and how they are signed: its callback URL and its Standard Webhooks
signing secret, kept on the API key's hash (``<p>:apikey:<key id>``: ``callback_url``,
``callback_secret``) by the key store (``smsq.producers.keys``), which calls ``set_callback`` when a
URL is set. ``callback_target`` is the one place the callback workers read a key."""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Final

import redis

from smsq.config.callback_settings import CallbackSettings
from smsq.producers.callbacks.urls import Resolver, check_callback_url, resolve
from smsq.producers.core.keys import CallbackKeys, Keys
from smsq.producers.keys.store import CALLBACK_URL, REVOKED_MS

CALLBACK_SECRET: Final = "callback_secret"
SECRET_PREFIX: Final = "whsec_"  # Standard Webhooks: whsec_ + base64 of 24 to 64 random bytes
SECRET_BYTES: Final = 32


@dataclass(frozen=True)
class Target:
    url: str
    secret: str  # whsec_...


def url_id(url: str) -> str:
    """A URL's id in key names (busy, gone): its SHA-1 in hex, as workers/callbacks/claim.lua's
    redis.sha1hex spells it."""
    return hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


def callback_target(client: redis.Redis, keys: Keys, key_id: str) -> Target | None:
    """The key's callback URL and secret; None when the key is gone, revoked or has no URL. A key whose
    URL was set without a secret (by an older key store) gets one now: `smsq callbacks secret` shows it."""
    hash_key = keys.api_key(key_id)
    url, secret, revoked = client.hmget(hash_key, [CALLBACK_URL, CALLBACK_SECRET, REVOKED_MS])
    if not url or revoked:
        return None
    return Target(str(url), str(secret) if secret else callback_signing_secret(client, keys, key_id))


def callback_signing_secret(client: redis.Redis, keys: Keys, key_id: str) -> str:
    """The key's signing secret, made now if it has none (`smsq keys create --callback-url` prints it,
    `smsq callbacks secret` shows it again)."""
    hash_key = keys.api_key(key_id)
    client.hsetnx(hash_key, CALLBACK_SECRET, new_secret())
    return str(client.hget(hash_key, CALLBACK_SECRET))


def set_callback(
    client: redis.Redis,
    keys: Keys,
    key_id: str,
    url: str | None,
    settings: CallbackSettings,
    *,
    resolver: Resolver = resolve,
) -> str | None:
    """Set (after ``check_callback_url``: UnsafeCallbackUrl names what is wrong, nothing is stored) or,
    with ``url`` None, remove the key's callback URL. A key keeps its signing secret once made; it is
    returned so the caller can show it. A URL set again may be called again even if it answered 410."""
    hash_key = keys.api_key(key_id)
    if url is None:
        client.hdel(hash_key, CALLBACK_URL)
        return None
    check_callback_url(url, settings, resolver=resolver)
    with client.pipeline(transaction=True) as pipe:
        pipe.hset(hash_key, CALLBACK_URL, url)
        pipe.delete(CallbackKeys(keys).gone(url_id(url)))
        pipe.execute()
    return callback_signing_secret(client, keys, key_id)
