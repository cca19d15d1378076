"""A fast path for the common case of campaign input: a number already written in E.164.

``phonenumbers`` takes tens of microseconds per number (it parses, strips prefixes, then tries each
number type's pattern in turn). For a string that is plainly ``+<digits>`` in a country code that
belongs to one region, validity is exactly "the national part fits the general pattern and one of
the number-type patterns, with their possible lengths" (phonenumbers' own ``_number_type_helper``).
This module compiles those patterns from phonenumbers' metadata once per country and answers in a
few microseconds. Anything else (another form, a shared country code such as +1, a national part
that starts with the country's national prefix, or no match at all) falls back to full parsing, so
the answer is always phonenumbers' answer. tests/producers/test_phone_fast.py checks that on random
numbers from every single-region country.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache
from typing import Final

from phonenumbers import PhoneMetadata
from phonenumbers.phonenumberutil import COUNTRY_CODE_TO_REGION_CODE

# ASCII digits only: ``\d`` would also match Arabic-Indic and other Unicode digits, and the number
# would be stored and sent in them (smsq.producers.messages.numbers converts them before this runs).
_PLAIN: Final = re.compile(r"\+?([1-9][0-9]{6,14})", re.ASCII)
# Validity is "matches any type", so the order is free: the common types first.
_TYPES: Final = ("mobile", "fixed_line", "toll_free", "premium_rate", "shared_cost", "voip",
                 "personal_number", "pager", "uan", "voicemail")  # fmt: skip


class _Country:
    """The compiled validity test of one single-region country calling code."""

    def __init__(self, metadata: PhoneMetadata) -> None:
        general = metadata.general_desc
        assert general is not None and general.national_number_pattern is not None
        self.general = re.compile(general.national_number_pattern)
        self.general_lengths = frozenset(general.possible_length)
        self.types: list[tuple[re.Pattern[str], frozenset[int]]] = []
        for name in _TYPES:
            desc = getattr(metadata, name)
            if desc is not None and desc.national_number_pattern:
                self.types.append((re.compile(desc.national_number_pattern), frozenset(desc.possible_length)))
        prefix = metadata.national_prefix_for_parsing
        self.national_prefix = re.compile(prefix) if prefix else None

    def valid(self, national: str) -> bool | None:
        """True: valid. None: not sure here (let phonenumbers decide)."""
        length = len(national)
        if self.national_prefix is not None and self.national_prefix.match(national):
            return None  # phonenumbers might strip it as a national prefix: its call
        if (self.general_lengths and length not in self.general_lengths) or not self.general.fullmatch(
            national
        ):
            return None
        for pattern, lengths in self.types:
            if (not lengths or length in lengths) and pattern.fullmatch(national):
                return True
        return None


@cache
def _country(code: int) -> _Country | None:
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code)
    if not regions or len(regions) != 1:
        return None  # shared codes (+1, +7, +44 ...) pick a region first: leave them to phonenumbers
    metadata = PhoneMetadata.metadata_for_region_or_calling_code(code, regions[0])
    return _Country(metadata) if metadata is not None else None


def fast_e164(text: str, slow: Callable[[str], str]) -> str:
    """``slow(text)`` (phonenumbers' normalisation), answered without it where that is certain."""
    plain = _PLAIN.fullmatch(text)
    if plain is not None:
        digits = plain.group(1)
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                country = _country(code)
                if country is not None and country.valid(digits[size:]):
                    return "+" + digits
                break
    return slow(text)
