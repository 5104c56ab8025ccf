"""Vendors (suppliers, tax agencies), in the name list they share with customers."""

from __future__ import annotations

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.entities import Entity, entity, entity_from, insert_entity
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store, to_qb_stored


def add_vendor(
    store: Store,
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
    now = store.now()
    with store.transaction():
        name = to_qb_stored(name) or ""
        if store.resolve("entities", RefSpec(full_name=name)) is not None:
            raise name_in_use(name)
        terms_id = store.require("terms", terms, "Terms", "Vendor") if terms else None
        class_id = store.require("classes", class_ref, "Class", "Vendor") if class_ref else None
        list_id = store.new_list_id(now)
        insert_entity(
            store,
            list_id,
            now,
            "Vendor",
            name,
            name,
            is_active,
            None,
            0,
            company_name,
            first_name,
            last_name,
            address,
            None,
            phone,
            email,
            None,
            None,
            account_number,
            notes,
            external_guid,
            class_id,
            terms_id,
        )
    return entity(store, list_id)


def query_vendors(store: Store, flt: ListFilter) -> tuple[list[Entity], list[str]]:
    rows, missing = list_query(store, "entities", flt, kind="Vendor")
    return [entity_from(store, r) for r in rows], missing


def vendors(store: Store) -> list[Entity]:
    """Every vendor, inactive ones included."""
    return query_vendors(store, ListFilter(active_status="All"))[0]
