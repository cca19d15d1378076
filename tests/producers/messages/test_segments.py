"""SMS encoding and parts (smsq.producers.messages.segments), table-driven: every character of the
GSM 03.38 tables, emoji, the split rules at each boundary, UDH, autoconvert, and published examples."""

from __future__ import annotations

import pytest

from smsq.producers.messages.segments import (
    FULL_REPLACEMENTS,
    GSM7_BASIC,
    GSM7_EXTENDED,
    Segments,
    count,
    sms_segments,
)

# GSM 03.38 default alphabet (3GPP TS 23.038 6.2.1), in code order 0x00-0x7F; 0x1B (the escape to
# the extension table) is not a character of its own.
GSM_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
EXTENSION_TABLE = "\f^{}\\[~]|€"  # 0x1B0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65


def test_the_tables_are_the_standards() -> None:
    assert len(GSM_TABLE) == 128
    assert frozenset(GSM_TABLE) - {"\x1b"} == GSM7_BASIC
    assert frozenset(EXTENSION_TABLE) == GSM7_EXTENDED


@pytest.mark.parametrize("char", sorted(GSM7_BASIC))
def test_every_basic_character_is_one_septet(char: str) -> None:
    assert count(char * 160) == Segments("GSM-7", 1, 160, 160, 160)
    assert count(char * 161).segments == 2


@pytest.mark.parametrize("char", sorted(EXTENSION_TABLE))
def test_every_extension_character_is_two_septets(char: str) -> None:
    assert count(char * 80) == Segments("GSM-7", 1, 80, 160, 160)
    # 81 of them: 162 septets, 76 a part (152 septets: an escape pair never straddles two parts).
    assert count(char * 81) == Segments("GSM-7", 2, 81, 162, 153)
    assert count(char * 152).segments == 2 and count(char * 153).segments == 3


@pytest.mark.parametrize(
    ("text", "encoding", "segments", "characters", "units"),
    [
        ("", "GSM-7", 1, 0, 0),
        ("a" * 160, "GSM-7", 1, 160, 160),
        ("a" * 161, "GSM-7", 2, 161, 161),
        ("a" * 306, "GSM-7", 2, 306, 306),
        ("a" * 307, "GSM-7", 3, 307, 307),
        ("a" * 159 + "€", "GSM-7", 2, 160, 161),  # the escape makes it 161 septets
        ("a" * 158 + "€", "GSM-7", 1, 159, 160),
        # 152 septets then an extension character: it does not fit the first part's last septet.
        ("a" * 152 + "€" + "a" * 153, "GSM-7", 3, 306, 307),
        ("a" * 151 + "€" + "a" * 153, "GSM-7", 2, 305, 306),
        ("é" * 160, "GSM-7", 1, 160, 160),  # é is in the default alphabet
        ("ç", "UCS-2", 1, 1, 1),  # only Ç is (0x09)
        ("\u00e1", "UCS-2", 1, 1, 1),  # á is not
        ("a" * 69 + "\u2019", "UCS-2", 1, 70, 70),
        ("a" * 70 + "\u2019", "UCS-2", 2, 71, 71),
        ("a" * 133 + "\u2019", "UCS-2", 2, 134, 134),
        ("a" * 134 + "\u2019", "UCS-2", 3, 135, 135),
        ("😀" * 35, "UCS-2", 1, 35, 70),  # outside the BMP: a surrogate pair, two units
        ("😀" * 36, "UCS-2", 2, 36, 72),
        ("a" * 66 + "😀" + "a" * 67, "UCS-2", 3, 134, 135),  # the pair is not split: part 2 starts with it
        ("a" * 65 + "😀" + "a" * 67, "UCS-2", 2, 133, 134),
        ("👍🏽", "UCS-2", 1, 2, 4),  # an emoji with a skin tone: two code points, four units
        ("Привет", "UCS-2", 1, 6, 6),
        ("你好" * 35, "UCS-2", 1, 70, 70),
        ("`", "UCS-2", 1, 1, 1),  # the backtick is ASCII but not GSM-7
    ],
)
def test_counts(text: str, encoding: str, segments: int, characters: int, units: int) -> None:
    result = count(text)
    assert (result.encoding, result.segments, result.characters, result.units) == (
        encoding,
        segments,
        characters,
        units,
    )
    assert sms_segments(text) == segments


