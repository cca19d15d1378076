from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns import expansion as campaign_expansion
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.campaigns.model import message_id
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import CampaignNotFound, CampaignStateError, InvalidInput
from tests.support.fakes import FakeClock, RecordingPublisher

TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %firstName%, 20% off today", "sender": "Shop"}]}
PLAIN = {"messages": [{"channel": "sms", "text": "Sale today"}]}


@pytest.fixture
def publisher() -> RecordingPublisher:
    return RecordingPublisher()


@pytest.fixture
def campaigns(store: MessageStore, publisher: RecordingPublisher) -> Campaigns:
    return Campaigns(store, publisher, Blacklist(store.redis, prefix="t", clock=store.clock), batch_size=2)


def records(store: MessageStore, campaign_id: str, positions: range) -> list[dict[str, str] | None]:
    return store.get_many([message_id(campaign_id, p) for p in positions])


def test_a_list_campaign_is_deduplicated_filtered_stored_and_queued(
    campaigns: Campaigns, store: MessageStore, publisher: RecordingPublisher
) -> None:
    campaigns.expander.blacklist.add("+37251000004", source="api")
    recipients = [
        {"to": "+37251000001", "firstName": "Anna"},
        {"to": "+372 5100 0001", "firstName": "Dup"},  # the same number, written differently
        {"to": "not a number", "firstName": "X"},
        {"to": "+37251000003"},  # no firstName
        {"to": "+37251000004", "firstName": "Opted out"},
        {"to": "+37251000005", "firstName": "Eve"},
    ]
    progress = campaigns.create(name="spring", template=TEMPLATE, recipients=recipients)
    assert (progress.status, progress.recipients, progress.messages) == ("running", 6, 3)
    assert progress.skipped == {"duplicate": 1, "invalid_number": 1, "missing_variable": 1}
    assert progress.counts == {"queued": 2, "blocked": 1}
    stored = records(store, progress.id, range(1, 7))
    assert [r["status"] if r else None for r in stored] == ["queued", None, None, None, "blocked", "queued"]
    assert json.loads(stored[0]["vars"]) == {"firstName": "Anna"}  # type: ignore[index]
    assert [
        (task, kwargs["first"], kwargs["last"], queue) for task, kwargs, queue in publisher.published
    ] == [
        ("smsq.send_batch", 1, 2, "low"),
        ("smsq.send_batch", 3, 4, "low"),
        ("smsq.send_batch", 5, 6, "low"),
    ]
    assert [s["line"] for s in campaigns.skipped(progress.id)] == [2, 3, 4]


