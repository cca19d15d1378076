"""Phone-number normalisation: the one function every path uses (send, campaigns, blacklist add,
import, check and search, 2FA, provider lists read by the sync, delivery reports).

A number arrives as text in many spellings. What counts as the same number must be the same string
after normalisation, or an opt-out can be bypassed by spelling the number differently. The rules:

- Digits: every Unicode decimal digit (category Nd: Arabic-Indic U+0661, fullwidth U+FF15,
  Devanagari U+096B ...) is converted to its ASCII digit, deliberately, before anything else
  looks at the text; phonenumbers would convert them too, but the fast E.164 path must see the
  same digits.
- Separators: spaces (any Unicode space), dashes (any Unicode dash), ``.``, ``/``, ``(`` and ``)``
  are dropped by phonenumbers as formatting.
- A leading ``+`` (or the fullwidth U+FF0B), or ``00`` for it; providers' lists write numbers with
  no prefix at all, so the country code is then assumed to lead.
- Anything else (letters, which phonenumbers would read as a keypad vanity number; control
  characters; superscripts and other digit-like symbols that are not decimal digits; an
  extension) is refused with a message naming the character.

The result is always ``+`` and 7-15 ASCII digits (E.164), checked with ``fullmatch`` at the end.
"""

from __future__ import annotations

import re
import sys
import unicodedata
from functools import cache
from typing import Final

import phonenumbers

from smsq.producers.messages.phone import fast_e164

MAX_INPUT_CHARS: Final = 64  # no real spelling of a number is longer; phonenumbers never sees more
E164: Final = re.compile(r"\+[1-9][0-9]{6,14}", re.ASCII)
_SEPARATORS: Final = frozenset(" .-/()")
_PLUS: Final = frozenset("+\uff0b")
# Already plain ASCII "+digits" (what an app sends, almost always): nothing to convert or refuse.
_PLAIN_ASCII: Final = re.compile(r"\+?[0-9]+", re.ASCII)


@cache
def _digit_table() -> dict[int, str]:
    """Every non-ASCII Unicode decimal digit -> its ASCII digit (built once, about 700 entries)."""
    table: dict[int, str] = {}
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        if unicodedata.category(char) == "Nd":
            table[code] = str(unicodedata.decimal(char))
    return table


def ascii_digits(text: str) -> str:
    """``text`` with every Unicode decimal digit written as its ASCII digit; nothing else changes."""
    return text if text.isascii() else text.translate(_digit_table())


def _refused_character(text: str) -> str | None:
    for index, char in enumerate(text):
        if char.isdigit() and char.isascii():
            continue
        if char in _SEPARATORS or (index == 0 and char in _PLUS):
            continue
        if not char.isascii() and unicodedata.category(char) in ("Zs", "Pd"):
            continue  # a Unicode space or dash: formatting, like the ASCII ones
        return char
    return None


def _describe(char: str) -> str:
    name = unicodedata.name(char, "")
    return f"{char!r} (U+{ord(char):04X}{' ' + name if name else ''})"


def to_e164(value: object) -> str:
    """The number in E.164 (``+`` and ASCII digits), or ValueError saying why it is not one."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError("must be a phone number string")
    text = str(value).strip()
    if not text:
        raise ValueError("must not be empty")
    if len(text) > MAX_INPUT_CHARS:
        raise ValueError(f"is longer than {MAX_INPUT_CHARS} characters: not a phone number")
    if not _PLAIN_ASCII.fullmatch(text):
        text = ascii_digits(text)
        refused = _refused_character(text)
        if refused is not None:
            raise ValueError(
                f"{text!r} is not a phone number: it contains {_describe(refused)} (a number is digits, "
                "with spaces, dashes, dots, slashes or parentheses between them)"
            )
        if text[0] == "\uff0b":
            text = "+" + text[1:]
    if text.startswith("00"):
        text = "+" + text[2:]
    normalised = fast_e164(text, _parse_with_phonenumbers)
    if not E164.fullmatch(normalised):  # never expected: phonenumbers' E.164 is ASCII digits
        raise ValueError(f"{text!r} does not normalise to E.164")
    return normalised


def listed_number(value: object) -> str:
    """A number from a provider's own list (blacklists, reports): E.164 when it normalises, else
    ``+`` and its digits (converted to ASCII the same way), so an entry phonenumbers does not know
    is kept, never dropped from a blacklist and never spelled two ways. An entry with no digits at
    all (it can match no number) is kept as given."""
    try:
        return to_e164(value)
    except ValueError:
        text = str(value).strip()
        digits = "".join(ch for ch in ascii_digits(text) if ch.isascii() and ch.isdigit())
        return "+" + digits if digits else text


def search_digits(value: str) -> str:
    """A search term over numbers: separators dropped, digits made ASCII (``+`` kept)."""
    text = ascii_digits(value.strip())
    return "".join(ch for ch in text if ch not in _SEPARATORS and not ch.isspace())


def _parse_with_phonenumbers(text: str) -> str:
    if not text.startswith("+"):
        text = "+" + text  # providers like SMSAPI and Direct Messenger write numbers without "+"
    try:
        number = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError(
            f"{text.removeprefix('+')!r} is not a phone number in international format"
        ) from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{text!r} is not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
