"""``decide`` for many recipients at send time, cheaply. A window's answer depends only on the
number's country and time zones, and it stays the same until the window next opens (when shut) or
shuts (when open). So each (country, zones) keeps its answer with the span it holds for, and a
campaign chunk of 100 recipients in a handful of countries costs a handful of decisions, not 100.
The zones of a number come from its range: phonenumbers' time-zone data is keyed by at most nine
leading digits, so numbers sharing those digits share their zones (kept per range, like
``country_of`` keeps countries)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from smsq.producers.cost.prices import country_of
from smsq.producers.windows.check import MAX_DAYS_AHEAD, first_reason, next_closing, next_opening, rule_for
from smsq.producers.windows.check import zones_of as zones_of_number
from smsq.producers.windows.rules import DEFAULT_RULES, WindowRule

# "+" and the longest prefix phonenumbers' time-zone data uses (phonenumbers.tzdata, 9 digits).
ZONE_PREFIX: Final = 10
RANGES_KEPT: Final = 100_000  # number ranges whose zones are kept (a few MB at most)
SHUT_TOO_LONG_MS: Final = MAX_DAYS_AHEAD * 86_400_000  # a window shut this long: look again then


@dataclass(frozen=True)
class Span:
    """From ``start_ms`` until ``until_ms`` the window is ``open`` (or shut) in every zone."""

    start_ms: int
    until_ms: int  # shut: the next opening (or a look again in 14 days); open: when it shuts
    open: bool


class WindowCache:
    """One per worker process and rule set (the rules are the deployment's: settings.cost.windows)."""

    def __init__(self, rules: Mapping[str, WindowRule] | None = None) -> None:
        self.table = {**DEFAULT_RULES, **(rules or {})}
        self._zones: dict[str, tuple[str, ...]] = {}
        self._spans: dict[tuple[str, tuple[str, ...]], Span] = {}

    def opening_ms(self, e164: str, now_ms: int) -> int | None:
        """None: a marketing message to ``e164`` may go at ``now_ms``; else when it may (ms)."""
        key = (country_of(e164), self.zones_of(e164))
        span = self._spans.get(key)
        if span is None or not span.start_ms <= now_ms < span.until_ms:
            span = self._span(key[0], key[1], now_ms)
            self._spans[key] = span
        return None if span.open else span.until_ms

    def zones_of(self, e164: str) -> tuple[str, ...]:
        prefix = e164[:ZONE_PREFIX]
        zones = self._zones.get(prefix)
        if zones is None:
            zones = zones_of_number(e164)
            if len(self._zones) < RANGES_KEPT:
                self._zones[prefix] = zones
        return zones

    def _span(self, country: str, zones: tuple[str, ...], now_ms: int) -> Span:
        rule = rule_for(country, self.table)
        at = datetime.fromtimestamp(now_ms / 1000, UTC)
        if first_reason(rule, country, zones, at) is None:
            return Span(now_ms, _ms(next_closing(rule, zones, at)), open=True)
        opens = next_opening(rule, country, zones, at)
        return Span(now_ms, now_ms + SHUT_TOO_LONG_MS if opens is None else _ms(opens), open=False)


def _ms(when: datetime) -> int:
    return int(when.timestamp() * 1000)
