"""Money parsing refuses floats and excess decimals, per ISO 4217 minor units."""

from __future__ import annotations

from decimal import Decimal

import pytest

from domain.money import MoneyError, from_minor, minor_text, parse_amount, quantize, to_minor


@pytest.mark.parametrize(("value", "currency", "expected"), [
    ("412.50", "USD", Decimal("412.50")), ("412.5", "USD", Decimal("412.50")),
    ("1000", "JPY", Decimal("1000")), ("1.234", "BHD", Decimal("1.234")),
    (7, "EUR", Decimal("7.00")),
])
def test_valid_amounts(value: object, currency: str, expected: Decimal) -> None:
    assert parse_amount(value, currency) == expected


@pytest.mark.parametrize(("value", "currency"), [
    (412.5, "USD"), (True, "USD"), ("1.005", "USD"), ("100.5", "JPY"), ("abc", "USD"),
    ("NaN", "USD"), ("Infinity", "USD"), ("1.00", "XXX"), (None, "USD"),
])
def test_refused_amounts(value: object, currency: str) -> None:
    with pytest.raises(MoneyError):
        parse_amount(value, currency)


def test_minor_units_round_trip_and_half_up_rounding() -> None:
    assert to_minor(Decimal("1250.00"), "USD") == 125000
    assert from_minor(125000, "USD") == Decimal("1250.00")
    assert from_minor(150000, "JPY") == Decimal("150000")
    assert quantize(Decimal("0.125"), "USD") == Decimal("0.13")


@pytest.mark.parametrize("currency", ["USD", "JPY", "BHD", "KWD", "EUR"])
def test_minor_text_is_the_text_of_from_minor(currency: str) -> None:
    """Exports use the fast form; it must print exactly what the Decimal form prints."""
    for value in [0, 1, 9, 10, 99, 100, 101, 999, 1000, 123456, -1, -5, -100, -123456,
                  10**15 + 7, 9_223_372_036_854_775_807, -9_223_372_036_854_775_807]:
        assert minor_text(value, currency) == str(from_minor(value, currency)), value


def test_minor_text_refuses_an_unknown_currency() -> None:
    with pytest.raises(MoneyError):
        minor_text(100, "XXX")


def test_allocate_splits_exactly_in_proportion() -> None:
    from domain.money import allocate

    assert allocate(50000, [250000, 250000]) == [25000, 25000]
    assert allocate(100, [1, 1, 1]) == [34, 33, 33]  # the leftover unit to the first
    assert allocate(1000, [3, 1]) == [750, 250]
    assert allocate(999, [2, 1]) == [666, 333]
    assert allocate(10, [0, 0]) == [5, 5]  # nothing billed: an even split
    assert allocate(10, []) == []
    for total, weights in ((12345, [7, 11, 13]), (1, [5, 5, 5]), (0, [1, 2])):
        assert sum(allocate(total, weights)) == total
