"""The Customer record: validation at the boundary, and JSON shape through the converter."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import attrs
import pytest
from hypothesis import given
from hypothesis import strategies as st

from pipeline_core import Customer, InvalidValue
from pipeline_core.domain.serialization import (
    converter,
    from_typed_field_value,
    typed_field_value,
)
from pipeline_core.render.common import customer_record


@pytest.mark.parametrize("name", ["", "   ", "\t\n"])
def test_blank_name_is_refused(name: str) -> None:
    with pytest.raises(InvalidValue, match="needs a name"):
        Customer(name=name)


@pytest.mark.parametrize(
    "changes",
    [{"name": "A\x00da"}, {"tags": ["x\x00"]}, {"folder": "\x00"}, {"fields": {"k": "v\x00"}}],
)
def test_nul_characters_are_refused_everywhere(changes: dict[str, Any]) -> None:
    with pytest.raises(InvalidValue, match="NUL character"):
        Customer(**{"name": "Ada", **changes})


@pytest.mark.parametrize("number", [float("nan"), float("inf"), Decimal("NaN"), Decimal("-Inf")])
def test_custom_field_numbers_must_be_finite(number: object) -> None:
    with pytest.raises(InvalidValue, match="not a finite number"):
        Customer(name="Ada", fields={"score": number})


def test_lists_are_cleaned_and_deduplicated_in_order() -> None:
    customer = Customer(name="Ada", tags=[" VIP", "Hot", "VIP", ""], emails=["a@x.io", "a@x.io"])
    assert customer.tags == ("VIP", "Hot")
    assert customer.emails == ("a@x.io",)


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("currency", "EURO", "ISO 4217"),
        ("country", "USA", "ISO 3166"),
        ("value", "12,5", "not a number"),
        ("value", "NaN", "finite"),
        ("outcome", "maybe", "won"),
        ("created_at", datetime(2026, 1, 1), "time zone"),
    ],
)
def test_bad_values_name_the_problem(field: str, value: Any, message: str) -> None:
    with pytest.raises(InvalidValue, match=message):
        Customer(name="Ada", **{field: value})


def test_evolve_validates_too() -> None:
    with pytest.raises(InvalidValue):
        attrs.evolve(Customer(name="Ada"), name=" ")


field_values = st.one_of(
    st.text(max_size=20),
    st.integers(min_value=-(2**53), max_value=2**53),
    st.floats(allow_nan=False, allow_infinity=False),
    st.booleans(),
    st.decimals(allow_nan=False, allow_infinity=False, places=2),
    st.dates(),
    st.datetimes(timezones=st.just(UTC)),
    st.lists(st.text(min_size=1, max_size=5).filter(str.strip), max_size=3).map(
        lambda items: tuple(dict.fromkeys(item.strip() for item in items))
    ),
)


@given(field_values)
def test_typed_field_values_survive_their_storage_encoding(value: object) -> None:
    encoded = typed_field_value(value)  # type: ignore[arg-type]
    decoded = from_typed_field_value(encoded)
    assert decoded == value
    assert type(decoded) is type(value)


def test_public_json_shape() -> None:
    customer = Customer(
        id=7,
        name="Ada",
        value="1200.50",
        currency="eur",
        next_follow_up=date(2026, 3, 1),
        fields={"since": date(2025, 1, 2), "score": Decimal("1.5"), "langs": ["en", "fr"]},
    )
    record = customer_record(customer)
    assert record["id"] == 7
    assert record["value"] == "1200.50"
    assert record["currency"] == "EUR"
    assert record["next_follow_up"] == "2026-03-01"
    assert record["fields"] == {"since": "2025-01-02", "score": "1.5", "langs": ["en", "fr"]}
    required = {"id", "name", "emails", "phones", "whatsapp", "status", "folder", "tags"}
    required |= {"fields", "source", "value", "created_at", "updated_at", "converted_at"}
    assert required <= set(record)
    back = converter.structure(record, Customer)
    assert back.value == customer.value and back.next_follow_up == customer.next_follow_up
