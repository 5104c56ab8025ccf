"""What QuickBooks computed for a transaction it posted, against what ServiceTitan says.

QuickBooks computes sales tax with its own sales tax item's rate and rounds its own way, so a
posted transaction can differ from ServiceTitan's by cents or more; a payment then leaves a
balance open on a "paid" invoice. Every posted transaction's amounts are read back from its
*Ret (qbxml130.xsd: InvoiceRet Subtotal/SalesTaxTotal/BalanceRemaining, CreditMemoRet
Subtotal/SalesTaxTotal/TotalAmount/CreditRemaining, ReceivePaymentRet TotalAmount/
UnusedPayment, BillRet AmountDue/OpenAmount) and compared to the cent with
`Command.expected`.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation

from lxml import etree

# *Ret tag -> (our name, QuickBooks element) pairs, in the order they are shown.
_FIELDS: dict[str, tuple[tuple[str, str], ...]] = {
    "InvoiceRet": (
        ("subtotal", "Subtotal"),
        ("sales_tax", "SalesTaxTotal"),
        ("balance", "BalanceRemaining"),
    ),
    "CreditMemoRet": (
        ("subtotal", "Subtotal"),
        ("sales_tax", "SalesTaxTotal"),
        ("total", "TotalAmount"),
        ("balance", "CreditRemaining"),
    ),
    "ReceivePaymentRet": (("total", "TotalAmount"), ("unapplied", "UnusedPayment")),
    "BillRet": (("total", "AmountDue"), ("balance", "OpenAmount")),
}

_LABELS = {
    "subtotal": "subtotal",
    "sales_tax": "sales tax",
    "total": "total",
    "balance": "balance",
    "unapplied": "unapplied",
}


def _amount(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        return Decimal(text.strip()).quantize(Decimal("0.01"))
    except InvalidOperation:
        return None


def amounts_of(ret: etree._Element | None) -> dict[str, str]:
    """Decimal-dollar amounts by name ('subtotal', 'sales_tax', 'total', 'balance',
    'unapplied') from a transaction's *Ret; an invoice's total is its subtotal plus tax
    (InvoiceRet has no TotalAmount). Empty for a Ret that is not a transaction's."""
    if ret is None or not isinstance(ret.tag, str):
        return {}
    found: dict[str, Decimal] = {}
    for name, tag in _FIELDS.get(ret.tag, ()):
        value = _amount(ret.findtext(tag))
        if value is not None:
            found[name] = value
    if ret.tag == "InvoiceRet" and "subtotal" in found and "sales_tax" in found:
        found["total"] = found["subtotal"] + found["sales_tax"]
    return {name: str(value) for name, value in found.items()}


def differences(expected: dict[str, str], actual: dict[str, str]) -> dict[str, tuple[str, str]]:
    """name -> (ServiceTitan's, QuickBooks') for each amount both give that differs by a cent
    or more."""
    diff: dict[str, tuple[str, str]] = {}
    for name, want in expected.items():
        have = actual.get(name)
        want_amount, have_amount = _amount(want), _amount(have)
        if want_amount is None or have_amount is None:
            continue
        if want_amount != have_amount:
            diff[name] = (str(want_amount), str(have_amount))
    return diff


def describe_differences(diff: dict[str, tuple[str, str]]) -> str:
    """'total 405.13 in ServiceTitan, 408.05 in QuickBooks; sales tax 9.13 ... 12.05'"""
    return "; ".join(
        f"{_LABELS.get(name, name)} {st} in ServiceTitan, {qb} in QuickBooks"
        for name, (st, qb) in diff.items()
    )


def differs_hint(diff: dict[str, tuple[str, str]]) -> str:
    """What the office can do about a posted transaction whose amounts differ."""
    if "sales_tax" in diff:
        return (
            "QuickBooks computed the sales tax with its own sales tax item's rate. Map the "
            "invoice's ServiceTitan tax zone to the QuickBooks sales tax item with the same "
            "rate (connection mapping, tax_zone_map), then correct this invoice's tax item in "
            "QuickBooks so that its total matches ServiceTitan."
        )
    return (
        "Compare the transaction in QuickBooks with ServiceTitan and correct it in QuickBooks "
        "(or fix the mapping and retry for the records not posted yet)."
    )
