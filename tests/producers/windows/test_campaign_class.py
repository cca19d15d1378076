"""A campaign has a message class: marketing unless it says otherwise; a bad one is refused naming
the field, with nothing stored."""

from __future__ import annotations

import pytest

from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from tests.support.fakes import RecordingPublisher

TEMPLATE = {"messages": [{"channel": "sms", "text": "Sale!"}]}


def campaigns(store: MessageStore) -> Campaigns:
    return Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))


def test_a_campaign_is_marketing_unless_it_says_transactional(store: MessageStore) -> None:
    made = campaigns(store)
    default = made.create(name="sale", template=TEMPLATE, recipients=["+33612345678"])
    receipts = made.create(name="receipts", template=TEMPLATE, recipients=["+33612345678"],
                           message_class="transactional")  # fmt: skip
    assert (default.message_class, receipts.message_class) == ("marketing", "transactional")
    assert store.redis.hget(store.keys.campaign(default.id), "message_class") == "marketing"
    assert made.progress(receipts.id).message_class == "transactional"


@pytest.mark.parametrize("bad", ["promo", "", "Marketing", 1])
def test_a_bad_class_is_refused_naming_the_field_and_nothing_is_stored(
    store: MessageStore, bad: object
) -> None:
    with pytest.raises(InvalidInput, match="message_class") as refused:
        campaigns(store).create(name="sale", template=TEMPLATE, recipients=["+33612345678"],
                                message_class=bad)  # type: ignore[arg-type]  # fmt: skip
    assert [field for field, _ in refused.value.problems] == ["message_class"]
    assert store.redis.keys("*") == []
