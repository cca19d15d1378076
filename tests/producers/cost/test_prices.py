"""The price table (smsq.producers.cost.prices): the shipped example loads, every bad entry is a
SettingsError naming the file and the entry, countries come from phonenumbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from smsq.producers.cost.prices import NO_PRICES, country_of, load_prices
from smsq.producers.errors import SettingsError

EXAMPLE = Path(__file__).parents[3] / "config" / "prices.example.toml"


def test_the_example_file_loads() -> None:
    table = load_prices(EXAMPLE)
    assert table.currency == "EUR"
    assert table.price("messente", "EE") == 0.045
    assert table.price("messente", "JP") == 0.08  # its default
    assert table.price("smsapi", "EE") is None  # no default there: unpriced
    assert table.price(None, "EE") is None and load_prices(None) is NO_PRICES


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("currency = 'euro'\n", "currency must be a 3-letter code"),
        ("currency = 'EUR'\n[sinch]\nEE = 1\n", "[sinch] is not a provider"),
        ("currency = 'EUR'\n[messente]\nEstonia = 1\n", "Estonia: not a country code"),
        ("currency = 'EUR'\n[messente]\nEE = 'cheap'\n", "EE: the price must be a number"),
        ("currency = 'EUR'\n[messente]\nEE = -1\n", "EE: the price must be a number"),
        ("currency = 'EUR'\nmessente = 3\n", "messente must be a table"),
        ("currency = \n", "not TOML"),
    ],
)
def test_a_bad_file_is_one_error_naming_the_entry(tmp_path: Path, text: str, words: str) -> None:
    path = tmp_path / "prices.toml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError) as error:
        load_prices(path)
    assert words in str(error.value) and "SMSQ_COST__PRICES_FILE" in str(error.value)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match="cannot read it"):
        load_prices(tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("number", "country"),
    [
        ("+37251234567", "EE"),
        ("+12125550104", "US"),
        ("+14165550123", "CA"),  # +1 is shared: the area code decides
        ("+447700900123", "GB"),
        ("+441481256789", "GG"),  # Guernsey inside +44
        ("+77012345678", "KZ"),  # Kazakhstan inside +7
        ("+79123456789", "RU"),
        ("+99999999999", "ZZ"),
    ],
)
def test_country_of(number: str, country: str) -> None:
    assert country_of(number) == country
