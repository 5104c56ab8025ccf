"""What invoices and credit memos (QuickBooks' sales forms) share: the header's defaults taken
from the customer and the company, and the customer's credit limit."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from mlconnector.qbsim.accounts import account_by_special
from mlconnector.qbsim.entities import entity_from, entity_row
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import credit_limit_exceeded, invalid_reference, no_ar_account
from mlconnector.qbsim.store import Store


@dataclass(frozen=True)
class SalesHeader:
    """The resolved references of a sales form: ListIDs, None where the form has none."""

    customer: sqlite3.Row
    ar_id: str
    tax_item_id: str | None
    customer_code_id: str | None
    class_id: str | None
    terms_id: str | None


def resolve_header(
    store: Store,
    kind: str,
    *,
    customer: RefSpec,
    ar_account: RefSpec | None,
    item_sales_tax: RefSpec | None,
    customer_sales_tax_code: RefSpec | None,
    class_ref: RefSpec | None,
    terms: RefSpec | None,
) -> SalesHeader:
    """The form's references, with QuickBooks' defaults for those left out: the A/R account,
    the customer's sales tax item (else the company's most common one), the customer's tax
    code and terms. 3140 for a reference to nothing (`kind` names the form in the message)."""
    customer_id = store.resolve("entities", customer)
    row = entity_row(store, customer_id) if customer_id else None
    if row is None or row["kind"] != "Customer":
        raise invalid_reference("Customer", customer.shown, kind)
    if ar_account is not None:
        ar_id = store.require("accounts", ar_account, "Account", kind)
    else:
        ar = account_by_special(store, "AccountsReceivable")
        if ar is None:
            raise no_ar_account()
        ar_id = ar.core.list_id
    if item_sales_tax is not None:
        tax_item_id: str | None = store.require("items", item_sales_tax, "Item", kind)
    else:
        tax_item_id = row["item_sales_tax_id"] or store.get_meta("most_common_sales_tax_item")
    if customer_sales_tax_code is not None:
        code_id: str | None = store.require(
            "sales_tax_codes", customer_sales_tax_code, "SalesTaxCode", kind
        )
    else:
        code_id = row["sales_tax_code_id"]
    class_id = store.require("classes", class_ref, "Class", kind) if class_ref else None
    if terms is not None:
        terms_id: str | None = store.require("terms", terms, "Terms", kind)
    else:
        terms_id = row["terms_id"]  # the customer's terms are the default
    return SalesHeader(row, ar_id, tax_item_id, code_id, class_id, terms_id)


def check_credit_limit(store: Store, customer_id: str, increase: Decimal, kind: str) -> None:
    """3180 when adding `increase` (dollars) to the customer's balance takes it, or the
    customer it is a job of, over a CreditLimit (AYS Software's export-error guide: "There was
    an error when saving a Invoice. QuickBooks error message: The credit limit for the name on
    this transaction has been exceeded"). A limit is checked against the TotalBalance of the
    record that carries it (its jobs' balances included)."""
    if increase <= 0:
        return
    row = entity_row(store, customer_id)
    while row is not None:
        limit = row["credit_limit"]
        if limit is not None:
            total = entity_from(store, row).total_balance
            if total + increase > Decimal(limit):
                raise credit_limit_exceeded(kind)
        row = entity_row(store, row["parent_id"]) if row["parent_id"] else None
