"""The campaign janitor: finished campaigns get an expiry; an expansion whose process died is undone."""

from __future__ import annotations

from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.expansion import list_rows
from smsq.producers.campaigns.janitor import INTERRUPTED, tidy_campaigns
from smsq.producers.campaigns.model import message_id, parse_template
from smsq.producers.core.store import MessageStore
from tests.conftest import FakeClock
from tests.support.fakes import RecordingPublisher

TEMPLATE = {"messages": [{"channel": "sms", "text": "sale"}]}


def campaigns_on(store: MessageStore) -> Campaigns:
    return Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))


def test_an_expansion_whose_process_died_is_undone_and_its_key_released(
    store: MessageStore, clock: FakeClock
) -> None:
    campaigns = campaigns_on(store)
    template = parse_template(TEMPLATE)
    # What a producer that died half-way through a CSV leaves: `creating`, some records stored.
    campaign_id, _ = campaigns._begin("dies", template, "spring-1")
    campaigns.expander.store_messages(campaign_id, template, list_rows(["+37251000001", "+37251000002"], []))
    assert store.get(message_id(campaign_id, 2)) is not None
    clock.advance(299)
    assert tidy_campaigns(store, campaigns.expander, expansion_seconds=300).undone == 0  # may be alive
    clock.advance(2)
    assert tidy_campaigns(store, campaigns.expander, expansion_seconds=300).undone == 1
    assert store.get(message_id(campaign_id, 1)) is None and store.get(message_id(campaign_id, 2)) is None
    progress = campaigns.progress(campaign_id)
    assert progress.status == "failed"
    assert store.redis.hget(f"t:campaign:{campaign_id}", "failed_reason") == INTERRUPTED
    # The key is free again: creating the campaign anew works.
    again = campaigns.create(
        name="again", template=TEMPLATE, recipients=["+37251000001"], idempotency_key="spring-1"
    )
    assert again.id != campaign_id
    assert tidy_campaigns(store, campaigns.expander, expansion_seconds=300).expired == 1  # the failed one
    assert store.redis.ttl(f"t:campaign:{campaign_id}") == store.retention_seconds


def test_a_campaign_with_messages_pending_keeps_its_keys(store: MessageStore) -> None:
    campaigns = campaigns_on(store)
    progress = campaigns.create(name="c", template=TEMPLATE, recipients=["+37251000001"])
    assert tidy_campaigns(store, campaigns.expander, expansion_seconds=300).expired == 0
    assert store.redis.ttl(f"t:campaign:{progress.id}") == -1
    campaigns.cancel(progress.id)
    store.transition(message_id(progress.id, 1), "cancelled", allowed_from={"queued"})
    assert tidy_campaigns(store, campaigns.expander, expansion_seconds=300).expired == 1
    assert 0 < store.redis.ttl(f"t:campaign:{progress.id}:counts") <= store.retention_seconds
    assert store.redis.zcard(store.keys.campaigns) == 0
