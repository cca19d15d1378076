"""How an SMS text is encoded and how many parts (segments) it is billed as.

No maintained Python library does this whole job (checked on PyPI: smsutil 2020, gsmencoding 2021,
sms-counter 0.0.1: none handles the split rules below, a UDH or a provider's auto-conversion), so
this is a small module of our own, table-tested in tests/producers/messages/test_segments.py.

- GSM 03.38 (7-bit) when every character is in its default alphabet or its extension table; an
  extension character (``^{}\\[~]|€`` and form feed) is an escape plus a character: two septets.
  One part holds 160 septets; a concatenated message 153 per part (the 6-byte concatenation UDH).
- UCS-2 otherwise: 70 UTF-16 units in one part, 67 per part of a longer one; a character outside
  the basic plane (most emoji) is a surrogate pair, two units.
- A part never splits an escape sequence or a surrogate pair (handsets show garbage otherwise), so
  a part can hold one unit less than its size: counted part by part, as Twilio's calculator does.
- ``udh`` (hex, its length byte first) takes its bytes from every part's 140.
- Messente's ``autoconvert``: ``off`` sends the text as it is; ``full`` replaces every non-GSM
  character with an alternative (so it is always GSM-7); ``on`` (Messente's default) applies the
  account's Auto Replace settings, which smsq cannot read: ``SMSQ_COST__AUTO_REPLACE`` mirrors
  them (empty by default: counted as sent as is, the costlier reading).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final, Literal

Encoding = Literal["GSM-7", "UCS-2"]
GSM7: Final = "GSM-7"
UCS2: Final = "UCS-2"

GSM7_BASIC: Final = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED: Final = frozenset("^{}\\[~]|€\f")

PART_BYTES: Final = 140  # one SMS's user data
CONCAT_UDH_BYTES: Final = 6  # UDHL + the 8-bit-reference concatenation element (00 03 ref total seq)
CONCAT_IE_BYTES: Final = 5  # the element alone, when a caller's UDH already has the length byte

# C-speed scans: the first character outside the basic alphabet, outside GSM-7, outside the BMP.
NOT_BASIC: Final = re.compile("[^" + re.escape("".join(sorted(GSM7_BASIC))) + "]")
_NOT_GSM: Final = re.compile("[^" + re.escape("".join(sorted(GSM7_BASIC | GSM7_EXTENDED))) + "]")
_ASTRAL: Final = re.compile("[\U00010000-\U0010ffff]")

# autoconvert=full: alternatives for the non-GSM characters texts usually carry (typographic
# punctuation and spaces); any other letter loses its accents (NFKD), and what has no GSM-7
# alternative at all (an emoji) is counted as one replacement character.
FULL_REPLACEMENTS: Final[Mapping[str, str]] = {
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'", "\u2032": "'", "`": "'", "\u00b4": "'",
    "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"', "\u2033": '"', "\u00ab": '"', "\u00bb": '"',
    "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-", "\u2014": "-", "\u2015": "-", "\u2212": "-",
    "\u2026": "...", "\u2022": "*", "\u00b7": ".", "\u00a0": " ", "\u2009": " ", "\u202f": " ",
    "\u2002": " ", "\u2003": " ", "\t": " ", "\u00a9": "(c)", "\u00ae": "(R)", "\u2122": "TM",
    "\u00e7": "Ç", "\u00b0": "o",
}  # fmt: skip
NO_ALTERNATIVE: Final = "?"


@dataclass(frozen=True)
class Segments:
    """What one SMS text costs in parts."""

    encoding: Encoding
    segments: int
    characters: int  # code points of the text as it is sent (after autoconvert)
    units: int  # septets (GSM-7) or UTF-16 units (UCS-2)
    per_part: int  # units one part holds (the single-part size when it fits in one)
    # The first character that forced UCS-2, and its 1-based position in the text given.
    forced_by: str | None = None
    forced_at: int | None = None

    def as_dict(self) -> dict[str, str | int]:
        """What the record keeps and the producer and HTTP APIs return."""
        return {"encoding": self.encoding, "segments": self.segments, "characters": self.characters}

    def explain(self) -> str:
        """One line: ``2 parts, GSM-7, 170 characters (176 septets, 153 a part)``."""
        unit = "septets" if self.encoding == GSM7 else "UTF-16 units"
        parts = "1 part" if self.segments == 1 else f"{self.segments} parts"
        size = f"{self.units} {unit}, {self.per_part} a part"
        line = f"{parts}, {self.encoding}, {self.characters} characters ({size})"
        if self.forced_by is not None:
            line += f"; UCS-2 because of {describe(self.forced_by)} at position {self.forced_at}"
        return line


def describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


def udh_bytes(udh: str | None) -> int:
    """Bytes of a caller's UDH (hex, length byte included); 0 for none."""
    return len(udh) // 2 if udh else 0


