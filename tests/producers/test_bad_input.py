"""Bad input to the Python API (issue 13, items 4, 8, 9): one InvalidInput naming the field, nothing
stored or queued; limits come from settings (config/limits.py)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from smsq.config.limits import LimitSettings, TextLimits
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.client import Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from tests.support.fakes import RecordingPublisher


def sms(text: str = "hi", **channel: Any) -> dict[str, Any]:
    return {"to": "+37251234567", "messages": [{"channel": "sms", "text": text, **channel}]}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def smsq_with(store: MessageStore, publisher: RecordingPublisher, **limits: Any) -> Smsq:
    return Smsq(store, publisher, schedule_horizon=timedelta(days=30), limits=LimitSettings(**limits))


def refused(smsq: Smsq, store: MessageStore, publisher: RecordingPublisher, message: Any, **kw: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        smsq.send(message, **kw)
    assert store.redis.dbsize() == 0 and publisher.published == []
    assert "\n" not in str(error.value)
    return str(error.value)


@pytest.mark.parametrize(
    ("key", "words"),
    [
        (b"abc", "idempotency_key: must be a string, not bytes"),
        (42, "not int"),
        (["a"], "not list"),
        ("abc\n", "printable ASCII"),
        ("a b", "printable ASCII"),
        ("\u00e9t\u00e9", "printable ASCII"),
        ("k" * 201, "1-200"),
        ("", "1-200"),
    ],
)
def test_a_bad_idempotency_key_is_refused(
    store: MessageStore, publisher: RecordingPublisher, key: Any, words: str
) -> None:
    assert words in refused(smsq_with(store, publisher), store, publisher, sms(), idempotency_key=key)


def test_the_idempotency_key_length_is_a_setting(store: MessageStore, publisher: RecordingPublisher) -> None:
    smsq = smsq_with(store, publisher, idempotency_key_chars=8)
    assert "1-8" in refused(smsq, store, publisher, sms(), idempotency_key="k" * 9)
    assert smsq.send(sms(), idempotency_key="k" * 8).duplicate is False


@pytest.mark.parametrize(
    ("message", "words"),
    [
        (sms(ttl=10**5000), "messages.0.sms.ttl: must be 1-259200 seconds (SMSQ_LIMITS__TTL_MAX_SECONDS)"),
        (sms(ttl=0), "SMSQ_LIMITS__TTL_MIN_SECONDS"),
        (sms(validity=10**30), "messages.0.sms.validity: must be 1-4320 minutes"),
        (sms("x" * 20_000_000), "messages.0.sms.text: is 20000000 characters; sms takes at most 1530"),
        (
            sms("\u263a" * 700),
            "takes 11 SMS parts (700 characters in UCS-2, forced by '☺' (U+263A WHITE SMILING FACE) at position 1); at most 10",
        ),
        (sms(sender="Acme\n"), "messages.0.sms.sender"),
        (sms(**{"a(b": 1}), "messages.0.sms.'a(b': Extra inputs are not permitted"),
        (sms(**{"x[0]": 1}), "'x[0]'"),
        ({**sms(), "line\nbreak": 1}, "'line\\nbreak'"),
        ({**sms(), "time_to_send": "0001-01-01T00:00:00+01:00"}, "time_to_send: is out of range"),
        ({**sms(), "time_to_send": "9999-12-31T23:59:59-01:00"}, "time_to_send: is out of range"),
        (
            {"to": "+37251234567", "messages": [{"channel": "viber", "text": "x" * 1001}]},
            "viber takes at most 1000",
        ),
        ({"to": "+37251234567", "messages": [{"channel": "telegram", "text": "x" * 4097}]}, "telegram"),
        (
            {"to": "+37251234567", "messages": [{"channel": "whatsapp", "text": {"body": "x" * 4097}}]},
            "whatsapp",
        ),
        (
            {"to": "+37251234567", "messages": [{"channel": "sms", "text": "x", "udh": "00" * 600}]},
            "udh: is 600 bytes; at most 100",
        ),
    ],
)
def test_values_beyond_the_limits_are_refused_naming_the_field(
    store: MessageStore, publisher: RecordingPublisher, message: dict[str, Any], words: str
) -> None:
    assert words in refused(smsq_with(store, publisher), store, publisher, message)


def test_limits_are_settings(store: MessageStore, publisher: RecordingPublisher) -> None:
    smsq = smsq_with(store, publisher, text=TextLimits(sms_chars=5), ttl_max_seconds=60)
    assert "at most 5" in refused(smsq, store, publisher, sms("123456"))
    assert "1-60 seconds" in refused(smsq, store, publisher, sms(ttl=61))
    assert smsq.send(sms("12345", ttl=60)).status == "queued"


def test_the_whole_message_size_is_bounded(store: MessageStore, publisher: RecordingPublisher) -> None:
    smsq = smsq_with(store, publisher, message_bytes=1024)
    big = {"to": "+37251234567", "messages": [
        {"channel": "sms", "text": "x" * 900}, {"channel": "telegram", "text": "y" * 900}]}  # fmt: skip
    assert "(message): is" in refused(smsq, store, publisher, big)


def test_a_campaign_idempotency_key_follows_the_same_rule(
    store: MessageStore, publisher: RecordingPublisher
) -> None:
    campaigns = Campaigns(store, publisher, Blacklist(store.redis, prefix="t", clock=store.clock))
    for key in ("a b", "abc\n", b"k", "k" * 201):
        with pytest.raises(InvalidInput, match="idempotency_key"):
            campaigns.create(name="x", template={"messages": [{"channel": "sms", "text": "hi"}]},
                             recipients=["+37251234567"], idempotency_key=key)  # type: ignore[arg-type]  # fmt: skip
    assert store.redis.dbsize() == 0
