"""A campaign's dry run (issue 16): recipients, skipped, blocked, SMS parts by encoding, the
estimated cost by country and in total; nothing stored. And a real creation keeps its parts."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.api import Campaigns
from smsq.producers.core.store import MessageStore
from smsq.producers.cost.prices import load_prices
from smsq.producers.errors import InvalidInput
from tests.support.fakes import RecordingPublisher

EXAMPLE = Path(__file__).parents[3] / "config" / "prices.example.toml"
TEMPLATE = {"messages": [{"channel": "sms", "text": "Hi %firstName%, 20% off until Sunday"}]}
CSV = (
    "phone,firstName\n"
    "+37251000001,Mari\n"
    "+37251000002,Jüri\n"
    "+372 5100 0002,Jüri\n"
    "+37126000003,Anna\n"
    "+12125550104,Bob\n"
    "+48500000005,Zoë\n"  # ë is not GSM-7: this one is UCS-2
    "not-a-number,X\n"
    "+4915100000006,\n"
    "+37251000009,Blocked\n"
)


@pytest.fixture
def campaigns(store: MessageStore) -> Campaigns:
    publisher = RecordingPublisher()
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    blacklist.add("+37251000009", source="api")
    return Campaigns(store, publisher, blacklist, prices=load_prices(EXAMPLE), sms_provider="messente")


def test_a_dry_run_reports_and_stores_nothing(
    campaigns: Campaigns, store: MessageStore, tmp_path: Path
) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    keys_before = set(store.redis.keys("*"))
    report = campaigns.dry_run(name="promo", template=TEMPLATE, csv_path=path).as_dict()
    assert set(store.redis.keys("*")) == keys_before  # nothing stored
    assert report == {
        "name": "promo",
        "recipients": 9,
        "messages": 6,
        "blocked": 1,
        "to_send": 5,
        "skipped": {"duplicate": 1, "invalid_number": 1, "missing_variable": 1},
        "segments_by_encoding": {
            "GSM-7": {"messages": 4, "segments": 4},
            "UCS-2": {"messages": 1, "segments": 1},
        },
        "segments": 5,
        "provider": "messente",
        "currency": "EUR",
        "by_country": {
            "EE": {"messages": 2, "segments": 2, "cost": 0.09},
            "LV": {"messages": 1, "segments": 1, "cost": 0.05},
            "PL": {"messages": 1, "segments": 1, "cost": 0.08},
            "US": {"messages": 1, "segments": 1, "cost": 0.01},
        },
        "total_cost": 0.23,
        "unpriced_countries": [],
    }


def test_unpriced_countries_are_named_not_guessed(store: MessageStore) -> None:
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    campaigns = Campaigns(
        store, RecordingPublisher(), blacklist, prices=load_prices(EXAMPLE), sms_provider="smsapi"
    )
    text = "x" * 200  # two parts each
    report = campaigns.dry_run(
        name="n",
        template={"messages": [{"channel": "sms", "text": text}]},
        recipients=["+48500000005", "+37251000001"],
    ).as_dict()
    assert report["by_country"]["PL"] == {"messages": 1, "segments": 2, "cost": 0.04}
    assert report["by_country"]["EE"]["cost"] is None and report["unpriced_countries"] == ["EE"]
    assert report["total_cost"] == 0.04


def test_without_prices_there_is_no_cost(store: MessageStore) -> None:
    campaigns = Campaigns(store, RecordingPublisher(), Blacklist(store.redis, prefix="t", clock=store.clock))
    report = campaigns.dry_run(
        name="n", template=TEMPLATE | {}, recipients=[{"to": "+37251000001", "firstName": "A"}]
    )
    assert report.estimate["total_cost"] is None and report.estimate["currency"] is None
    assert report.estimate["by_country"] == {"EE": {"messages": 1, "segments": 1, "cost": None}}


@pytest.mark.parametrize(
    ("kwargs", "words"),
    [
        ({"recipients": []}, "recipients: the list is empty"),
        ({"group_ids": ["g1"]}, "a dry run needs recipients or a CSV"),
        ({"recipients": ["+37251000001"], "csv_path": "x.csv"}, "give exactly one of"),
        ({"csv_path": "/nonexistent.csv"}, "no such file"),
        ({"recipients": ["+37251000001"], "template": {"messages": []}}, "template.messages"),
    ],
)
def test_a_dry_run_refuses_bad_input_like_create(
    campaigns: Campaigns, store: MessageStore, kwargs: dict[str, object], words: str
) -> None:
    keys_before = set(store.redis.keys("*"))
    with pytest.raises(InvalidInput, match=words):
        campaigns.dry_run(**{"name": "n", "template": TEMPLATE, **kwargs})  # type: ignore[arg-type]
    assert set(store.redis.keys("*")) == keys_before


def test_a_created_campaign_keeps_its_parts_by_encoding(campaigns: Campaigns, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text(CSV, encoding="utf-8")
    progress = campaigns.create(name="promo", template=TEMPLATE, csv_path=path)
    assert progress.sms_segments == {"GSM-7": 4, "UCS-2": 1}
