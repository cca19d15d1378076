from __future__ import annotations

import pytest

from smsq.producers.callbacks.events import CallbackEvents
from smsq.producers.core.store import MessageStore

URL = "https://app.example/hooks/smsq"


@pytest.fixture
def events(store: MessageStore) -> CallbackEvents:
    return CallbackEvents(store.redis, store.keys, keep_seconds=3600)


def api_key(store: MessageStore, key_id: str = "k1", url: str | None = URL) -> str:
    """An API key hash as the key store keeps it (only the fields callbacks read)."""
    fields = {"name": key_id, "callback_secret": "whsec_" + "A" * 43 + "="}
    if url:
        fields["callback_url"] = url
    store.redis.hset(f"{store.keys.prefix}:apikey:{key_id}", mapping=fields)
    return key_id
