"""The send path's test building blocks, defined once: a message accepted through the producer API,
and a Sender over the providers a test gives it."""

from __future__ import annotations

import random
from typing import Any

from smsq.config.settings import RetrySettings, Routing
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.workers.providers.base import Provider
from smsq.workers.sending.single import Sender
from tests.support.fakes import RecordingPublisher

TO = "+37251234567"
# Quick retries with no jitter: a test can say exactly when the next attempt is due.
QUICK_RETRY = RetrySettings(max_attempts=3, base_delay=1, max_delay=10, jitter=0)


def accept(store: MessageStore, *, to: str = TO, text: str = "code 1234", **fields: Any) -> str:
    """An SMS accepted through the producer API (validated, stored as `queued`); its message id."""
    message = {"to": to, "messages": [{"channel": "sms", "text": text, "sender": "Acme"}], **fields}
    return Smsq(store, RecordingPublisher()).send(message).message_id


def make_sender(
    store: MessageStore,
    *providers: Provider,
    retry: RetrySettings = QUICK_RETRY,
    seed: int = 1,
    **options: Any,
) -> Sender:
    """A Sender over ``providers``, tried for SMS in the order given, with a seeded random source so
    backoff jitter repeats; ``options`` are the Sender's other fields (limiter, health, sleep, ...)."""
    return Sender(
        store=store,
        providers={provider.name: provider for provider in providers},
        routing=Routing(sms=[provider.name for provider in providers]),
        retry=retry,
        lease_seconds=30,
        rng=random.Random(seed),
        **options,
    )
