"""Money as QuickBooks rounds it."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def round_cents(value: Decimal) -> Decimal:
    """QuickBooks rounds amounts half-up to the cent (3.09375 -> 3.09, 0.125 -> 0.13)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)
