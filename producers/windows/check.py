"""Is a marketing message allowed to reach this number at this time, and if not, when next?

The recipient's time zones come from phonenumbers' time-zone data for the number; where a country
or a number range spans several zones, the window must be open in every one of them (the most
restrictive reading). Public holidays come from the maintained ``holidays`` package, for the
number's country. Every function takes the time it decides for (an injected clock in tests)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from functools import cache
from typing import Final
from zoneinfo import ZoneInfo

import holidays as holiday_data
import phonenumbers
from phonenumbers import timezone as phone_zones

from smsq.producers.cost.prices import country_of
from smsq.producers.errors import InvalidInput
from smsq.producers.windows.rules import ANY_COUNTRY, DEFAULT_RULES, WEEKDAYS, WindowRule

MARKETING: Final = "marketing"
TRANSACTIONAL: Final = "transactional"
MAX_DAYS_AHEAD: Final = 14  # a window that stays shut longer than this is a rule to fix, not a wait
_UNKNOWN_ZONES: Final = ("Etc/Unknown",)


@dataclass(frozen=True)
class Decision:
    number: str
    country: str
    zones: tuple[str, ...]
    rule: WindowRule
    at: datetime  # UTC
    allowed: bool
    opens_at: datetime | None  # UTC: the next opening when not allowed
    why: str  # what closed it, in the first zone that was closed

    def explain(self) -> str:
        rule = self.rule
        days = ",".join(rule.days)
        zones = f"time zone{'s' if len(self.zones) > 1 else ''} {', '.join(self.zones)}"
        line = (
            f"{self.number}: {self.country}, {zones}; "
            f"marketing window {rule.start:%H:%M}-{rule.end:%H:%M} local, {days}, "
            f"{'holidays allowed' if rule.holidays else 'not on public holidays'}. "
        )
        when = self.at.strftime("%Y-%m-%dT%H:%MZ")
        if self.allowed:
            return line + f"At {when}: allowed."
        opens = self.opens_at.strftime("%Y-%m-%dT%H:%MZ") if self.opens_at else "not within 14 days"
        return line + f"At {when}: not allowed ({self.why}); next opening {opens}."


def zones_of(e164: str) -> tuple[str, ...]:
    try:
        found = phone_zones.time_zones_for_number(phonenumbers.parse(e164))
    except phonenumbers.NumberParseException:
        return ("UTC",)
    zones = tuple(zone for zone in found if zone not in _UNKNOWN_ZONES)
    return zones or ("UTC",)


@cache
def _holidays(country: str) -> Mapping[date, str]:
    try:
        return holiday_data.country_holidays(country)
    except NotImplementedError:  # a country the package does not cover: no holidays known
        return {}


def _closed_because(rule: WindowRule, country: str, local: datetime) -> str | None:
    """Why the window is shut at this local time (None: open)."""
    if WEEKDAYS[local.weekday()] not in rule.days:
        return f"{local:%A} in {local.tzinfo}"
    if not rule.holidays and (name := _holidays(country).get(local.date())):
        return f"public holiday {name} ({local:%Y-%m-%d})"
    if not rule.start <= local.time().replace(tzinfo=None) < rule.end:
        return f"{local:%H:%M} in {local.tzinfo}"
    return None


def checked_class(message_class: object, default: str) -> str:
    """A message's class: given, else ``default`` (campaigns: marketing; single messages:
    transactional). Anything else is one clear error naming the field."""
    if message_class is None:
        return default
    if message_class not in (MARKETING, TRANSACTIONAL):
        raise InvalidInput(
            [("message_class", f"must be {TRANSACTIONAL} or {MARKETING}, not {message_class!r}")]
        )
    return str(message_class)


def rule_for(country: str, rules: Mapping[str, WindowRule]) -> WindowRule:
    return rules.get(country) or rules.get(ANY_COUNTRY) or DEFAULT_RULES[ANY_COUNTRY]


def decide(e164: str, at: datetime, rules: Mapping[str, WindowRule] | None = None) -> Decision:
    """Whether a marketing message to ``e164`` may go at ``at`` (aware), and the next opening if not."""
    table = {**DEFAULT_RULES, **(rules or {})}
    country = country_of(e164)
    rule = rule_for(country, table)
    zones = zones_of(e164)
    at = at.astimezone(UTC)
    why = first_reason(rule, country, zones, at)
    if why is None:
        return Decision(e164, country, zones, rule, at, True, None, "")
    return Decision(e164, country, zones, rule, at, False, next_opening(rule, country, zones, at), why)


def first_reason(rule: WindowRule, country: str, zones: tuple[str, ...], at: datetime) -> str | None:
    for zone in zones:
        why = _closed_because(rule, country, at.astimezone(ZoneInfo(zone)))
        if why is not None:
            return why
    return None


def next_opening(rule: WindowRule, country: str, zones: tuple[str, ...], at: datetime) -> datetime | None:
    """The first time at or after ``at`` when the window is open in every zone. Candidates are each
    zone's local opening times (the window can only open then) and ``at`` itself."""
    candidates = sorted(
        {
            opening.astimezone(UTC)
            for zone in zones
            for day in range(-1, MAX_DAYS_AHEAD + 1)
            if (opening := _local_opening(zone, at, day, rule)) is not None and opening >= at
        }
    )
    for candidate in candidates:
        if first_reason(rule, country, zones, candidate) is None:
            return candidate
        # Open in some zones but not all: the latest of the zones' next openings may be the one.
    return None


def next_closing(rule: WindowRule, zones: tuple[str, ...], at: datetime) -> datetime:
    """When a window open at ``at`` in every zone shuts: the earliest of the zones' closing times that
    local day (a window lies within one local day, so it cannot stay open past its own end)."""
    closings = []
    for zone in zones:
        tz = ZoneInfo(zone)
        closing = datetime.combine(at.astimezone(tz).date(), rule.end, tzinfo=tz).astimezone(UTC)
        closings.append(closing if closing > at else at + timedelta(minutes=1))
    return min(closings)


def _local_opening(zone: str, at: datetime, day: int, rule: WindowRule) -> datetime | None:
    tz = ZoneInfo(zone)
    local_day = at.astimezone(tz).date() + timedelta(days=day)
    opening = datetime.combine(local_day, rule.start, tzinfo=tz)
    # A start time that does not exist that day (inside a DST gap) is read as the moment after it.
    return opening.astimezone(UTC).astimezone(tz)
