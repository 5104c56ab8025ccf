"""US sales tax on a sale, computed the way QuickBooks computes it."""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from mlconnector.qbsim.amounts import round_cents
from mlconnector.qbsim.invoice_lines import InvoiceLine
from mlconnector.qbsim.items import item
from mlconnector.qbsim.sales_tax_codes import is_taxable_code
from mlconnector.qbsim.store import Store


def sales_tax(
    store: Store,
    lines: Sequence[InvoiceLine],
    customer_code_id: str | None,
    tax_item_id: str | None,
) -> tuple[Decimal, Decimal]:
    """The tax rate (percent) and the tax amount on `lines`.

    A line is taxed when its own code is taxable and the customer's code is taxable; the tax
    item's rate applies to the taxable subtotal, rounded once, half up (not per line).

    QuickBooks Desktop computes a sales tax item's tax as "Sub-Total x Tax Rate", rounded to
    the cent ($35.50 x 8.25% = 2.92875 -> $2.93; only a sales tax group rounds per component):
    Acctivate's "Sales Tax Rounding and Discrepancies in QuickBooks Desktop",
    https://hub.acctivate.com/articles/handle-sales-tax-discrepancies. Half up, not to even:
    issue 9's 146.00 taxable at 8.25% (12.045) is 12.05 in QuickBooks (405.13 -> 408.05).
    """
    taxable = Decimal("0.00")
    if is_taxable_code(store, customer_code_id) or customer_code_id is None:
        taxable = sum(
            (
                line.amount
                for line in lines
                if line.sales_tax_code is not None
                and is_taxable_code(store, line.sales_tax_code.list_id)
            ),
            Decimal("0.00"),
        )
    rate = Decimal("0")
    if tax_item_id is not None:
        tax_item = item(store, tax_item_id)
        rate = tax_item.tax_rate or Decimal("0")
    return rate, round_cents(taxable * rate / 100)
