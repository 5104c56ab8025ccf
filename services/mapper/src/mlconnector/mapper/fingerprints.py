"""What an accountant compares between two versions of a posted transaction.

A fingerprint is label -> value, built from what the mapper actually sends (QuickBooks names,
rounded amounts), so the same ServiceTitan record always gives the same dict and a difference
between two fingerprints is a difference QuickBooks would show. Labels and values read as an
accountant would write them: "line 2" -> "PVC-075: 10 x 3.75 = 37.50 (taxable)".
"""

from __future__ import annotations

from decimal import Decimal

from mlconnector.common.money import qb_amount
from mlconnector.mapper.naming import qb_quantity, qb_rate


def amount(value: Decimal) -> str:
    return qb_amount(value)


def line_label(index: int) -> str:
    return f"line {index}"


def line_value(
    what: str, quantity: Decimal, rate: Decimal, total: Decimal, *, extra: str = ""
) -> str:
    """'Labor: 2 x 95.00 = 190.00' (+ ' (taxable)' or ' -> account')."""
    text = f"{what}: {qb_quantity(quantity)} x {qb_rate(rate)} = {qb_amount(total)}"
    return f"{text} {extra}" if extra else text
