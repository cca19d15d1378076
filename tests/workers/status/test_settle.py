"""Polls and reports settle a message through one path: duplicates, late and out-of-order news, and a
report racing a poll never move a message backwards or count it twice."""

from __future__ import annotations

import threading
import uuid

import redis

from smsq.config.contract import DeliveryReport
from smsq.producers.core.results import MessageResult
from smsq.producers.core.store import MessageStore
from smsq.workers.status.reports import apply_report
from smsq.workers.status.settle import Settler
from tests.support.fakes import FakeClock
from tests.workers.status.helpers import channel, polling, sent_message


def counts(store: MessageStore, campaign: str = "c1") -> dict[str, int]:
    """Where the campaign's messages are now (creating a record does not count it; campaigns do)."""
    raw: dict[str, str] = store.redis.hgetall(f"{store.keys.campaign_prefix}{campaign}:counts")  # type: ignore[assignment]
    return {status: int(n) for status, n in raw.items() if int(n) > 0}


def report(message_id: str, status: str | None, **extra: object) -> DeliveryReport:
    fields = {"message_id": message_id, "provider": "messente", "channel": "sms", "status": status,
              "provider_message_id": "omni-1", **extra}  # fmt: skip
    return DeliveryReport.model_validate(fields)


def result(store: MessageStore, message_id: str) -> MessageResult:
    record = store.get(message_id)
    assert record is not None
    return MessageResult.from_record(record)


def test_a_final_status_settles_the_message_once(store: MessageStore) -> None:
    message_id = sent_message(store, campaign_id="c1")
    assert counts(store) == {"sent": 1}
    settler = Settler(store)
    first = settler.settle(message_id, "messente", [channel("sms", "DELIVRD")], via="poll")
    again = settler.settle(message_id, "messente", [channel("sms", "DELIVRD")], via="report")
    assert (first.moved_to, again.moved_to, again.status) == ("delivered", None, "delivered")
    assert counts(store) == {"delivered": 1}
    assert result(store, message_id).final_at is not None


def test_an_in_progress_status_keeps_the_message_sent(store: MessageStore) -> None:
    message_id = sent_message(store)
    settled = Settler(store).settle(message_id, "messente", [channel("sms", "ACK")], via="poll")
    assert (settled.status, settled.moved_to) == ("sent", None)
    (sms,) = result(store, message_id).channel_results
    assert (sms.status, sms.provider_status, sms.via) == (None, "ACK", "poll")


def test_a_late_in_progress_report_does_not_undo_a_final_channel(store: MessageStore) -> None:
    message_id = sent_message(store, channels="sms,viber")
    settler = Settler(store)
    settler.settle(message_id, "messente", [channel("sms", "UNDELIV", 1, "Delivery failure")], via="report")
    settler.settle(message_id, "messente", [channel("sms", "ACK")], via="report")  # arrives late
    (sms,) = result(store, message_id).channel_results
    assert (sms.status, sms.provider_status, sms.err, sms.error) == (
        "undeliverable",
        "UNDELIV",
        1,
        "Delivery failure",
    )
    assert result(store, message_id).status == "sent"  # viber still to come


def test_the_chain_keeps_each_channel_and_the_last_one_decides(store: MessageStore) -> None:
    message_id = sent_message(store, channels="sms,viber", campaign_id="c1")
    settler = Settler(store)
    settler.settle(message_id, "messente", [channel("viber", "DELIVRD")], via="report")  # out of order
    settler.settle(message_id, "messente", [channel("sms", "UNDELIV", 1, "Delivery failure")], via="report")
    final = result(store, message_id)
    assert final.status == "delivered" and counts(store) == {"delivered": 1}
    assert [(c.channel, c.status) for c in final.channel_results] == [
        ("sms", "undeliverable"),
        ("viber", "delivered"),
    ]


def test_a_failed_chain_keeps_the_deciding_channels_error(store: MessageStore) -> None:
    message_id = sent_message(store, channels="sms,viber")
    Settler(store).settle(
        message_id, "messente",
        [channel("sms", "UNDELIV", 1, "Delivery failure"), channel("viber", "EXPIRED", 2, "Sending message expired")],
        via="poll",
    )  # fmt: skip
    final = result(store, message_id)
    assert final.status == "expired"
    assert final.last_error is not None and final.last_error.code == "2"
    assert final.last_error.detail == "viber: Sending message expired"


