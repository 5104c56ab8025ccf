"""Money is `Decimal`, never float: parsing ServiceTitan strings and formatting for qbXML."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer

CENT = Decimal("0.01")


def to_decimal(value: object) -> Decimal:
    """Accept ServiceTitan's money strings ("123.45"), ints and Decimals; refuse floats."""
    if isinstance(value, Decimal):
        return value
    if isinstance(value, bool):
        raise ValueError("a boolean is not an amount")
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):
        # Floats have already lost cents; ServiceTitan sends money as strings, so a float is
        # a bug upstream, not something to round silently.
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip())
        except InvalidOperation as exc:
            raise ValueError(f"not an amount: {value!r}") from exc
    raise ValueError(f"not an amount: {value!r}")


def cents(value: Decimal) -> Decimal:
    """Round half-up to the cent, as accountants do."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def qb_amount(value: Decimal) -> str:
    """qbXML AMTTYPE: plain decimal with two places, no exponent, no grouping."""
    return f"{cents(value):.2f}"


Money = Annotated[
    Decimal,
    BeforeValidator(to_decimal),
    PlainSerializer(lambda v: str(v), return_type=str, when_used="json"),
]
