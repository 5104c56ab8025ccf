"""Customers and jobs: adding them with QuickBooks' defaults, finding and querying them."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.entities import Entity, entity, entity_from, entity_row, insert_entity
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.sales_tax_codes import default_code
from mlconnector.qbsim.statuses import invalid_reference, name_in_use
from mlconnector.qbsim.store import Store, to_qb_stored


@dataclass(frozen=True)
class CustomerDraft:
    name: str
    is_active: bool = True
    parent: RefSpec | None = None
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    email: str | None = None
    sales_tax_code: RefSpec | None = None
    item_sales_tax: RefSpec | None = None
    account_number: str | None = None
    notes: str | None = None
    external_guid: str | None = None
    class_ref: RefSpec | None = None
    terms: RefSpec | None = None
    preferred_payment_method: RefSpec | None = None
    credit_limit: Decimal | None = None


def add_customer(store: Store, draft: CustomerDraft) -> Entity:
    now = store.now()
    with store.transaction():
        parent_row = None
        if draft.parent is not None:
            parent_id = store.resolve("entities", draft.parent)
            if parent_id is not None:
                parent_row = entity_row(store, parent_id)
            if parent_row is None or parent_row["kind"] != "Customer":
                raise invalid_reference("Customer", draft.parent.shown, "Customer")
        name = to_qb_stored(draft.name) or ""
        full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
        if store.resolve("entities", RefSpec(full_name=full_name)) is not None:
            raise name_in_use(full_name)
        if draft.sales_tax_code is not None:
            code_id: str | None = store.require(
                "sales_tax_codes", draft.sales_tax_code, "SalesTaxCode", "Customer"
            )
        elif parent_row is not None:
            code_id = parent_row["sales_tax_code_id"]  # a job inherits its customer's
        else:
            code_id = default_code(store, taxable=True)
        if draft.item_sales_tax is not None:
            tax_item_id: str | None = store.require(
                "items", draft.item_sales_tax, "Item", "Customer"
            )
        elif parent_row is not None:
            tax_item_id = parent_row["item_sales_tax_id"]
        else:
            # Preferences > Sales Tax > "Your most common sales tax item" goes on new
            # customers.
            tax_item_id = store.get_meta("most_common_sales_tax_item")
        class_id = (
            store.require("classes", draft.class_ref, "Class", "Customer")
            if draft.class_ref
            else None
        )
        terms_id = (
            store.require("terms", draft.terms, "Terms", "Customer")
            if draft.terms
            else (parent_row["terms_id"] if parent_row else None)
        )
        method_id = (
            store.require(
                "payment_methods", draft.preferred_payment_method, "PaymentMethod", "Customer"
            )
            if draft.preferred_payment_method
            else None
        )
        list_id = store.new_list_id(now)
        insert_entity(
            store,
            list_id,
            now,
            "Customer",
            name,
            full_name,
            draft.is_active,
            parent_row["list_id"] if parent_row else None,
            parent_row["sublevel"] + 1 if parent_row else 0,
            draft.company_name,
            draft.first_name,
            draft.last_name,
            draft.bill_address,
            draft.ship_address,
            draft.phone,
            draft.email,
            code_id,
            tax_item_id,
            draft.account_number,
            draft.notes,
            draft.external_guid,
            class_id,
            terms_id,
            method_id,
            draft.credit_limit,
        )
    return entity(store, list_id)


def customer_by_name(store: Store, full_name: str) -> Entity | None:
    list_id = store.resolve("entities", RefSpec(full_name=full_name))
    if list_id is None:
        return None
    found = entity(store, list_id)
    return found if found.kind == "Customer" else None


def query_customers(store: Store, flt: ListFilter) -> tuple[list[Entity], list[str]]:
    rows, missing = list_query(store, "entities", flt, kind="Customer")
    return [entity_from(store, r) for r in rows], missing


def customers(store: Store) -> list[Entity]:
    """Every customer and job, inactive ones included."""
    return query_customers(store, ListFilter(active_status="All"))[0]
