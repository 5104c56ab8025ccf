"""Changing a customer, job or vendor: CustomerMod/VendorMod, and the office manager editing a
record in the QuickBooks window (the same change, without an EditSequence to check)."""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import Decimal

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.entities import Entity, EntityKind, entity, entity_row
from mlconnector.qbsim.mods import current_row, move
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import invalid_reference, object_not_found
from mlconnector.qbsim.store import Store, to_qb_stored


@dataclass(frozen=True)
class PartyChanges:
    """The fields a Mod sets; None leaves a field as it is (as an absent qbXML element)."""

    name: str | None = None
    is_active: bool | None = None
    parent: RefSpec | None = None
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    email: str | None = None
    account_number: str | None = None
    notes: str | None = None
    class_ref: RefSpec | None = None
    terms: RefSpec | None = None
    sales_tax_code: RefSpec | None = None
    item_sales_tax: RefSpec | None = None
    preferred_payment_method: RefSpec | None = None
    credit_limit: Decimal | None = None


PARTY_FIELDS = frozenset(f.name for f in fields(PartyChanges))

_TEXT_COLUMNS = ("company_name", "first_name", "last_name", "phone", "email", "notes")
# Reference field -> (column, referenced table, the kind QuickBooks names in a 3140).
_REF_COLUMNS = {
    "class_ref": ("class_id", "classes", "Class"),
    "terms": ("terms_id", "terms", "Terms"),
    "sales_tax_code": ("sales_tax_code_id", "sales_tax_codes", "SalesTaxCode"),
    "item_sales_tax": ("item_sales_tax_id", "items", "Item"),
    "preferred_payment_method": ("preferred_payment_method_id", "payment_methods", "PaymentMethod"),
}


def modify_party(
    store: Store,
    list_id: str,
    changes: PartyChanges,
    *,
    kind: EntityKind | None = None,
    edit_sequence: str | None = None,
) -> Entity:
    """Apply `changes`; a new TimeModified and EditSequence follow, as after any edit.

    With `edit_sequence` (a qbXML Mod) a stale one is refused with 3200; with `kind` a record
    of the other kind is not found (3120), as a CustomerMod naming a vendor's ListID is.
    """
    with store.transaction():
        if edit_sequence is not None:
            row = current_row(store, "entities", list_id, edit_sequence)
        else:
            found = entity_row(store, list_id)
            if found is None:
                raise object_not_found(list_id)
            row = found
        if kind is not None and row["kind"] != kind:
            raise object_not_found(list_id)
        where = row["kind"]
        if changes.name is not None or changes.parent is not None:
            parent_row = entity_row(store, row["parent_id"]) if row["parent_id"] else None
            if changes.parent is not None:
                parent_id = store.resolve("entities", changes.parent)
                parent_row = entity_row(store, parent_id) if parent_id else None
                if parent_row is None or parent_row["kind"] != "Customer" or where != "Customer":
                    raise invalid_reference("Customer", changes.parent.shown, where)
            name = to_qb_stored(changes.name) if changes.name is not None else row["name"]
            move(store, "entities", row, name or row["name"], parent_row)
        updates: dict[str, object] = {}
        if changes.is_active is not None:
            updates["is_active"] = int(changes.is_active)
        for column in _TEXT_COLUMNS:
            value = getattr(changes, column)
            if value is not None:
                updates[column] = to_qb_stored(value)
        if changes.account_number is not None:
            updates["account_number"] = changes.account_number
        if changes.credit_limit is not None:
            updates["credit_limit"] = str(changes.credit_limit)
        # An address aggregate in a Mod replaces the stored address as a whole (the simulator's
        # reading; QuickBooks keeps unsent fields of an aggregate in some versions).
        for attr in ("bill_address", "ship_address"):
            address: Address | None = getattr(changes, attr)
            if address is not None:
                updates[attr] = address.to_json()
        for attr, (column, table, ref_kind) in _REF_COLUMNS.items():
            spec: RefSpec | None = getattr(changes, attr)
            if spec is not None:
                updates[column] = store.require(table, spec, ref_kind, where)
        if updates:
            store.db.execute(
                "UPDATE entities SET "
                + ", ".join(f"{column} = ?" for column in updates)
                + " WHERE list_id = ?",
                (*updates.values(), list_id),
            )
        store.touch("entities", "list_id", list_id)
    return entity(store, list_id)