def test_published_examples() -> None:
    # Issue 16 / Postman.gov.sg: one curly apostrophe turns a 150-character text from 1 part into 3.
    text = "We\u2019re open" + "x" * 140
    assert len(text) == 150 and count(text.replace("\u2019", "'")).segments == 1
    assert count(text).segments == 3
    # GOV.UK Notify: extension characters count as two ("[" in a 160-character text makes 2 parts).
    assert count("[" + "a" * 159).segments == 2
    # Twilio's segment calculator: 160 GSM-7 / 70 UCS-2 in one segment, then 153 / 67 each.
    assert count("a" * 153 * 3).segments == 3 and count("a" * (153 * 3 + 1)).segments == 4
    assert count("\u2019" * 67 * 3).segments == 3 and count("\u2019" * (67 * 3 + 1)).segments == 4


def test_the_character_that_forced_ucs2_is_named_with_its_position() -> None:
    result = count("Hello 🎉 and \u2019")
    assert (result.forced_by, result.forced_at) == ("🎉", 7)
    assert "UCS-2 because of '🎉' (U+1F389 PARTY POPPER) at position 7" in result.explain()
    assert count("plain").forced_by is None


@pytest.mark.parametrize(
    ("udh", "single", "each"),
    [
        (None, 160, 153),
        ("050003CC0201", 153, 147),  # 6 bytes: 48 bits -> 7 septets; with concatenation 11 bytes -> 13
        ("0401020304", 154, 148),  # 5 bytes: 40 bits -> 6 septets; with concatenation 10 bytes -> 12
    ],
)
def test_a_udh_shrinks_every_part(udh: str | None, single: int, each: int) -> None:
    assert count("a" * single, udh=udh).segments == 1
    assert count("a" * (single + 1), udh=udh) == Segments("GSM-7", 2, single + 1, single + 1, each)


def test_a_udh_shrinks_ucs2_parts() -> None:
    assert count("\u2019" * 67, udh="050003CC0201").segments == 1  # (140 - 6) // 2
    assert count("\u2019" * 68, udh="050003CC0201").per_part == 64  # (140 - 6 - 5) // 2


@pytest.mark.parametrize("char", sorted(FULL_REPLACEMENTS))
def test_autoconvert_full_replaces_with_gsm_alternatives(char: str) -> None:
    result = count(char * 10, autoconvert="full")
    assert result.encoding == "GSM-7"


@pytest.mark.parametrize(
    ("text", "autoconvert", "encoding", "characters"),
    [
        ("It\u2019s \u201cfine\u201d \u2013 really…", "full", "GSM-7", 23),  # … becomes three dots
        ("It\u2019s \u201cfine\u201d \u2013 really…", "off", "UCS-2", 21),
        ("It\u2019s", None, "UCS-2", 4),  # "on" with no replacements mirrored: as it is
        ("Crème brûlée à Zürich", "full", "GSM-7", 21),  # û -> u; è, é, à, ü are GSM-7 already
        ("Party 🎉", "full", "GSM-7", 7),  # no alternative: counted as one replacement character
        ("łódź", "full", "GSM-7", 4),  # ó -> o, ź -> z; ł has no decomposition: "?"
    ],
)
def test_autoconvert_modes(text: str, autoconvert: str | None, encoding: str, characters: int) -> None:
    result = count(text, autoconvert=autoconvert)
    assert (result.encoding, result.characters) == (encoding, characters)


def test_autoconvert_on_uses_the_mirrored_account_replacements() -> None:
    table = {"\u2019": "'"}
    assert count("It\u2019s", auto_replace=table).encoding == "GSM-7"
    assert count("It\u2019s", autoconvert="on", auto_replace=table).encoding == "GSM-7"
    assert count("It\u2019s", autoconvert="off", auto_replace=table).encoding == "UCS-2"
    # What the table does not replace still forces UCS-2, and is named at its place in the text given.
    result = count("It\u2019s ok ✓", auto_replace=table)
    assert (result.encoding, result.forced_by, result.forced_at) == ("UCS-2", "✓", 9)
