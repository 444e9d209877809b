"""Countries and currencies are checked against real lists, not their length."""

from __future__ import annotations

import string
from pathlib import Path
from typing import Any

import phonenumbers
import pytest
from hypothesis import given
from hypothesis import strategies as st
from iso4217 import Currency

from pipeline_core import Customer, InvalidValue, Workspace
from pipeline_core.customer import NO_PHONE_PLAN, country_codes, currency_codes

COUNTRIES = sorted(country_codes())
CURRENCIES = sorted(currency_codes())
LETTERS = st.text(alphabet=string.ascii_letters, min_size=2, max_size=3)


def test_the_countries_are_phonenumbers_regions_and_the_iso_places_without_phones() -> None:
    regions = set(phonenumbers.SUPPORTED_REGIONS)
    assert set(COUNTRIES) == regions | NO_PHONE_PLAN
    # If phonenumbers learns one of them, NO_PHONE_PLAN should lose it.
    assert not regions & NO_PHONE_PLAN
    assert {"GB", "US", "DE", "BR", "JP", "XK", "AQ"} <= set(COUNTRIES)
    assert len(COUNTRIES) >= 249  # ISO 3166-1 has 249


def test_the_currencies_are_iso_4217s_current_list() -> None:
    assert set(CURRENCIES) == {currency.code for currency in Currency}
    assert {"EUR", "USD", "JPY", "GBP", "BRL", "CHF", "XAU"} <= set(CURRENCIES)
    assert "HRK" not in CURRENCIES  # the kuna, withdrawn in 2023


@given(st.sampled_from(COUNTRIES), st.sampled_from([str, str.lower, str.title]))
def test_every_country_is_accepted_in_any_case(code: str, spelled: object) -> None:
    assert callable(spelled)
    assert Customer(name="x", country=f" {spelled(code)} ").country == code


@given(st.sampled_from(CURRENCIES), st.sampled_from([str, str.lower, str.title]))
def test_every_currency_is_accepted_in_any_case(code: str, spelled: object) -> None:
    assert callable(spelled)
    assert Customer(name="x", currency=f"{spelled(code)} ").currency == code


@given(LETTERS.filter(lambda text: text.upper() not in country_codes()))
def test_other_letters_are_no_country(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Customer(name="x", country=text)
    assert str(refused.value).startswith(f"country {text!r} is not an ISO 3166 country code")


@given(LETTERS.filter(lambda text: text.upper() not in currency_codes()))
def test_other_letters_are_no_currency(text: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        Customer(name="x", currency=text)
    assert str(refused.value).startswith(f"currency {text!r} is not an ISO 4217 currency code")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("country", "XX", "country 'XX' is not an ISO 3166 country code (GB, US, DE...)"),
        ("country", "ZZ", "country 'ZZ' is not an ISO 3166"),
        (
            "country",
            "UK",
            "country 'UK' is not an ISO 3166 country code (GB, US, DE...); did you mean GB?",
        ),
        ("country", "EL", "did you mean GR?"),
        ("currency", "ABC", "currency 'ABC' is not an ISO 4217 currency code (EUR, USD, JPY...)"),
        ("currency", "EURO", "currency 'EURO' is not an ISO 4217"),
        ("currency", 978, "expected a code as text, got 978"),
    ],
)
def test_refusals_name_the_value(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidValue) as refused:
        if field == "country":
            Customer(name="x", country=value)
        else:
            Customer(name="x", currency=value)
    assert message in str(refused.value)


def test_imports_read_uk_as_gb_and_reject_unknown_codes_by_line(tmp_path: Path) -> None:
    source = tmp_path / "codes.csv"
    source.write_text(
        "name,country,value,currency\nAnn,UK,10,gbp\nBob,XX,,\nCy,DE,5,ABC\nDee,Germany,,\n",
        encoding="utf-8",
    )
    with Workspace.open("memory:") as ws:
        summary = ws.customers.import_file(source)
        assert (summary.created, summary.rejected) == (2, 2)
        reasons = {(e.line, e.column): e.reason for e in summary.errors}
        assert "'XX'" in reasons[3, "country"] and "'ABC'" in reasons[4, "currency"]
        assert [(c.name, c.country, c.currency) for c in ws.customers.list()] == [
            ("Ann", "GB", "GBP"),
            ("Dee", "DE", None),
        ]
