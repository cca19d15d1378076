from __future__ import annotations

import random

import pytest
from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

from smsq.producers.messages.numbers import to_e164
from smsq.producers.messages.phone import fast_e164


def slow_or_error(text: str) -> str:
    try:
        return to_e164(text)
    except ValueError:
        return "invalid"


def candidates(rng: random.Random) -> list[str]:
    """Random national numbers of every plausible length, for every single-region country code."""
    numbers = []
    for code, regions in COUNTRY_CODE_TO_REGION_CODE.items():
        if len(regions) != 1 or regions[0] == "001":
            continue
        metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
        lengths = list(metadata.general_desc.possible_length) or [8]
        for _ in range(60):
            length = rng.choice(lengths)
            numbers.append(f"+{code}" + "".join(rng.choice("0123456789") for _ in range(length)))
    return numbers


def test_the_fast_path_always_agrees_with_phonenumbers() -> None:
    numbers = candidates(random.Random(20261122))
    assert len(numbers) > 10_000
    disagreements = [n for n in numbers if slow_or_error(n) != fast_e164_or_error(n)]
    assert disagreements == []
    fast_hits = sum(1 for n in numbers if fast_e164(n, lambda text: "slow") != "slow")
    assert fast_hits > 2_000  # it really takes the fast path for many of them


def fast_e164_or_error(text: str) -> str:
    try:
        return fast_e164(text, to_e164)
    except ValueError:
        return "invalid"


@pytest.mark.parametrize(
    "text",
    [
        "+37251234567",
        "37251234567",
        "+372 5123 4567",
        "+12025550143",
        "+4407911123456",
        "+78001234567",
        "+3725x1",
    ],
)
def test_forms_and_shared_codes_give_the_same_answer(text: str) -> None:
    assert fast_e164_or_error(text) == slow_or_error(text)
