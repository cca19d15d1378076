"""Decoding a stored record into the omnimessage to send, under the deployment's limits."""

from __future__ import annotations

import json

import pytest

from smsq.config.limits import LimitSettings, TextLimits
from smsq.producers.core.records import BODY, CAMPAIGN_ID, TO, VARS
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import UnsendableRecord
from smsq.workers.campaigns.messages import CampaignTemplates, message_from_record

CAMPAIGN = "0" * 32
TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %firstName%", "sender": "Shop"}]}


def templates(store: MessageStore, limits: LimitSettings | None = None) -> CampaignTemplates:
    store.redis.hset(store.keys.campaign(CAMPAIGN), "template", json.dumps(TEMPLATE))
    if limits is None:
        return CampaignTemplates(store.redis, store.keys)
    return CampaignTemplates(store.redis, store.keys, limits=limits)


def campaign_record(first_name: str) -> dict[str, str]:
    return {CAMPAIGN_ID: CAMPAIGN, TO: "+37251234567", VARS: json.dumps({"firstName": first_name})}


def test_a_recipient_whose_variables_make_the_text_too_long_fails_naming_the_limit(
    store: MessageStore,
) -> None:
    with pytest.raises(UnsendableRecord) as raised:
        message_from_record(campaign_record("x" * 2000), templates(store))
    assert raised.value.code == "template"
    assert "rendered message.messages.0" in raised.value.detail
    assert "1530" in raised.value.detail  # the limit it broke, as the producer would have named it


def test_a_recipient_within_the_limits_renders(store: MessageStore) -> None:
    message = message_from_record(campaign_record("Ann"), templates(store))
    assert message.messages[0].text == "Hi Ann"


def test_a_deployment_that_raised_a_limit_sends_what_it_accepted(store: MessageStore) -> None:
    raised = LimitSettings(text=TextLimits(sms_chars=3000, sms_segments=30))
    long_text = "y" * 2500
    record = {BODY: json.dumps({"to": "+37251234567", "messages": [{"channel": "sms", "text": long_text}]})}
    assert message_from_record(record, templates(store, raised)).messages[0].text == long_text
    with pytest.raises(UnsendableRecord):  # under the defaults the same record is over the limit
        message_from_record(record, templates(store))
