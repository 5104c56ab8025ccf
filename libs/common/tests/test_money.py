from __future__ import annotations

from decimal import Decimal

import pytest

from mlconnector.common.money import cents, qb_amount, to_decimal


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123.45", Decimal("123.45")),
        (" 0.10 ", Decimal("0.10")),
        (7, Decimal(7)),
        (Decimal("1.005"), Decimal("1.005")),
    ],
)
def test_amounts_parse_exactly(raw: object, expected: Decimal) -> None:
    assert to_decimal(raw) == expected


@pytest.mark.parametrize("raw", ["12,50", "abc", "", None, True])
def test_non_amounts_are_refused_with_the_value_named(raw: object) -> None:
    with pytest.raises(ValueError, match="amount"):
        to_decimal(raw)


def test_rounding_is_half_up_to_the_cent() -> None:
    assert cents(Decimal("3.09375")) == Decimal("3.09")
    assert cents(Decimal("0.125")) == Decimal("0.13")
    assert cents(Decimal("-0.125")) == Decimal("-0.13")
    assert qb_amount(Decimal("230.5")) == "230.50"
    assert qb_amount(Decimal("1E+2")) == "100.00"
