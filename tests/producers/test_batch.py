"""Smsq.send_many's batch path (smsq.producers.batch): the same records, refusals, charges and outbox
entries as one ``send`` per message, with each body shape validated once and the records stored in
one script call per chunk."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import redis

from smsq.config.cost_settings import CapSettings, CostSettings, PumpingSettings
from smsq.producers import batch
from smsq.producers.client import PUBLISH_GRACE_MS, Receipt, Smsq
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CapExceeded, InvalidInput, PolicyRefused, PumpingGuard
from smsq.producers.messages import models
from tests.support.fakes import FakeClock, RecordingPublisher

TEXT = {"channel": "sms", "text": "Your code is 1234", "sender": "Shop"}
# Differ only in fields an id or a clock reading holds; everything else must be equal.
VARYING = {"id", "body"}


def sms(to: str = "+37251234567", **extra: Any) -> dict[str, Any]:
    return {"to": to, "messages": [TEXT], **extra}


def at(clock: FakeClock, seconds: float) -> str:
    return datetime.fromtimestamp(clock() + seconds, tz=UTC).isoformat()


def records(smsq: Smsq, answers: list[Any]) -> list[dict[str, str] | None]:
    out: list[dict[str, str] | None] = []
    for answer in answers:
        record = smsq.store.get(answer.message_id) if isinstance(answer, Receipt) else None
        if record is not None:
            record = {name: value for name, value in record.items() if name not in VARYING} | {
                "body": json.loads(record["body"])
            }
        out.append(record)
    return out


def mixed(clock: FakeClock) -> list[Any]:
    """Shapes repeated and distinct, numbers in several spellings, the odd ones out."""
    viber = {"to": "+37251000010", "messages": [{"channel": "viber", "text": "hi"}, TEXT]}
    return [
        sms("+37251000001"),
        sms("+372 5100 0002"),  # another spelling: normalised
        sms("+37251000003", priority="high"),
        sms("+37251000004", time_to_send=at(clock, 3600)),
        sms("+37251000005", time_to_send=at(clock, 3600)),
        viber,
        {**viber, "to": "0037251000011"},
        sms("nope"),  # bad number, good shape
        {"to": "+37251000006", "messages": [{"channel": "sms"}]},  # bad shape
        {"to": "12", "messages": []},  # both: every problem named
        sms("+37251000007", messages=[{**TEXT, "ttl": True}]),  # True is not 1 here
        sms("+37251000008", messages=[{**TEXT, "ttl": 60}]),
        sms("+37251000009", time_to_send=at(clock, 400 * 86400)),  # past the horizon
        "not a message",
        sms("+37251000012", unknown_field=1),
    ]


def test_a_batch_stores_what_one_send_per_message_stores(
    store: MessageStore, clock: FakeClock, redis_client: redis.Redis
) -> None:
    smsq = Smsq(store, RecordingPublisher())
    messages = mixed(clock)
    keys = [f"k{i}" for i in range(len(messages))]
    singles: list[Any] = []
    for message, key in zip(messages, keys, strict=True):
        try:
            singles.append(smsq.send(message, idempotency_key=f"one-{key}", key_id="key1", test=True))
        except (InvalidInput, PolicyRefused) as refused:
            singles.append(refused)
    many = smsq.send_many(messages, idempotency_keys=[f"many-{k}" for k in keys], key_id="key1", test=True)
    assert [type(a) for a in many] == [type(a) for a in singles]
    for one, other in zip(singles, many, strict=True):
        if isinstance(one, InvalidInput):
            assert other.problems == one.problems  # type: ignore[union-attr]
        else:
            assert (other.status, other.duplicate, other.sms) == (one.status, one.duplicate, one.sms)
            uuid.UUID(other.message_id, version=4)
    expected = [
        None if r is None else {**r, "idempotency_key": r["idempotency_key"].replace("one-", "many-")}
        for r in records(smsq, singles)
    ]
    assert records(smsq, many) == expected
    # Every accepted one has its outbox entry (or, published, its watch) and its hour counted twice.
    schedule = {str(m) for m in redis_client.zrange(store.keys.schedule, 0, -1)}
    accepted = [a.message_id for a in singles + many if isinstance(a, Receipt)]
    assert set(accepted) <= schedule
    hour = redis_client.hgetall(store.keys.stats_hour(store.now_ms() // 3_600_000))
    statuses = [a.status for a in many if isinstance(a, Receipt)]
    assert statuses.count("scheduled") == 2 and statuses.count("queued") >= 5
    assert hour == {"queued": str(2 * statuses.count("queued")), "scheduled": "4"}


def test_each_body_shape_is_validated_once(store: MessageStore, monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = models.Omnimessage.model_validate

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(models.Omnimessage, "model_validate", counted)
    smsq = Smsq(store, RecordingPublisher())
    answers = smsq.send_many(
        [sms(f"+3725100{i:04d}") for i in range(1000)] + [sms("+37251000001", priority="low")]
    )
    assert all(isinstance(a, Receipt) and a.status == "queued" for a in answers)
    assert len(calls) == 2


def test_a_failed_publish_leaves_every_message_in_the_outbox(store: MessageStore, clock: FakeClock) -> None:
    smsq = Smsq(store, RecordingPublisher(fail=True))
    answers = smsq.send_many([sms(f"+3725100{i:04d}") for i in range(600)])  # two chunks
    assert all(isinstance(a, Receipt) for a in answers)
    assert store.claim_due(1000, 1000) == []
    clock.advance(PUBLISH_GRACE_MS / 1000)
    assert {r.message_id for r in store.claim_due(1000, 1000)} == {a.message_id for a in answers}  # type: ignore[union-attr]


def test_idempotency_keys_within_a_batch_and_across_batches(store: MessageStore) -> None:
    smsq = Smsq(store, RecordingPublisher())
    first = smsq.send_many([sms(), sms(), sms()], idempotency_keys=["a", "a", None])
    assert [a.duplicate for a in first] == [False, True, False]  # type: ignore[union-attr]
    assert first[0].message_id == first[1].message_id  # type: ignore[union-attr]
    again = smsq.send_many([sms()], idempotency_keys=["a"])
    assert (again[0].message_id, again[0].status, again[0].duplicate) == (first[0].message_id, "queued", True)  # type: ignore[union-attr]
    assert len(store.redis.keys(f"{store.keys.record_prefix}*")) == 2


def test_caps_and_the_pumping_guard_charge_each_message_in_the_same_script(store: MessageStore) -> None:
    cost = CostSettings(
        caps=CapSettings(daily_segments=3),
        pumping=PumpingSettings(per_number_per_hour=1, allowed_countries=["EE"]),
    )
    smsq = Smsq(store, RecordingPublisher(), cost=cost)
    answers = smsq.send_many(
        [
            sms(priority="high"),
            sms(priority="high"),
            sms("+4915112345678", priority="high"),
            sms("+37251000002"),
            sms("+37251000003"),
            sms("+37251000004"),
        ]
    )
    kinds = [type(a) for a in answers]
    assert kinds == [Receipt, PumpingGuard, PumpingGuard, Receipt, Receipt, CapExceeded]
    assert len(store.redis.keys(f"{store.keys.record_prefix}*")) == 3


def test_new_ids_are_version_4_uuids() -> None:
    ids = batch.new_ids(2000)
    assert len(set(ids)) == 2000
    assert all(str(uuid.UUID(i, version=4)) == i for i in ids)


def test_send_windows_defer_the_marketing_ones_of_a_batch_as_send_does(
    store: MessageStore, clock: FakeClock
) -> None:
    clock.now = datetime(2026, 12, 5, 21, 0, tzinfo=UTC).timestamp()  # Saturday 22:00 in Paris
    smsq = Smsq(store, RecordingPublisher())
    messages = [sms("+33612345678"), sms("+33612345679"), sms("+37251000001"), sms("+33612345670")]
    classes = ["marketing", "marketing", "marketing", None]
    singles = [smsq.send(m, message_class=c) for m, c in zip(messages, classes, strict=True)]
    many = smsq.send_many(messages, message_classes=classes)
    assert [(a.status, a.deferred_to) for a in many] == [(a.status, a.deferred_to) for a in singles]  # type: ignore[union-attr]
    assert [a.status for a in many] == ["scheduled", "scheduled", "scheduled", "queued"]  # type: ignore[union-attr]
    assert records(smsq, many) == records(smsq, singles)
    (refused,) = smsq.send_many([sms()], message_classes=["promo"])
    assert isinstance(refused, InvalidInput) and refused.problems[0][0] == "message_class"
