"""A QuickBooks Desktop company file, simulated in SQLite.

Holds the lists (accounts, classes, terms, payment methods, sales tax codes, items,
customers/jobs, vendors) and the transactions (invoices, credit memos, received payments, bills)
that the qbXML processor reads and writes, with QuickBooks' own rules where they matter to an
integration: ListID/TxnID shapes, an EditSequence that changes on every modification, names
unique across customers and vendors, invalid references refused, totals and sales tax computed
the way QuickBooks computes them, balances kept up to date.

Errors are raised as `QbError` carrying the qbXML status code and QuickBooks' message, so the
processor only has to copy them into the response.

`Company` is the one object callers hold: the storage (`Store`) with each list's and
transaction's operations, which live in their own modules (`accounts`, `items`, `customers`,
`invoices`, ...). A new list or transaction type is a new module plus its methods here.

Inspection (plain Python, for the CLI and tests): `accounts()`, `classes()`, `terms()`,
`payment_methods()`, `customers()`, `vendors()`, `invoices()`, `credit_memos()`, `payments()`,
`bills()` return frozen dataclasses with amounts and balances; `account_balance(name)`,
`ar_balance()` and `customer_balance(name)` read one figure exactly. `edit_party_as_user()`
simulates the office manager editing a customer or vendor in QuickBooks (new EditSequence and
TimeModified); `set_closing_date()` closes the books through a date (3171 after that).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from decimal import Decimal
from typing import Any

from mlconnector.qbsim import (
    accounts,
    bills,
    classes,
    closing,
    credit_memos,
    credits,
    customers,
    entities,
    invoice_mods,
    invoice_query,
    invoices,
    items,
    parties,
    payment_methods,
    payments,
    sales_tax_codes,
    terms,
    vendors,
    voids,
)
from mlconnector.qbsim.accounts import Account
from mlconnector.qbsim.address import Address
from mlconnector.qbsim.bills import Bill, BillDraft, BillLine, BillLineDraft
from mlconnector.qbsim.classes import QbClass
from mlconnector.qbsim.credit_memos import CreditMemo, CreditMemoChanges, CreditMemoDraft
from mlconnector.qbsim.credits import CreditSet, LinkedTxn
from mlconnector.qbsim.customers import CustomerDraft
from mlconnector.qbsim.entities import Entity, EntityKind
from mlconnector.qbsim.errors import QbError
from mlconnector.qbsim.ids import Clock, ListCore, local_now
from mlconnector.qbsim.invoice_lines import InvoiceLine, InvoiceLineDraft
from mlconnector.qbsim.invoice_mods import InvoiceChanges, InvoiceLineChange
from mlconnector.qbsim.invoice_query import InvoiceFilter
from mlconnector.qbsim.invoices import Invoice, InvoiceDraft
from mlconnector.qbsim.items import Item, ItemType
from mlconnector.qbsim.parties import PARTY_FIELDS, PartyChanges
from mlconnector.qbsim.payment_methods import PaymentMethod
from mlconnector.qbsim.payments import Application, AppliedTo, CreditsSet, Payment, PaymentDraft
from mlconnector.qbsim.queries import ActiveStatus, ListFilter, MatchCriterion
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.sales_tax_codes import SalesTaxCode
from mlconnector.qbsim.seed import seed_contractor
from mlconnector.qbsim.store import Store
from mlconnector.qbsim.terms import StandardTerms
from mlconnector.qbsim.txn_query import TxnFilter
from mlconnector.qbsim.voids import DeletedTxn, VoidedTxn

__all__ = [
    "Account",
    "ActiveStatus",
    "Address",
    "Application",
    "AppliedTo",
    "Bill",
    "BillDraft",
    "BillLine",
    "BillLineDraft",
    "Clock",
    "Company",
    "CreditMemo",
    "CreditMemoChanges",
    "CreditMemoDraft",
    "CreditSet",
    "CreditsSet",
    "CustomerDraft",
    "DeletedTxn",
    "Entity",
    "EntityKind",
    "Invoice",
    "InvoiceChanges",
    "InvoiceDraft",
    "InvoiceFilter",
    "InvoiceLine",
    "InvoiceLineChange",
    "InvoiceLineDraft",
    "Item",
    "ItemType",
    "LinkedTxn",
    "ListCore",
    "ListFilter",
    "MatchCriterion",
    "PartyChanges",
    "Payment",
    "PaymentDraft",
    "PaymentMethod",
    "QbClass",
    "QbError",
    "Ref",
    "RefSpec",
    "SalesTaxCode",
    "StandardTerms",
    "TxnFilter",
    "VoidedTxn",
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
        is_active: bool = True,
    ) -> Account:
        return accounts.add_account(
            self,
            name,
            account_type,
            special_account_type=special_account_type,
            account_number=account_number,
            description=description,
            parent=parent,
            is_active=is_active,
        )

    def account(self, list_id: str) -> Account:
        return accounts.account(self, list_id)

    def account_by_special(self, special: str) -> Account | None:
        return accounts.account_by_special(self, special)

    def query_accounts(self, flt: ListFilter) -> tuple[list[Account], list[str]]:
        return accounts.query_accounts(self, flt)

    def accounts(self) -> list[Account]:
        """The chart of accounts with balances, inactive accounts included."""
        return self.query_accounts(ListFilter(active_status="All"))[0]

    def account_balance(self, full_name: str) -> Decimal:
        """The balance of the account named `full_name`, in dollars; KeyError when none."""
        list_id = self.resolve("accounts", RefSpec(full_name=full_name))
        if list_id is None:
            raise KeyError(full_name)
        return self.account(list_id).balance

    def ar_balance(self) -> Decimal:
        """Accounts Receivable: open invoices less unapplied payments and credits, dollars."""
        found = self.account_by_special("AccountsReceivable")
        return found.balance if found is not None else Decimal("0.00")

    # -- company preferences ----------------------------------------------------------------

    @property
    def closing_date(self) -> date | None:
        """Preferences > Accounting > Closing Date; None when the books are open."""
        return closing.closing_date(self)

    def set_closing_date(self, value: date | None) -> None:
        """Close the books through `value` (None opens them): from then on an Add, Mod, void
        or delete of a transaction dated on or before it answers 3171."""
        closing.set_closing_date(self, value)

    # -- classes, terms, payment methods ----------------------------------------------------

    def add_class(
        self, name: str, *, parent: RefSpec | None = None, is_active: bool = True
    ) -> QbClass:
        return classes.add_class(self, name, parent=parent, is_active=is_active)

    def mod_class(
        self,
        list_id: str,
        edit_sequence: str,
        *,
        name: str | None = None,
        is_active: bool | None = None,
        parent: RefSpec | None = None,
    ) -> QbClass:
        return classes.mod_class(
            self, list_id, edit_sequence, name=name, is_active=is_active, parent=parent
        )

    def query_classes(self, flt: ListFilter) -> tuple[list[QbClass], list[str]]:
        return classes.query_classes(self, flt)

    def classes(self) -> list[QbClass]:
        return self.query_classes(ListFilter(active_status="All"))[0]

    def add_standard_terms(
        self,
        name: str,
        *,
        std_due_days: int | None = None,
        std_discount_days: int | None = None,
        discount_pct: Decimal | None = None,
        is_active: bool = True,
    ) -> StandardTerms:
        return terms.add_standard_terms(
            self,
            name,
            std_due_days=std_due_days,
            std_discount_days=std_discount_days,
            discount_pct=discount_pct,
            is_active=is_active,
        )

    def query_terms(self, flt: ListFilter) -> tuple[list[StandardTerms], list[str]]:
        return terms.query_terms(self, flt)

    def terms(self) -> list[StandardTerms]:
        return self.query_terms(ListFilter(active_status="All"))[0]

    def add_payment_method(
        self, name: str, *, payment_method_type: str | None = None, is_active: bool = True
    ) -> PaymentMethod:
        return payment_methods.add_payment_method(
            self, name, payment_method_type=payment_method_type, is_active=is_active
        )

    def query_payment_methods(self, flt: ListFilter) -> tuple[list[PaymentMethod], list[str]]:
        return payment_methods.query_payment_methods(self, flt)

    def payment_methods(self) -> list[PaymentMethod]:
        return self.query_payment_methods(ListFilter(active_status="All"))[0]

    # -- sales tax codes --------------------------------------------------------------------

    def add_sales_tax_code(
        self, name: str, *, is_taxable: bool, description: str | None = None
    ) -> SalesTaxCode:
        return sales_tax_codes.add_sales_tax_code(
            self, name, is_taxable=is_taxable, description=description
        )

    def sales_tax_code(self, list_id: str) -> SalesTaxCode:
        return sales_tax_codes.sales_tax_code(self, list_id)

    def mod_sales_tax_code(
        self,
        list_id: str,
        edit_sequence: str,
        *,
        name: str | None = None,
        is_active: bool | None = None,
        is_taxable: bool | None = None,
        description: str | None = None,
    ) -> SalesTaxCode:
        return sales_tax_codes.mod_sales_tax_code(
            self,
            list_id,
            edit_sequence,
            name=name,
            is_active=is_active,
            is_taxable=is_taxable,
            description=description,
        )

    def query_sales_tax_codes(self, flt: ListFilter) -> tuple[list[SalesTaxCode], list[str]]:
        return sales_tax_codes.query_sales_tax_codes(self, flt)

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
        class_ref: RefSpec | None = None,
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
            class_ref=class_ref,
        )

    def item(self, list_id: str) -> Item:
        return items.item(self, list_id)

    def query_items(
        self, flt: ListFilter, item_type: ItemType | None = None
    ) -> tuple[list[Item], list[str]]:
        return items.query_items(self, flt, item_type)

    def mod_item(
        self,
        list_id: str,
        edit_sequence: str,
        *,
        name: str | None = None,
        is_active: bool | None = None,
        parent: RefSpec | None = None,
        sales_tax_code: RefSpec | None = None,
        description: str | None = None,
        price: Decimal | None = None,
        price_percent: Decimal | None = None,
        account: RefSpec | None = None,
        class_ref: RefSpec | None = None,
    ) -> Item:
        return items.mod_item(
            self,
            list_id,
            edit_sequence,
            name=name,
            is_active=is_active,
            parent=parent,
            sales_tax_code=sales_tax_code,
            description=description,
            price=price,
            price_percent=price_percent,
            account=account,
            class_ref=class_ref,
        )

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
        first_name: str | None = None,
        last_name: str | None = None,
        notes: str | None = None,
        terms: RefSpec | None = None,
        class_ref: RefSpec | None = None,
        external_guid: str | None = None,
        is_active: bool = True,
    ) -> Entity:
        return vendors.add_vendor(
            self,
            name,
            company_name=company_name,
            address=address,
            phone=phone,
            email=email,
            account_number=account_number,
            first_name=first_name,
            last_name=last_name,
            notes=notes,
            terms=terms,
            class_ref=class_ref,
            external_guid=external_guid,
            is_active=is_active,
        )

    def mod_customer(self, list_id: str, edit_sequence: str, changes: PartyChanges) -> Entity:
        """CustomerMod: 3200 when `edit_sequence` is stale, 3120 when no such customer."""
        return parties.modify_party(
            self, list_id, changes, kind="Customer", edit_sequence=edit_sequence
        )

    def mod_vendor(self, list_id: str, edit_sequence: str, changes: PartyChanges) -> Entity:
        """VendorMod: 3200 when `edit_sequence` is stale, 3120 when no such vendor."""
        return parties.modify_party(
            self, list_id, changes, kind="Vendor", edit_sequence=edit_sequence
        )

    def edit_party_as_user(self, list_id: str, **fields: Any) -> Entity:
        """The office manager edits a customer, job or vendor in the QuickBooks window.

        `fields` are `PartyChanges` fields (name, phone, email, company_name, notes,
        is_active, bill_address=Address(...), terms=RefSpec(...), ...). The record gets a new
        TimeModified and EditSequence, so a Mod built from an earlier query now fails with
        3200, exactly as after a real edit. KeyError for an unknown field; QbError 3120 for an
        unknown ListID, 3100 for a name already in use.
        """
        unknown = set(fields) - PARTY_FIELDS
        if unknown:
            raise KeyError(f"not a customer/vendor field: {', '.join(sorted(unknown))}")
        return parties.modify_party(self, list_id, PartyChanges(**fields))

    def entity(self, list_id: str) -> Entity:
        return entities.entity(self, list_id)

    def customer_by_name(self, full_name: str) -> Entity | None:
        return customers.customer_by_name(self, full_name)

    def query_customers(self, flt: ListFilter) -> tuple[list[Entity], list[str]]:
        return customers.query_customers(self, flt)

    def customers(self) -> list[Entity]:
        """Every customer and job (by FullName), with Balance and TotalBalance."""
        return customers.customers(self)

    def customer_balance(self, full_name: str) -> Decimal:
        """The TotalBalance (jobs included) of the customer `full_name`; KeyError when none."""
        found = self.customer_by_name(full_name)
        if found is None:
            raise KeyError(full_name)
        return found.total_balance

    def query_vendors(self, flt: ListFilter) -> tuple[list[Entity], list[str]]:
        return vendors.query_vendors(self, flt)

    def vendors(self) -> list[Entity]:
        """Every vendor (by name), with the Balance the company owes them."""
        return vendors.vendors(self)

    # -- invoices ---------------------------------------------------------------------------

    def add_invoice(self, draft: InvoiceDraft) -> Invoice:
        return invoices.add_invoice(self, draft)

    def invoice(self, txn_id: str, *, with_lines: bool = True) -> Invoice:
        return invoices.invoice(self, txn_id, with_lines=with_lines)

    def invoices(self) -> list[Invoice]:
        """Every invoice in entry order, lines included, with BalanceRemaining and IsPaid."""
        return self.query_invoices(InvoiceFilter(), with_lines=True)[0]

    def mod_invoice(
        self,
        txn_id: str,
        edit_sequence: str,
        changes: InvoiceChanges,
        lines: Sequence[InvoiceLineChange] | None = None,
    ) -> Invoice:
        return invoice_mods.mod_invoice(self, txn_id, edit_sequence, changes, lines)

    def query_invoices(
        self, flt: InvoiceFilter, *, with_lines: bool = False
    ) -> tuple[list[Invoice], list[str]]:
        """Invoices matching a query, and the TxnIDs asked for but not found."""
        return invoice_query.query_invoices(self, flt, with_lines=with_lines)

    def set_invoice_credits(self, txn_id: str, credit_sets: Sequence[CreditSet]) -> Invoice:
        """SetCredit on an invoice (InvoiceAdd/InvoiceMod): credits set, the invoice after."""
        with self.transaction():
            credits.set_invoice_credits(self, txn_id, list(credit_sets))
        return self.invoice(txn_id)

    def linked_txns(self, txn_type: str, txn_id: str) -> list[LinkedTxn]:
        """The LinkedTxn of an Invoice or CreditMemo (payments and credits set)."""
        return credits.linked_txns(self, txn_type, txn_id)

    # -- credit memos -----------------------------------------------------------------------

    def add_credit_memo(self, draft: CreditMemoDraft) -> CreditMemo:
        return credit_memos.add_credit_memo(self, draft)

    def credit_memo(self, txn_id: str, *, with_lines: bool = True) -> CreditMemo:
        return credit_memos.credit_memo(self, txn_id, with_lines=with_lines)

    def mod_credit_memo(
        self,
        txn_id: str,
        edit_sequence: str,
        changes: CreditMemoChanges,
        lines: Sequence[InvoiceLineChange] | None = None,
    ) -> CreditMemo:
        return credit_memos.mod_credit_memo(self, txn_id, edit_sequence, changes, lines)

    def query_credit_memos(
        self, flt: TxnFilter, *, with_lines: bool = False
    ) -> tuple[list[CreditMemo], list[str]]:
        return credit_memos.query_credit_memos(self, flt, with_lines=with_lines)

    def credit_memos(self) -> list[CreditMemo]:
        """Every credit memo in entry order, lines included, with CreditRemaining."""
        return self.query_credit_memos(TxnFilter(), with_lines=True)[0]

    # -- voids and deletes ------------------------------------------------------------------

    def void_txn(self, txn_type: str, txn_id: str) -> VoidedTxn:
        """TxnVoidRq (Invoice, CreditMemo, Bill). QbError 3120 when there is no such
        transaction, 3171 when it is dated in a closed period."""
        return voids.void_txn(self, txn_type, txn_id)

    def delete_txn(self, txn_type: str, txn_id: str) -> DeletedTxn:
        """TxnDelRq (Invoice, CreditMemo, Bill, ReceivePayment). QbError 3120, 3171."""
        return voids.delete_txn(self, txn_type, txn_id)

    # -- received payments ------------------------------------------------------------------

    def receive_payment(self, draft: PaymentDraft) -> Payment | CreditsSet:
        """ReceivePaymentAdd: the Payment, or CreditsSet when it only set credits."""
        return payments.receive_payment(self, draft)

    def payment(self, txn_id: str) -> Payment:
        return payments.payment(self, txn_id)

    def query_payments(self, flt: TxnFilter) -> tuple[list[Payment], list[str]]:
        return payments.query_payments(self, flt)

    def payments(self) -> list[Payment]:
        """Every received payment in entry order, with what it paid and UnusedPayment."""
        return self.query_payments(TxnFilter())[0]

    # -- bills ------------------------------------------------------------------------------

    def add_bill(self, draft: BillDraft) -> Bill:
        return bills.add_bill(self, draft)

    def bill(self, txn_id: str, *, with_lines: bool = True) -> Bill:
        return bills.bill(self, txn_id, with_lines=with_lines)

    def query_bills(
        self, flt: TxnFilter, *, with_lines: bool = False
    ) -> tuple[list[Bill], list[str]]:
        return bills.query_bills(self, flt, with_lines=with_lines)

    def bills(self) -> list[Bill]:
        """Every bill in entry order, lines included, with AmountDue and OpenAmount."""
        return self.query_bills(TxnFilter(), with_lines=True)[0]
