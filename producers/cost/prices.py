"""Prices of one SMS part, per provider and country, from a TOML file users edit
(``SMSQ_COST__PRICES_FILE``; config/prices.example.toml shows the shape):

    currency = "EUR"
    [messente]
    default = 0.065      # any country not listed (leave out: those are unpriced)
    EE = 0.045           # ISO 3166-1 alpha-2, as phonenumbers names the number's region

A country without a price (and no ``default``) is reported as unpriced, never guessed."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import phonenumbers

from smsq.producers.errors import SettingsError

DEFAULT: Final = "default"
UNKNOWN_COUNTRY: Final = "ZZ"  # phonenumbers' name for a number of no known region
PROVIDERS: Final = ("messente", "smsapi", "direct_messenger")
# Cost caps are kept in Redis as whole millionths of the currency (Lua counts integers exactly).
MICROS: Final = 1_000_000


@dataclass(frozen=True)
class PriceTable:
    currency: str = ""
    prices: Mapping[str, Mapping[str, float]] = field(default_factory=dict)  # provider -> country -> price

    def price(self, provider: str | None, country: str) -> float | None:
        """One SMS part's price to ``country`` through ``provider``, or None when unpriced."""
        table = self.prices.get(provider or "")
        if table is None:
            return None
        return table.get(country, table.get(DEFAULT))

    @property
    def priced(self) -> bool:
        return bool(self.prices)


NO_PRICES = PriceTable()


def load_prices(path: str | Path | None) -> PriceTable:
    """The table in ``path`` (None: no prices). A bad file raises SettingsError naming the file and
    the entry."""
    if path is None:
        return NO_PRICES
    where = f"SMSQ_COST__PRICES_FILE ({path})"
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as error:
        raise SettingsError(f"{where}: cannot read it ({error.strerror or error})") from None
    except tomllib.TOMLDecodeError as error:
        raise SettingsError(f"{where}: not TOML ({error})") from None
    currency = data.pop("currency", "")
    if not isinstance(currency, str) or not (
        len(currency) == 3 and currency.isalpha() and currency.isupper()
    ):
        raise SettingsError(f"{where}: currency must be a 3-letter code such as EUR")
    prices: dict[str, dict[str, float]] = {}
    for provider, table in data.items():
        if provider not in PROVIDERS:
            raise SettingsError(f"{where}: [{provider}] is not a provider ({', '.join(PROVIDERS)})")
        if not isinstance(table, dict):
            raise SettingsError(f"{where}: {provider} must be a table of country = price")
        prices[provider] = {}
        for country, price in table.items():
            if country != DEFAULT and not (len(country) == 2 and country.isalpha() and country.isupper()):
                raise SettingsError(f"{where}: [{provider}] {country}: not a country code (EE, US, ...)")
            if isinstance(price, bool) or not isinstance(price, int | float) or not 0 <= price < 1000:
                raise SettingsError(f"{where}: [{provider}] {country}: the price must be a number 0-1000")
            prices[provider][country] = float(price)
    return PriceTable(currency, prices)


def country_of(e164: str) -> str:
    """The number's country (ISO 3166-1 alpha-2) by phonenumbers, or ZZ."""
    # A region is decided by the country code and, where several share it (+1, +7, +44), a few
    # leading digits: cached by the first seven digits, a million numbers cost a few thousand parses.
    prefix = e164[:REGION_PREFIX]
    region = _REGIONS.get(prefix)
    if region is None:
        try:
            number = phonenumbers.parse(e164)
        except phonenumbers.NumberParseException:
            region = UNKNOWN_COUNTRY
        else:  # a number of no valid range (a fiction range, a new one) gets its code's main country
            region = phonenumbers.region_code_for_number(number) or phonenumbers.region_code_for_country_code(
                number.country_code or 0
            )
        if len(_REGIONS) < _REGIONS_KEPT:
            _REGIONS[prefix] = region
    return region


def kept_country(e164: str) -> str | None:
    """The country ``country_of`` keeps for the number's prefix (every number sharing its first
    ``REGION_PREFIX`` characters gets it), or None when it keeps none (each is then parsed)."""
    return _REGIONS.get(e164[:REGION_PREFIX])


REGION_PREFIX: Final = 8  # "+" and seven digits
_REGIONS: dict[str, str] = {}
_REGIONS_KEPT: Final = 200_000
