"""A connection waiting for its onboarding review, written to NATS as the gateway and
`mlconnector onboard` write it: a company read, a plan, a name QuickBooks refused."""

from __future__ import annotations

import datetime as dt

from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.onboarding.company import CompanyManifest, CompanyStore, QbEntry
from mlconnector.common.onboarding.matching import StRecord, match_section
from mlconnector.common.onboarding.plan import Plan, names_in_use, section_entries
from mlconnector.common.onboarding.store import ExistingEntry, Hold, Holds, ReviewStore

NOW = dt.datetime(2025, 3, 14, 18, 0, tzinfo=dt.UTC)
CUSTOMERS = [
    QbEntry(
        list_id="80-1", name="Hernandez, Maria", full_name="Hernandez, Maria", edit_sequence="11"
    ),
    QbEntry(list_id="80-2", name="Smith & Sons", full_name="Smith & Sons", edit_sequence="12"),
    QbEntry(list_id="80-3", name="Smith and Sons", full_name="Smith and Sons", edit_sequence="13"),
]
ACCOUNTS = [
    QbEntry(list_id=f"A-{n}", name=name, full_name=name, kind="Income")
    for n, name in enumerate(("Accounts Receivable", "Accounts Payable", "Cost of Goods Sold"))
]


async def seed_review(js: JetStreamContext, name: str = "acme") -> Plan:
    connection = Connection.create(name, "1234567", f"{name}-qb", "password1")
    await (await ConnectionStore.open(js)).put(connection.model_copy(update={"onboarded": False}))
    company = await CompanyStore.open(js)
    await company.put_page(name, "r1", "customer", 1, CUSTOMERS)
    await company.put_page(name, "r1", "account", 1, ACCOUNTS)
    await company.put_manifest(
        name,
        CompanyManifest(
            state="complete",
            read_id="r1",
            pages={"customer": 1, "account": 1},
            counts={"customer": 3, "vendor": 0, "account": 3},
            finished_at=NOW,
            messages=2,
        ),
    )
    snapshot = await company.snapshot(name)
    assert snapshot is not None
    records = [
        StRecord(
            section="customer",
            st_id=st_id,
            name=st_name,
            qb_name=st_name,
            suffixed_name=f"{st_name} #{st_id}",
            event_id=f"1234567:customer:{st_id}:v1",
            version_at=NOW,
        )
        for st_id, st_name in (
            (1001, "Hernandez, Maria"),
            (1002, "SMITH AND SONS"),
            (1003, "Chen, Wei"),
        )
    ]
    plan = Plan(connection=name, read_id="r1")
    plan.matches["customer"] = match_section(
        "customer",
        records,
        section_entries("customer", snapshot),
        names_in_use=names_in_use(snapshot),
    )
    from mlconnector.common.onboarding.confirm import mapping_with_matches
    from mlconnector.common.onboarding.mapping_check import check_mapping

    plan.mapping_problems = check_mapping(
        mapping_with_matches(plan, connection.mapping)[0], snapshot
    )
    await (await ReviewStore.open(js)).save_plan(plan)
    return plan


async def seed_hold(js: JetStreamContext, name: str = "acme") -> None:
    hold = Hold(
        entity="customer",
        st_id=1004,
        ledger_key=f"{name}.r.customer.1004",
        command_id="cmd-1",
        name="Okafor, James",
        suffixed_name="Okafor, James #1004",
        message='The name "Okafor, James" of the list element is already in use.',
        state="offered",
        existing=ExistingEntry(
            list_id="80-9", name="Okafor, James", kind="Customer", phone="512-555-0142"
        ),
        can_link=True,
        dependants=2,
    )

    def add(current: Holds) -> Holds:
        current.items[hold.key] = hold
        return current

    await (await ReviewStore.open(js)).change_holds(name, add)