def write_csv(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_a_csv_campaign_reports_malformed_lines_by_number(campaigns: Campaigns, tmp_path: Path) -> None:
    csv_file = write_csv(
        tmp_path / "r.csv",
        "phone,firstName\n+37251000001,Anna\n+37251000002\n\n+37251000003,Bo,extra\n37251000004,Cy\n",
    )
    progress = campaigns.create(name="csv", template=TEMPLATE, csv_path=csv_file)
    assert progress.messages == 2 and progress.skipped == {"malformed": 2}
    assert campaigns.skipped(progress.id) == [
        {"line": 3, "reason": "malformed"},
        {"line": 5, "reason": "malformed"},
    ]


def test_a_big_csv_is_parsed_in_a_process_pool_with_the_same_result(
    campaigns: Campaigns, store: MessageStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = "".join(f"+3725{1000000 + n % 300},N{n}\n" for n in range(1000))
    csv_file = write_csv(tmp_path / "big.csv", "phone,firstName\n" + lines)
    monkeypatch.setattr(campaign_expansion, "PARALLEL_FROM", 10)
    monkeypatch.setattr(campaign_expansion, "CHUNK", 128)
    progress = campaigns.create(name="big", template=TEMPLATE, csv_path=csv_file)
    assert (progress.messages, progress.skipped) == (300, {"duplicate": 700})
    first = records(store, progress.id, range(2, 3))[0]
    assert first is not None and json.loads(first["vars"]) == {"firstName": "N0"}  # the first line wins


@pytest.mark.parametrize(
    ("kwargs", "field", "words"),
    [
        ({"template": {"messages": []}, "recipients": ["+37251000001"]}, "template.messages", "at least 1"),
        (
            {"template": {"messages": [{"channel": "sms"}]}, "recipients": ["+37251000001"]},
            "template.messages.0.sms.text",
            "required",
        ),
        ({"template": TEMPLATE, "recipients": ["+37251000001"]}, "template", "%firstName% but no recipient"),
        ({"template": PLAIN, "recipients": []}, "recipients", "empty"),
        ({"template": PLAIN}, "recipients", "exactly one of"),
        ({"template": PLAIN, "recipients": ["+37251000001"], "name": ""}, "name", "1-200"),
        (
            {"template": PLAIN, "recipients": ["+37251000001"], "idempotency_key": ""},
            "idempotency_key",
            "1-200",
        ),
        ({"template": PLAIN, "csv_path": "/no/such.csv"}, "csv", "no such file"),
        ({"template": PLAIN, "group_ids": []}, "group_ids", "one or more"),
        (
            {"template": {"messages": [{"channel": "sms", "text": "Hi %nickname%"}]}, "group_ids": ["g1"]},
            "template",
            "not a contact field",
        ),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(
    campaigns: Campaigns,
    store: MessageStore,
    publisher: RecordingPublisher,
    kwargs: dict[str, Any],
    field: str,
    words: str,
) -> None:
    with pytest.raises(InvalidInput) as caught:
        campaigns.create(**{"name": "x", **kwargs})
    assert any(name == field and words in text for name, text in caught.value.problems), caught.value.problems
    assert store.redis.dbsize() == 0 and publisher.published == []


@pytest.mark.parametrize(
    ("header", "words"),
    [
        ("name,firstName\n", "no column 'phone'"),
        ("phone,lastName\n", "%firstName% but the CSV has no such column"),
        ("", "empty"),
    ],
)
def test_a_csv_that_cannot_work_is_refused_before_anything_is_stored(
    campaigns: Campaigns, store: MessageStore, tmp_path: Path, header: str, words: str
) -> None:
    csv_file = write_csv(tmp_path / "r.csv", header + ("+37251000001,x\n" if header else ""))
    with pytest.raises(InvalidInput, match=words):
        campaigns.create(name="x", template=TEMPLATE, csv_path=csv_file)
    assert store.redis.dbsize() == 0


def test_a_failure_half_way_leaves_nothing_behind(
    campaigns: Campaigns, store: MessageStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any, **kwargs: Any) -> None:
        raise ConnectionError("redis went away")

    monkeypatch.setattr(campaigns, "_finish", broken)
    with pytest.raises(ConnectionError):
        campaigns.create(
            name="x", template=PLAIN, recipients=["+37251000001", "+37251000002"], idempotency_key="k1"
        )
    assert store.redis.dbsize() == 0


def test_the_same_idempotency_key_returns_the_first_campaign(
    campaigns: Campaigns, publisher: RecordingPublisher
) -> None:
    first = campaigns.create(
        name="x", template=PLAIN, recipients=["+37251000001"], idempotency_key="spring-2026"
    )
    again = campaigns.create(
        name="x", template=PLAIN, recipients=["+37251000002", "+37251000003"], idempotency_key="spring-2026"
    )
    assert again.id == first.id and again.messages == 1 and len(publisher.published) == 1


def test_pause_resume_and_cancel_follow_the_campaign_state(
    campaigns: Campaigns, store: MessageStore, publisher: RecordingPublisher
) -> None:
    progress = campaigns.create(
        name="x", template=PLAIN, recipients=["+37251000001", "+37251000002", "+37251000003"]
    )
    assert campaigns.pause(progress.id).status == "paused"
    with pytest.raises(CampaignStateError, match="is paused: cannot make it paused"):
        campaigns.pause(progress.id)
    store.redis.rpush(f"t:campaign:{progress.id}:held", "3:3")  # what a worker parks while paused
    published = len(publisher.published)
    assert campaigns.resume(progress.id).status == "running"
    assert publisher.published[published:] == [
        ("smsq.send_batch", {"campaign_id": progress.id, "first": 3, "last": 3}, "low")
    ]
    assert campaigns.cancel(progress.id).status == "cancelled"
    assert publisher.published[-1] == ("smsq.campaign_sweep", {"campaign_id": progress.id}, "sync")
    with pytest.raises(CampaignStateError):
        campaigns.resume(progress.id)


def test_unknown_and_malformed_campaign_ids(campaigns: Campaigns) -> None:
    with pytest.raises(CampaignNotFound):
        campaigns.progress("0" * 32)
    with pytest.raises(InvalidInput, match="campaign_id: 'nope' is not a campaign id"):
        campaigns.pause("nope")


def test_a_scheduled_campaign_waits_for_its_time(
    campaigns: Campaigns, store: MessageStore, publisher: RecordingPublisher, clock: FakeClock
) -> None:
    template = {**PLAIN, "time_to_send": "2030-01-01T00:00:00Z"}
    progress = campaigns.create(name="x", template=template, recipients=["+37251000001"])
    assert (
        progress.status == "scheduled" and progress.counts == {"scheduled": 1} and publisher.published == []
    )
    assert campaigns.release_due() == 0
    clock.now = 1_893_456_000.0  # 2030-01-01
    assert campaigns.release_due() == 1
    assert campaigns.progress(progress.id).status == "running"
    assert [task for task, _, _ in publisher.published] == ["smsq.send_batch"]


def test_message_ids_are_uuid5_of_the_campaign_and_position() -> None:
    import uuid

    from smsq.producers.campaigns.model import NAMESPACE

    for position in (1, 7, 123456):
        assert message_id("ab" * 16, position) == str(uuid.uuid5(NAMESPACE, f"{'ab' * 16}:{position}"))


def test_variables_are_stored_as_the_json_of_their_values() -> None:
    tricky = ('Ann "the" Öberg', "back\\slash", "tab\there", "😀")
    (row,) = campaign_expansion.parse_rows([(2, "+37251000001", tricky)], "ab" * 16, ["a", "b", "c", "d"])
    assert json.loads(row[4]) == dict(zip("abcd", tricky, strict=True))
    assert row[4] == json.dumps(dict(zip("abcd", tricky, strict=True)), ensure_ascii=False)
    assert row[3] == message_id("ab" * 16, 2)


@pytest.mark.parametrize("count", [0, 1, 2])
def test_one_or_no_variable_is_the_same_json_as_json_dumps(count: int) -> None:
    values = ('Ann "the" Öberg\t😀', "x")[:count]
    variables = ['first"Name', "b"][:count]
    (row,) = campaign_expansion.parse_rows([(2, "+37251000001", values)], "ab" * 16, variables)
    expected = json.dumps(dict(zip(variables, values, strict=True)), ensure_ascii=False) if count else ""
    assert row[4] == expected


def test_a_blocked_record_expires_after_the_retention_like_every_final_record(
    campaigns: Campaigns, store: MessageStore
) -> None:
    """A recipient on the blacklist is stored blocked (final) at creation: it must expire after the
    retention as a record that reached a final status by a transition does, not stay forever."""
    campaigns.expander.blacklist.add("+37251000002", source="api")
    progress = campaigns.create(name="optout", template=PLAIN, recipients=["+37251000001", "+37251000002"])
    queued_key, blocked_key = (store.keys.record(message_id(progress.id, p)) for p in (1, 2))
    assert store.redis.hget(blocked_key, "status") == "blocked"
    assert store.redis.ttl(blocked_key) == store.retention_seconds
    assert store.redis.ttl(queued_key) == -1  # pending: it lives until it is sent or cancelled
