"""One number normalisation for every path (issue 13): the same table through to_e164 and through
each entry point that takes a number, so no path can spell a number differently from another (an
opt-out bypassed by Arabic-Indic digits was the bug)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import pytest

from smsq.producers.blacklist.csv_files import import_csv
from smsq.producers.blacklist.store import Blacklist
from smsq.producers.campaigns.expansion import parse_rows
from smsq.producers.core.store import MessageStore
from smsq.producers.errors import InvalidInput
from smsq.producers.messages.models import parse_omnimessage
from smsq.producers.messages.numbers import listed_number, to_e164
from smsq.workers.providers.direct_messenger.sms import e164_from as dm_listed
from smsq.workers.providers.messente.omnichannel import normalise_phone as messente_listed
from smsq.workers.providers.smsapi.codes import e164_from as smsapi_listed

E = "+37251234567"
ARABIC_INDIC = "\u0661\u0662\u0663\u0664\u0665\u0666\u0667"  # 1234567
# (spelling, E.164 it normalises to, or None: refused)
TABLE: list[tuple[str, str | None]] = [
    (E, E),
    ("37251234567", E),
    ("0037251234567", E),
    ("+372 5123 4567", E),
    ("+372-5123-4567", E),
    ("+372.5123.4567", E),
    ("+372 (51) 23/45-67", E),
    ("+372\u00a05123\u20114567", E),  # no-break space, non-breaking hyphen
    (f"+3725{ARABIC_INDIC}", E),  # Arabic-Indic digits, mixed with ASCII
    ("+\u0663\u0667\u0662\u0665" + ARABIC_INDIC, E),  # all Arabic-Indic
    ("+\u06f3\u06f7\u06f2\u06f5\u06f1\u06f2\u06f3\u06f4\u06f5\u06f6\u06f7", E),  # Extended (Persian)
    ("+\u0969\u096d\u0968\u096b\u0967\u0968\u0969\u096a\u096b\u096c\u096d", E),  # Devanagari
    ("\uff0b\uff13\uff17\uff12\uff15\uff11\uff12\uff13\uff14\uff15\uff16\uff17", E),  # fullwidth
    ("  +37251234567  ", E),
    ("+372\u00b25123456", None),  # superscript two: a digit symbol, not a decimal digit
    ("+37251234567\n", E),  # surrounding whitespace is stripped...
    ("+3725123\n4567", None),  # ...but not inside
    ("+3725123\x004567", None),
    ("+37251234567abc", None),  # phonenumbers would read letters as keypad digits
    ("+37251234567 ext 5", None),
    ("+372", None),
    ("12", None),
    ("", None),
    ("+" + "1" * 100, None),
    ("++37251234567", None),
]


def expect(expected: str | None, normalise: Callable[[str], str], spelling: str) -> None:
    if expected is None:
        with pytest.raises((ValueError, InvalidInput)):
            normalise(spelling)
    else:
        assert normalise(spelling) == expected


@pytest.mark.parametrize(("spelling", "expected"), TABLE)
def test_to_e164(spelling: str, expected: str | None) -> None:
    expect(expected, to_e164, spelling)
    if expected is not None:
        assert to_e164(spelling).isascii()


@pytest.mark.parametrize(("spelling", "expected"), TABLE)
def test_send(spelling: str, expected: str | None) -> None:
    expect(
        expected,
        lambda n: parse_omnimessage({"to": n, "messages": [{"channel": "sms", "text": "x"}]}).to,
        spelling,
    )


@pytest.mark.parametrize(("spelling", "expected"), TABLE)
def test_campaign_expansion(spelling: str, expected: str | None) -> None:
    ((_, number, reason, _, _, _),) = parse_rows([(1, spelling, ())], "a" * 32, [])
    assert number == expected and (reason is None) == (expected is not None)


@pytest.mark.parametrize(("spelling", "expected"), TABLE)
def test_blacklist_add_check_and_import(spelling: str, expected: str | None, store: MessageStore) -> None:
    blacklist = Blacklist(store.redis, prefix="t", clock=store.clock)
    if expected is None:
        with pytest.raises(InvalidInput):
            blacklist.add(spelling)
        with pytest.raises(InvalidInput):
            blacklist.check(spelling)
        with contextlib.suppress(InvalidInput):  # a NUL byte makes the whole file unreadable
            assert import_csv(blacklist, f'number\n"{spelling}"\n').imported == 0
        assert blacklist.active_numbers() == []
        return
    blacklist.add(E)
    assert blacklist.check(spelling) is True  # the opt-out holds however the number is written
    assert blacklist.add(spelling) is False  # already listed: one entry, one spelling
    report = import_csv(blacklist, f'number\n"{spelling}"\n')
    assert (report.imported, report.already_listed, report.problems) == (0, 1, [])
    assert blacklist.active_numbers() == [E]


@pytest.mark.parametrize(("spelling", "expected"), TABLE)
@pytest.mark.parametrize("listed", [listed_number, smsapi_listed, dm_listed, messente_listed])
def test_provider_lists_read_by_the_sync(
    spelling: str, expected: str | None, listed: Callable[[str], str]
) -> None:
    """A provider's entry is kept even when it does not normalise, but always in ASCII digits."""
    got = listed(spelling)
    if expected is not None:
        assert got == expected
    elif any(ch.isdigit() for ch in spelling):
        assert got.startswith("+") and got[1:].isascii() and got[1:].isdigit()
