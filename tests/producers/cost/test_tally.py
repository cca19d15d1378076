"""The tally adds up per number prefix (one country lookup per prefix and chunk): its totals equal
adding each recipient on its own, also when country_of keeps no more prefixes."""

from __future__ import annotations

import random

import pytest

from smsq.producers.cost import prices
from smsq.producers.cost.parts import Parts
from smsq.producers.cost.prices import country_of
from smsq.producers.cost.tally import Tally

NUMBERS = ["+37251000001", "+37251000002", "+37126000003", "+12125550104", "+14165550123",
           "+48500000005", "+4915100000006", "+447700900123", "+79161234567", "+77012345678"]  # fmt: skip


def one_by_one(counted: list[tuple[str, Parts]], blocked: set[str]) -> Tally:
    """What the tally means, recipient by recipient."""
    tally = Tally(by_country=True)
    for number, (parts, ucs2) in counted:
        if parts and number not in blocked:
            encoding = "UCS-2" if ucs2 else "GSM-7"
            tally.messages[encoding] += 1
            tally.segments[encoding] += parts
            entry = tally.countries.setdefault(country_of(number), [0, 0])
            entry[0] += 1
            entry[1] += parts
    return tally


def sample(seed: int) -> tuple[list[list[tuple[str, Parts]]], set[str]]:
    rng = random.Random(seed)
    numbers = [rng.choice(NUMBERS)[:-3] + f"{rng.randrange(1000):03d}" for _ in range(300)]
    chunks = [
        [
            (number, (rng.choice([0, 1, 1, 2, 3]), rng.random() < 0.2))
            for number in numbers[start : start + 50]
        ]
        for start in range(0, len(numbers), 50)
    ]
    return chunks, set(rng.sample(numbers, 20))


@pytest.mark.parametrize("seed", range(5))
def test_per_prefix_equals_one_by_one(seed: int) -> None:
    chunks, blocked = sample(seed)
    tally = Tally(by_country=True)
    for chunk in chunks:
        tally.add_all(chunk, blocked)
    expected = one_by_one([item for chunk in chunks for item in chunk], blocked)
    assert (tally.messages, tally.segments, tally.countries) == (
        expected.messages,
        expected.segments,
        expected.countries,
    )


def test_without_kept_prefixes_each_number_is_looked_up(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(prices, "_REGIONS", {})
    monkeypatch.setattr(prices, "_REGIONS_KEPT", 0)  # full: country_of keeps nothing
    chunks, blocked = sample(11)
    tally = Tally(by_country=True)
    for chunk in chunks:
        tally.add_all(chunk, blocked)
    expected = one_by_one([item for chunk in chunks for item in chunk], blocked)
    assert tally.countries == expected.countries
    assert sum(messages for messages, _ in tally.countries.values()) == sum(tally.messages.values())


def test_without_prices_or_by_country_no_country_is_counted() -> None:
    tally = Tally()
    tally.add_all([("+37251000001", (2, False)), ("+48500000005", (1, True))])
    assert (tally.messages, tally.segments, tally.countries) == (
        {"GSM-7": 1, "UCS-2": 1},
        {"GSM-7": 2, "UCS-2": 1},
        {},
    )
