"""Segments through the producer API (issue 16): counted at acceptance, stored on the record,
returned by send and result; the parts limit a setting overridable per message; a refusal names the
count and the character that forced UCS-2, and nothing is stored."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from smsq.config.cost_settings import CostSettings
from smsq.config.limits import LimitSettings, TextLimits
from smsq.producers.client import Smsq
from smsq.producers.core.records import SMS_CHARACTERS, SMS_ENCODING, SMS_SEGMENTS
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import Omnimessage
from tests.support.fakes import RecordingPublisher


def sms(text: str, **part: Any) -> dict[str, Any]:
    return {
        "to": "+37251234567",
        "messages": [{"channel": "viber", "text": "v"}, {"channel": "sms", "text": text, **part}],
    }


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


def smsq_with(store: MessageStore, publisher: RecordingPublisher, parts: int = 10, **cost: Any) -> Smsq:
    limits = LimitSettings(text=TextLimits(sms_segments=parts))
    return Smsq(
        store, publisher, schedule_horizon=timedelta(days=1), limits=limits, cost=CostSettings(**cost)
    )


def test_send_counts_stores_and_returns_the_parts(store: MessageStore, publisher: RecordingPublisher) -> None:
    smsq = smsq_with(store, publisher)
    receipt = smsq.send(sms("We\u2019re open" + "x" * 140))
    assert receipt.sms is not None and receipt.sms.as_dict() == {
        "encoding": "UCS-2",
        "segments": 3,
        "characters": 150,
    }
    record = store.get(receipt.message_id)
    assert record is not None
    assert (record[SMS_ENCODING], record[SMS_SEGMENTS], record[SMS_CHARACTERS]) == ("UCS-2", "3", "150")
    result = smsq.result(receipt.message_id)
    assert result.sms is not None and (result.sms.encoding, result.sms.segments) == ("UCS-2", 3)


def test_a_message_without_sms_has_no_parts(store: MessageStore, publisher: RecordingPublisher) -> None:
    smsq = smsq_with(store, publisher)
    receipt = smsq.send({"to": "+37251234567", "messages": [{"channel": "viber", "text": "hi"}]})
    assert receipt.sms is None and smsq.result(receipt.message_id).sms is None
    assert SMS_SEGMENTS not in (store.get(receipt.message_id) or {})


def test_autoconvert_and_the_mirrored_account_table_are_counted(
    store: MessageStore, publisher: RecordingPublisher
) -> None:
    smsq = smsq_with(store, publisher, auto_replace={"\u2019": "'"})
    assert smsq.send(sms("It\u2019s")).sms.encoding == "GSM-7"  # type: ignore[union-attr]
    assert smsq.send(sms("It\u2019s", autoconvert="off")).sms.encoding == "UCS-2"  # type: ignore[union-attr]
    assert smsq.send(sms("It\u2019s 🎉", autoconvert="full")).sms.encoding == "GSM-7"  # type: ignore[union-attr]


def refused(smsq: Smsq, store: MessageStore, publisher: RecordingPublisher, message: Any, **kw: Any) -> str:
    with pytest.raises(InvalidInput) as error:
        smsq.send(message, **kw)
    assert store.redis.dbsize() == 0 and publisher.published == []
    return str(error.value)


def test_too_many_parts_names_the_count_and_the_character(
    store: MessageStore, publisher: RecordingPublisher
) -> None:
    smsq = smsq_with(store, publisher, parts=2)
    error = refused(smsq, store, publisher, sms("We\u2019re open" + "x" * 140))
    assert error == (
        "messages.1.sms.text: takes 3 SMS parts (150 characters in UCS-2, forced by '\u2019' "
        "(U+2019 RIGHT SINGLE QUOTATION MARK) at position 3); at most 2 "
        "(SMSQ_LIMITS__TEXT__SMS_SEGMENTS, or max_segments for one message)"
    )
    assert "takes 3 SMS parts (321 characters in GSM-7)" in refused(smsq, store, publisher, sms("x" * 321))


def test_max_segments_overrides_the_setting_for_one_message(
    store: MessageStore, publisher: RecordingPublisher
) -> None:
    smsq = smsq_with(store, publisher, parts=2)
    assert "at most 1" in refused(smsq, store, publisher, sms("x" * 161), max_segments=1)
    assert smsq.send(sms("x" * 400), max_segments=3).sms.segments == 3  # type: ignore[union-attr]


@pytest.mark.parametrize("bad", [0, 256, True, "3", 2.5])
def test_a_bad_max_segments_is_refused(store: MessageStore, publisher: RecordingPublisher, bad: Any) -> None:
    error = refused(smsq_with(store, publisher), store, publisher, sms("hi"), max_segments=bad)
    assert error.startswith("max_segments: must be a whole number 1-255")


def test_a_prebuilt_omnimessage_is_checked_too(store: MessageStore, publisher: RecordingPublisher) -> None:
    message = Omnimessage.model_validate(sms("x" * 400))  # built under the default limit of 10
    error = refused(smsq_with(store, publisher, parts=2), store, publisher, message)
    assert error.startswith("messages.1.text: takes 3 SMS parts")
