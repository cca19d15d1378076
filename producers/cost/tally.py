"""Adding up what a campaign's messages cost: SMS parts by encoding, and by country with the price
table's estimate. Filled as a campaign is expanded (or estimated by a dry run)."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from smsq.producers.cost.parts import Parts
from smsq.producers.cost.prices import MICROS, NO_PRICES, REGION_PREFIX, PriceTable, country_of, kept_country
from smsq.producers.messages.segments import GSM7, UCS2


@dataclass
class Tally:
    prices: PriceTable = NO_PRICES
    provider: str | None = None  # whose prices apply: the first enabled provider of the SMS route
    by_country: bool = False  # count per country even without prices (a dry run shows them)
    messages: dict[str, int] = field(default_factory=lambda: {GSM7: 0, UCS2: 0})
    segments: dict[str, int] = field(default_factory=lambda: {GSM7: 0, UCS2: 0})
    countries: dict[str, list[int]] = field(default_factory=dict)  # country -> [messages, segments]

    def add_all(self, counted: Sequence[tuple[str, Parts]], blocked: Collection[str] = ()) -> None:
        """Each (E.164 number, parts) that will be sent; numbers in ``blocked`` are left out."""
        per_country = self.by_country or self.prices.priced
        gsm_messages = gsm_segments = ucs2_messages = ucs2_segments = 0
        # A million recipients share a few thousand number prefixes, and country_of decides by the
        # prefix: added up per prefix here ([first number, messages, segments]), the country is
        # looked up once per prefix and chunk instead of once per recipient.
        prefixes: dict[str, list[Any]] = {}
        for number, (parts, ucs2) in counted:
            if not parts or number in blocked:
                continue
            if ucs2:
                ucs2_messages += 1
                ucs2_segments += parts
            else:
                gsm_messages += 1
                gsm_segments += parts
            if per_country:
                entry = prefixes.get(prefix := number[:REGION_PREFIX])
                if entry is None:
                    prefixes[prefix] = [number, 1, parts]
                else:
                    entry[1] += 1
                    entry[2] += parts
        self.messages[GSM7] += gsm_messages
        self.segments[GSM7] += gsm_segments
        self.messages[UCS2] += ucs2_messages
        self.segments[UCS2] += ucs2_segments
        for first, messages, segments in prefixes.values():
            country = country_of(first)
            if kept_country(first) is None:  # country_of keeps no more prefixes: each number its own
                self._add_each(first[:REGION_PREFIX], counted, blocked)
                continue
            entry = self.countries.setdefault(country, [0, 0])
            entry[0] += messages
            entry[1] += segments

    def _add_each(self, prefix: str, counted: Sequence[tuple[str, Parts]], blocked: Collection[str]) -> None:
        for number, (parts, _) in counted:
            if parts and number not in blocked and number.startswith(prefix):
                entry = self.countries.setdefault(country_of(number), [0, 0])
                entry[0] += 1
                entry[1] += parts

    @property
    def total_segments(self) -> int:
        return sum(self.segments.values())

    def cost(self, country: str) -> float | None:
        price = self.prices.price(self.provider, country)
        return None if price is None else price * self.countries.get(country, [0, 0])[1]

    @property
    def cost_micros(self) -> int:
        """The priced part of the estimate in millionths of the currency (unpriced countries: 0)."""
        return sum(round((self.cost(country) or 0) * MICROS) for country in self.countries)

    def report(self) -> dict[str, Any]:
        """The JSON-ready estimate: parts by encoding; messages, parts and cost by country; total."""
        by_country = {
            country: {"messages": messages, "segments": segments, "cost": self.cost(country)}
            for country, (messages, segments) in sorted(self.countries.items())
        }
        unpriced = sorted(country for country, entry in by_country.items() if entry["cost"] is None)
        return {
            "segments_by_encoding": {
                encoding: {"messages": self.messages[encoding], "segments": self.segments[encoding]}
                for encoding in (GSM7, UCS2)
            },
            "segments": self.total_segments,
            "provider": self.provider,
            "currency": self.prices.currency or None,
            "by_country": by_country,
            "total_cost": round(self.cost_micros / MICROS, 6) if self.prices.priced else None,
            "unpriced_countries": unpriced,
        }