def _sizes(gsm: bool, udh: int) -> tuple[int, int]:
    """(one part, each part of a concatenated message) in septets or UTF-16 units."""
    multi = udh + CONCAT_IE_BYTES if udh else CONCAT_UDH_BYTES
    if gsm:  # the UDH is padded to a septet boundary
        return 160 - -(-udh * 8 // 7), 160 - -(-multi * 8 // 7)
    return (PART_BYTES - udh) // 2, (PART_BYTES - multi) // 2


def convert(text: str, autoconvert: str | None, auto_replace: Mapping[str, str] | None = None) -> str:
    """The text as Messente sends it under ``autoconvert`` (see the module's docstring)."""
    if autoconvert == "off" or _NOT_GSM.search(text) is None:
        return text
    if autoconvert == "full":
        return "".join(ch if ch in GSM7_BASIC or ch in GSM7_EXTENDED else full_alternative(ch) for ch in text)
    if auto_replace:  # "on" (or unset: Messente's default), with the account's table mirrored
        return "".join(auto_replace.get(ch, ch) for ch in text)
    return text


def full_alternative(char: str) -> str:
    if (known := FULL_REPLACEMENTS.get(char)) is not None:
        return known
    stripped = "".join(c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c))
    if stripped and _NOT_GSM.search(stripped) is None:
        return stripped
    return NO_ALTERNATIVE


def count(
    text: str,
    *,
    udh: str | None = None,
    autoconvert: str | None = None,
    auto_replace: Mapping[str, str] | None = None,
) -> Segments:
    """Encoding and parts of ``text`` as sent (1 part for an empty text)."""
    sent = convert(text, autoconvert, auto_replace)
    udh_len = udh_bytes(udh)
    if NOT_BASIC.search(sent) is None:  # the common case, in one regex scan
        return _fixed_width(sent, len(sent), gsm=True, udh=udh_len)
    forced = _NOT_GSM.search(sent)
    if forced is None:
        weights = [2 if ch in GSM7_EXTENDED else 1 for ch in sent]
        return _packed(sent, weights, gsm=True, udh=udh_len)
    forced_by, forced_at = _first_forcing(text, forced.group(), autoconvert, auto_replace)
    units = len(sent.encode("utf-16-le")) // 2
    if units == len(sent):
        result = _fixed_width(sent, units, gsm=False, udh=udh_len)
    else:
        result = _packed(sent, [1 if ord(ch) < 0x10000 else 2 for ch in sent], gsm=False, udh=udh_len)
    return Segments(
        result.encoding,
        result.segments,
        result.characters,
        result.units,
        result.per_part,
        forced_by,
        forced_at,
    )


def _first_forcing(
    text: str, sent_char: str, autoconvert: str | None, auto_replace: Mapping[str, str] | None
) -> tuple[str, int]:
    """The character of the caller's text (and its 1-based position) that made the sent text UCS-2."""
    if convert(text, autoconvert, auto_replace) == text:
        return sent_char, text.index(sent_char) + 1
    for position, ch in enumerate(text, start=1):
        if _NOT_GSM.search(convert(ch, autoconvert, auto_replace)):
            return ch, position
    return sent_char, 1  # pragma: no cover - a replacement that itself is not GSM-7


def parts_for(units: int, *, gsm: bool, udh: str | None = None) -> int:
    """Parts of a text of ``units`` septets or UTF-16 units with no two-unit characters."""
    single, each = part_sizes(gsm=gsm, udh=udh)
    return 1 if units <= single else -(-units // each)


def part_sizes(*, gsm: bool, udh: str | None = None) -> tuple[int, int]:
    """(units in one part, units in each part of a concatenated text) for this encoding and UDH."""
    return _sizes(gsm, udh_bytes(udh))


def _fixed_width(text: str, units: int, *, gsm: bool, udh: int) -> Segments:
    single, each = _sizes(gsm, udh)
    encoding: Encoding = "GSM-7" if gsm else "UCS-2"
    if units <= single:
        return Segments(encoding, 1, len(text), units, single)
    return Segments(encoding, -(-units // each), len(text), units, each)


def _packed(text: str, weights: list[int], *, gsm: bool, udh: int) -> Segments:
    """Parts filled one character at a time: a two-unit character never straddles two parts."""
    single, each = _sizes(gsm, udh)
    units = sum(weights)
    encoding: Encoding = "GSM-7" if gsm else "UCS-2"
    if units <= single:
        return Segments(encoding, 1, len(text), units, single)
    parts, used = 1, 0
    for weight in weights:
        if used + weight > each:
            parts, used = parts + 1, 0
        used += weight
    return Segments(encoding, parts, len(text), units, each)


def sms_segments(text: str) -> int:
    """Parts the text is sent in as it is (1 for an empty text)."""
    return count(text).segments
