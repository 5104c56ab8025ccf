"""A QuickBooks Desktop company file, simulated in SQLite.

Holds the lists (accounts, sales tax codes, items, customers/jobs, vendors) and the invoices that
the qbXML processor reads and writes, with QuickBooks' own rules where they matter to an
integration: ListID/TxnID shapes, an EditSequence that changes on every modification, names
unique across customers and vendors, invalid references refused, totals and sales tax computed
the way QuickBooks computes them, balances kept up to date.

Errors are raised as `QbError` carrying the qbXML status code and QuickBooks' message, so the
processor only has to copy them into the response.

`Company` is the one object callers hold: the storage (`Store`) with each list's and
transaction's operations, which live in their own modules (`accounts`, `items`, `customers`,
`invoices`, ...). A new list or transaction type is a new module plus its methods here.
"""

from __future__ import annotations

from decimal import Decimal

from mlconnector.qbsim import (
    accounts,
    customers,
    entities,
    invoice_query,
    invoices,
    items,
    sales_tax_codes,
    vendors,
)
from mlconnector.qbsim.accounts import Account
from mlconnector.qbsim.address import Address
from mlconnector.qbsim.customers import CustomerDraft
from mlconnector.qbsim.entities import Entity, EntityKind
from mlconnector.qbsim.errors import QbError
from mlconnector.qbsim.ids import Clock, ListCore, local_now
from mlconnector.qbsim.invoice_lines import InvoiceLine, InvoiceLineDraft
from mlconnector.qbsim.invoice_query import InvoiceFilter
from mlconnector.qbsim.invoices import Invoice, InvoiceDraft
from mlconnector.qbsim.items import Item, ItemType
from mlconnector.qbsim.queries import ActiveStatus, ListFilter, MatchCriterion
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.sales_tax_codes import SalesTaxCode
from mlconnector.qbsim.seed import seed_contractor
from mlconnector.qbsim.store import Store

__all__ = [
    "Account",
    "ActiveStatus",
    "Address",
    "Clock",
    "Company",
    "CustomerDraft",
    "Entity",
    "EntityKind",
    "Invoice",
    "InvoiceDraft",
    "InvoiceFilter",
    "InvoiceLine",
    "InvoiceLineDraft",
    "Item",
    "ItemType",
    "ListCore",
    "ListFilter",
    "MatchCriterion",
    "QbError",
    "Ref",
    "RefSpec",
    "SalesTaxCode",
    "local_now",
    "seed_contractor",
]


class Company(Store):
    """One company file. `path` is a SQLite file (created if missing) or ":memory:"."""

    # -- accounts ---------------------------------------------------------------------------

    def add_account(
        self,
        name: str,
        account_type: str,
        *,
        special_account_type: str | None = None,
        account_number: str | None = None,
        description: str | None = None,
        parent: RefSpec | None = None,
    ) -> Account:
        return accounts.add_account(
            self,
            name,
            account_type,
            special_account_type=special_account_type,
            account_number=account_number,
            description=description,
            parent=parent,
        )

    def account(self, list_id: str) -> Account:
        return accounts.account(self, list_id)

    def account_by_special(self, special: str) -> Account | None:
        return accounts.account_by_special(self, special)

    def query_accounts(self, flt: ListFilter) -> tuple[list[Account], list[str]]:
        return accounts.query_accounts(self, flt)

    # -- sales tax codes --------------------------------------------------------------------

    def add_sales_tax_code(
        self, name: str, *, is_taxable: bool, description: str | None = None
    ) -> SalesTaxCode:
        return sales_tax_codes.add_sales_tax_code(
            self, name, is_taxable=is_taxable, description=description
        )

    def sales_tax_code(self, list_id: str) -> SalesTaxCode:
        return sales_tax_codes.sales_tax_code(self, list_id)

    # -- items ------------------------------------------------------------------------------

    def add_item(
        self,
        item_type: ItemType,
        name: str,
        *,
        description: str | None = None,
        price: Decimal | None = None,
        price_percent: Decimal | None = None,
        account: RefSpec | None = None,
        sales_tax_code: RefSpec | None = None,
        tax_rate: Decimal | None = None,
        tax_vendor: RefSpec | None = None,
        parent: RefSpec | None = None,
        is_active: bool = True,
    ) -> Item:
        return items.add_item(
            self,
            item_type,
            name,
            description=description,
            price=price,
            price_percent=price_percent,
            account=account,
            sales_tax_code=sales_tax_code,
            tax_rate=tax_rate,
            tax_vendor=tax_vendor,
            parent=parent,
            is_active=is_active,
        )

    def item(self, list_id: str) -> Item:
        return items.item(self, list_id)

    def query_items(self, flt: ListFilter) -> tuple[list[Item], list[str]]:
        return items.query_items(self, flt)

    # -- customers and vendors --------------------------------------------------------------

    def add_customer(self, draft: CustomerDraft) -> Entity:
        return customers.add_customer(self, draft)

    def add_vendor(
        self,
        name: str,
        *,
        company_name: str | None = None,
        address: Address | None = None,
        phone: str | None = None,
        email: str | None = None,
        account_number: str | None = None,
    ) -> Entity:
        return vendors.add_vendor(
            self,
            name,
            company_name=company_name,
            address=address,
            phone=phone,
            email=email,
            account_number=account_number,
        )

    def entity(self, list_id: str) -> Entity:
        return entities.entity(self, list_id)

    def customer_by_name(self, full_name: str) -> Entity | None:
        return customers.customer_by_name(self, full_name)

    def query_customers(self, flt: ListFilter) -> tuple[list[Entity], list[str]]:
        return customers.query_customers(self, flt)

    def customers(self) -> list[Entity]:
        return customers.customers(self)

    # -- invoices ---------------------------------------------------------------------------

    def add_invoice(self, draft: InvoiceDraft) -> Invoice:
        return invoices.add_invoice(self, draft)

    def invoice(self, txn_id: str, *, with_lines: bool = True) -> Invoice:
        return invoices.invoice(self, txn_id, with_lines=with_lines)

    def invoices(self) -> list[Invoice]:
        return self.query_invoices(InvoiceFilter(), with_lines=True)[0]

    def query_invoices(
        self, flt: InvoiceFilter, *, with_lines: bool = False
    ) -> tuple[list[Invoice], list[str]]:
        """Invoices matching a query, and the TxnIDs asked for but not found."""
        return invoice_query.query_invoices(self, flt, with_lines=with_lines)
