"""InvoiceQuery: running it (the filters are the transaction queries' own)."""

from __future__ import annotations

from mlconnector.qbsim.invoices import Invoice, invoice_from
from mlconnector.qbsim.store import Store
from mlconnector.qbsim.txn_query import TxnFilter, txn_rows

InvoiceFilter = TxnFilter


def query_invoices(
    store: Store, flt: TxnFilter, *, with_lines: bool = False
) -> tuple[list[Invoice], list[str]]:
    """Invoices matching a query, and the TxnIDs asked for but not found."""
    rows, missing = txn_rows(store, "invoices", "customer_id", flt)
    return [invoice_from(store, r, with_lines) for r in rows], missing