def test_seen_after_delivered_updates_the_channel_without_moving_the_message(store: MessageStore) -> None:
    message_id = sent_message(store, channels="viber", campaign_id="c1")
    settler = Settler(store)
    settler.settle(message_id, "messente", [channel("viber", "DELIVRD")], via="report")
    settler.settle(message_id, "messente", [channel("viber", "SEEN")], via="report")
    settler.settle(message_id, "messente", [channel("viber", "DELIVRD")], via="poll")  # older news
    (viber,) = result(store, message_id).channel_results
    assert viber.provider_status == "SEEN" and counts(store) == {"delivered": 1}


def test_a_report_racing_a_poll_settles_once(redis_client: redis.Redis, clock: FakeClock) -> None:
    """Many reports and polls for the same messages at once, from threads with their own
    connections: each message is settled once, and the campaign counts add up."""
    store = MessageStore(redis_client, prefix="t", clock=clock, retention_seconds=3600)
    ids = [sent_message(store, channels="sms,viber", campaign_id="c1") for _ in range(20)]
    news = [
        channel("sms", "UNDELIV"),
        channel("viber", "ACK"),
        channel("viber", "DELIVRD"),
        channel("sms", "ACK"),
    ]
    moved: list[str] = []

    def hammer(seed: int) -> None:
        client = redis.Redis(connection_pool=redis_client.connection_pool)
        settler = Settler(MessageStore(client, prefix="t", clock=clock, retention_seconds=3600))
        for turn in range(len(news) * 2):
            for message_id in ids:
                outcome = settler.settle(
                    message_id, "messente", [news[(seed + turn) % len(news)]], via="race"
                )
                if outcome.moved_to:
                    moved.append(message_id)

    threads = [threading.Thread(target=hammer, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(moved) == sorted(ids)  # each moved exactly once
    assert counts(store) == {"delivered": 20}
    assert {result(store, i).status for i in ids} == {"delivered"}


def test_a_report_for_an_unknown_message_is_dropped(store: MessageStore) -> None:
    outcome = apply_report(report(str(uuid.uuid4()), "DELIVRD"), store, polling())
    assert outcome.result == "unknown-message"
    assert store.redis.keys("t:msg:*") == []  # nothing was created for it


def test_a_report_from_another_omnimessage_is_dropped(store: MessageStore) -> None:
    message_id = sent_message(store, provider_message_id="omni-1")
    outcome = apply_report(report(message_id, "DELIVRD", provider_message_id="omni-2"), store, polling())
    assert outcome.result == "mismatch" and result(store, message_id).status == "sent"
    assert result(store, message_id).channel_results == []


def test_a_report_from_another_provider_is_dropped(store: MessageStore) -> None:
    message_id = sent_message(store, provider="smsapi", provider_message_id="123")
    outcome = apply_report(report(message_id, "DELIVRD"), store, polling())
    assert outcome.result == "mismatch" and result(store, message_id).status == "sent"


def test_a_report_before_the_send_is_recorded_is_kept_and_looked_at_again(
    store: MessageStore, clock: FakeClock
) -> None:
    message_id = str(uuid.uuid4())
    fields: dict[str, str | int] = {"id": message_id, "status": "queued", "channels": "sms", "to": "+37251234567", "priority": "high",
              "created_ms": store.now_ms()}  # fmt: skip
    store.create(message_id, fields, idempotency_key=None, due_ms=None)
    store.transition(message_id, "sending")
    outcome = apply_report(report(message_id, "DELIVRD"), store, polling(report_recheck=5))
    assert outcome.result == "recheck"
    assert store.redis.zscore(store.keys.polls, message_id) == store.now_ms() + 5000
    # The send is recorded afterwards; its own first poll (30 s) does not push the recheck back.
    store.transition(message_id, "sent", fields={"provider": "messente", "provider_message_id": "omni-1"},
                     poll_at_ms=store.now_ms() + 30_000)  # fmt: skip
    assert store.redis.zscore(store.keys.polls, message_id) == store.now_ms() + 5000
    assert result(store, message_id).channel_results[0].status == "delivered"


def test_a_late_report_settles_a_message_given_up_as_unknown(store: MessageStore) -> None:
    message_id = sent_message(store, campaign_id="c1")
    Settler(store).settle(message_id, "messente", [], via="poll", gave_up=True)
    assert result(store, message_id).status == "unknown"
    assert apply_report(report(message_id, "DELIVRD"), store, polling()).result == "settled"
    assert result(store, message_id).status == "delivered" and counts(store) == {"delivered": 1}


def test_reports_never_settle_a_message_that_was_not_sent(store: MessageStore) -> None:
    message_id = sent_message(store)
    store.transition(message_id, "failed")
    Settler(store).settle(message_id, "messente", [channel("sms", "DELIVRD")], via="report")
    assert result(store, message_id).status == "failed"
