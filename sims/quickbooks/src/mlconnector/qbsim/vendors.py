"""Vendors (suppliers, tax agencies), in the name list they share with customers."""

from __future__ import annotations

from mlconnector.qbsim.address import Address
from mlconnector.qbsim.entities import Entity, entity, insert_entity
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store


def add_vendor(
    store: Store,
    name: str,
    *,
    company_name: str | None = None,
    address: Address | None = None,
    phone: str | None = None,
    email: str | None = None,
    account_number: str | None = None,
) -> Entity:
    now = store.now()
    with store.transaction():
        if store.resolve("entities", RefSpec(full_name=name)) is not None:
            raise name_in_use(name)
        list_id = store.new_list_id(now)
        insert_entity(
            store,
            list_id,
            now,
            "Vendor",
            name,
            name,
            True,
            None,
            0,
            company_name,
            None,
            None,
            address,
            None,
            phone,
            email,
            None,
            None,
            account_number,
            None,
            None,
        )
    return entity(store, list_id)
