"""Money: integer minor units plus a currency (DESIGN.md section 3)."""

from __future__ import annotations

import pytest

from reference_impl.domain.errors import ValidationFailed
from reference_impl.domain.money import Money


def test_add_same_currency() -> None:
    assert Money(1250, "EUR") + Money(99, "EUR") == Money(1349, "EUR")


def test_add_other_currency_is_refused() -> None:
    with pytest.raises(ValidationFailed):
        Money(1, "EUR") + Money(1, "USD")


def test_times_and_zero() -> None:
    assert Money(250, "EUR").times(3) == Money(750, "EUR")
    assert Money.zero("USD") == Money(0, "USD")
    assert Money(250, "EUR").times(0) == Money.zero("EUR")


def test_equality_needs_same_currency() -> None:
    assert Money(100, "EUR") != Money(100, "USD")


@pytest.mark.parametrize("currency", ["eur", "EU", "EURO", "E1R", "", "ÄÖÜ"])
def test_currency_must_be_three_ascii_capitals(currency: str) -> None:
    with pytest.raises(ValidationFailed):
        Money(100, currency)


def test_to_json() -> None:
    assert Money(1999, "GBP").to_json() == {"amount": 1999, "currency": "GBP"}


def test_is_immutable() -> None:
    price = Money(100, "EUR")
    with pytest.raises(AttributeError):
        price.amount = 5  # type: ignore[misc]
