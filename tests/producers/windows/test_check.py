"""Marketing send windows (issue 16) on an injected clock: time zones, a DST change, a public
holiday, weekdays, the most restrictive reading of a country with several zones, rules as settings."""

from __future__ import annotations

from datetime import UTC, datetime, time

import pytest

from smsq.config.cost_settings import WindowRule
from smsq.producers.windows.check import decide, zones_of

PARIS, NEW_YORK, LOS_ANGELES = "+33612345678", "+12125550104", "+13105550123"


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


@pytest.mark.parametrize(
    ("number", "at", "allowed", "opens"),
    [
        (PARIS, "2026-12-04T10:00", True, None),  # a Friday, 11:00 in Paris
        (PARIS, "2026-12-04T19:30", False, "2026-12-05T07:00"),  # 20:30 Paris: Saturday 08:00 (UTC+1)
        (PARIS, "2026-12-05T19:30", False, "2026-12-07T07:00"),  # Saturday night: no Sunday, Monday 08:00
        (PARIS, "2026-07-14T10:00", False, "2026-07-15T06:00"),  # Bastille Day: the next day, 08:00 CEST
        (NEW_YORK, "2026-12-04T12:30", False, "2026-12-04T13:00"),  # 07:30 EST
        (LOS_ANGELES, "2026-12-04T12:30", False, "2026-12-04T16:00"),  # 04:30 PST: another zone
        (LOS_ANGELES, "2026-12-05T04:30", True, None),  # 20:30 PST on the 4th: open till 21:00
        (LOS_ANGELES, "2026-12-05T05:30", False, "2026-12-05T16:00"),  # 21:30 PST: 08:00 the next day
        (NEW_YORK, "2026-07-04T14:00", True, None),  # US rule: holidays allowed
    ],
)
def test_decisions(number: str, at: str, allowed: bool, opens: str | None) -> None:
    decision = decide(number, utc(at))
    assert decision.allowed is allowed, decision.explain()
    assert decision.opens_at == (utc(opens) if opens else None)


def test_the_window_closes_at_its_end() -> None:
    assert decide(LOS_ANGELES, utc("2026-12-05T04:59")).allowed is True  # 20:59 PST
    assert decide(LOS_ANGELES, utc("2026-12-05T05:00")).allowed is False  # 21:00 PST: the end is exclusive


def test_a_dst_change_moves_the_opening_in_utc() -> None:
    # New York's window opens at 08:00 local: 13:00Z in winter (EST), 12:00Z after 2026-03-08 (EDT).
    saturday = decide(NEW_YORK, utc("2026-03-07T12:30"))
    assert (saturday.allowed, saturday.opens_at) == (False, utc("2026-03-07T13:00"))
    assert decide(NEW_YORK, utc("2026-03-09T12:30")).allowed is True
    # Closed overnight across the change: the next opening is read in the new offset.
    overnight = decide(NEW_YORK, utc("2026-03-08T03:00"))
    assert overnight.opens_at == utc("2026-03-08T12:00")
    # Paris's autumn change (2026-10-25): a Saturday-night check opens Monday at 08:00 CET = 07:00Z.
    assert decide(PARIS, utc("2026-10-24T20:00")).opens_at == utc("2026-10-26T07:00")


def test_a_country_of_several_zones_takes_the_most_restrictive_reading() -> None:
    zones = zones_of("+61412345678")  # an Australian mobile: every Australian zone
    assert {"Australia/Perth", "Australia/Sydney"} <= set(zones)
    # 23:00Z Monday: 10:00 in Sydney (open) but 07:00 in Perth (shut): not allowed.
    assert decide("+61412345678", utc("2026-12-06T23:00")).allowed is False
    assert (
        decide(
            "+61412345678", utc("2026-12-06T23:00"), {"AU": WindowRule(start=time(9), end=time(20))}
        ).allowed
        is False
    )
    # 03:00Z Tuesday: 14:00 in Sydney, 11:00 in Perth, 09:30 on Cocos: open everywhere.
    assert decide("+61412345678", utc("2026-12-08T03:00")).allowed is True
    # Its opening is the first moment open in every zone: open then, shut a minute before.
    opens = decide("+61412345678", utc("2026-12-06T23:00")).opens_at
    assert opens is not None and decide("+61412345678", opens).allowed
    assert not decide(
        "+61412345678",
        opens.replace(minute=opens.minute - 1)
        if opens.minute
        else opens.replace(hour=opens.hour - 1, minute=59),
    ).allowed


def test_rules_replace_a_country_and_the_default() -> None:
    night_owl = {"FR": WindowRule(start=time(0), end=time(23, 59), days=["sun"], holidays=True)}
    assert decide(PARIS, utc("2026-12-06T22:00"), night_owl).allowed is True  # a Sunday, 23:00 Paris
    assert decide(PARIS, utc("2026-12-04T10:00"), night_owl).allowed is False  # a Friday now shut
    estonia = decide("+37251234567", utc("2026-12-04T10:00"), {"*": WindowRule(start=time(18), end=time(19))})
    assert estonia.allowed is False and estonia.opens_at == utc("2026-12-04T16:00")


def test_explain_says_why_and_when() -> None:
    text = decide(PARIS, utc("2026-07-14T10:00")).explain()
    assert text == (
        "+33612345678: FR, time zone Europe/Paris; marketing window 08:00-20:00 local, "
        "mon,tue,wed,thu,fri,sat, not on public holidays. At 2026-07-14T10:00Z: not allowed "
        "(public holiday National Day (2026-07-14)); next opening 2026-07-15T06:00Z."
    )


@pytest.mark.parametrize(
    ("rule", "words"),
    [
        ({"start": "20:00", "end": "08:00"}, "end must be after start"),
        ({"days": ["monday"]}, "not a weekday"),
    ],
)
def test_bad_rules_are_refused(rule: dict[str, object], words: str) -> None:
    with pytest.raises(ValueError, match=words):
        WindowRule.model_validate(rule)
