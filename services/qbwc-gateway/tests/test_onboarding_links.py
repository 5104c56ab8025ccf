"""After a confirmed review: the matched customers are linked (never added), keep their
QuickBooks names through later Mods, invoices post to them; a customer created with its
ServiceTitan id keeps that name. The gateway over real HTTP and a real nats-server, zeep as the
Web Connector, the simulated company file as QuickBooks."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import Command
from mlconnector.common.onboarding.company import CompanyStore
from mlconnector.common.onboarding.confirm import confirm
from mlconnector.common.onboarding.holds import choose_hold
from mlconnector.common.onboarding.matching import StRecord, match_section
from mlconnector.common.onboarding.plan import Plan, choose, names_in_use, section_entries
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.qbsim.company import Company, CustomerDraft, seed_contractor

from .conftest import (
    FakeQuickBooks,
    Gateway,
    SimQuickBooks,
    customer_command,
    invoice_command,
    payment_command,
)

pytestmark = pytest.mark.nats

V1 = dt.datetime(2025, 3, 1, 9, 0, tzinfo=dt.UTC)
V2 = dt.datetime(2025, 3, 2, 9, 0, tzinfo=dt.UTC)


@pytest.fixture
def sim() -> Iterator[SimQuickBooks]:
    with Company(":memory:") as company:
        seed_contractor(company)
        company.add_customer(CustomerDraft(name="HERNANDEZ, MARIA", phone="555-0100"))
        company.add_customer(CustomerDraft(name="Okafor, James #1002"))
        company.add_customer(CustomerDraft(name="Chen, Wei"))  # not the ServiceTitan one
        yield SimQuickBooks(company)


def _versioned(command: Command, when: dt.datetime) -> Command:
    return command.model_copy(update={"version_at": when})


async def test_a_confirmed_review_links_keeps_names_and_posts_nothing_twice(
    gateway: Gateway, sim: SimQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    store = await ConnectionStore.open(gateway.js)
    connection = await store.get("acme")
    assert connection is not None
    await store.put(connection.model_copy(update={"onboarded": False}))
    maria_v1 = _versioned(customer_command("acme", 1001, "Hernandez, Maria", "v1"), V1)
    james = _versioned(customer_command("acme", 1002, "Okafor, James"), V1)
    wei = _versioned(customer_command("acme", 1003, "Chen, Wei"), V1)
    for command in (maria_v1, james, wei):
        await gateway.publish(command)
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001))
    await gateway.publish(invoice_command("acme", 5003, "INV-5003", 1003))

    read = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert read.percents[-1] == 100
    assert not sim.requests("CustomerAddRq")

    # The review, as `mlconnector onboard` builds it: Maria matches in another case, James
    # by his id suffix; this Wei is another person (ServiceTitan knows his address).
    snapshot = await (await CompanyStore.open(gateway.js)).snapshot("acme")
    assert snapshot is not None
    records = [
        StRecord(
            section="customer",
            st_id=command.st_id,
            name=name,
            qb_name=name,
            suffixed_name=f"{name} #{command.st_id}",
            event_id=command.event_id,
            version_at=V1,
        )
        for command, name in (
            (maria_v1, "Hernandez, Maria"),
            (james, "Okafor, James"),
            (wei, "Chen, Wei"),
        )
    ]
    plan = Plan(connection="acme", read_id=snapshot.manifest.read_id)
    plan.matches["customer"] = match_section(
        "customer",
        records,
        section_entries("customer", snapshot),
        names_in_use=names_in_use(snapshot),
    )
    assert [m.status for m in plan.section("customer")] == ["matched", "matched", "matched"]
    choose(plan, "customer:1003", "create", snapshot)
    await (await ReviewStore.open(gateway.js)).save_plan(plan)
    await confirm(gateway.js, "acme", force=True)
    # A newer version of Maria arrives meanwhile: a Mod of the entry she was linked to.
    maria_v2 = _versioned(
        customer_command("acme", 1001, "Hernandez, Maria", "v2", phone="555-0199"), V2
    )
    await gateway.publish(maria_v2)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    # Linked: James; Maria's v1 is superseded by v2 (a Mod); Wei added with his id.
    assert log.closed == (
        "Posted 5, failed 0, waiting 0, retrying 0, superseded by a newer version 1"
    )
    adds = [rq.findtext("CustomerAdd/Name") for rq in sim.requests("CustomerAddRq")]
    assert adds == ["Chen, Wei #1003"]
    [mod] = sim.requests("CustomerModRq")
    assert mod.findtext("CustomerMod/Name") == "HERNANDEZ, MARIA"  # never renamed
    assert mod.findtext("CustomerMod/Phone") == "555-0199"
    names = sorted(c.full_name for c in sim.company.customers())
    assert names == ["Chen, Wei", "Chen, Wei #1003", "HERNANDEZ, MARIA", "Okafor, James #1002"]
    by_name = {c.full_name: c.core.list_id for c in sim.company.customers()}
    invoices = {i.ref_number: i.customer.list_id for i in sim.company.invoices()}
    assert invoices == {
        "INV-5001": by_name["HERNANDEZ, MARIA"],
        "INV-5003": by_name["Chen, Wei #1003"],
    }
    outcomes = await gateway.outcomes("acme")
    linked = [o for o in outcomes if o.status_message and o.status_message.startswith("linked")]
    assert [(o.st_id, o.qb_id) for o in linked] == [(1002, by_name["Okafor, James #1002"])]
    assert linked[0].status_message == (
        "linked at onboarding to QuickBooks customer 'Okafor, James #1002' "
        f"({by_name['Okafor, James #1002']}): named with its ServiceTitan id #1002; "
        "not added again"
    )
    assert not [o for o in outcomes if o.status == "failed"]
    # Nothing more to do, and nothing sent twice.
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert (again.auth[1], again.sent) == ("none", [])
    assert await (await ReviewStore.open(gateway.js)).plan_head("acme") is not None


@pytest.mark.parametrize(
    "gateway_settings", [{"QBWC_CHANGES_EVERY_SECONDS": 0, "QBWC_MAX_WAIT_CYCLES": 2}]
)
async def test_records_behind_a_refused_name_wait_any_number_of_sessions_then_post(
    gateway: Gateway, qb: FakeQuickBooks
) -> None:
    await gateway.add_connection("acme", "acme-qbwc", "s3cret-pass")
    qb.customers["Hernandez, Maria"] = ("80000099-1741111111", "1741111199")
    await gateway.publish(customer_command("acme", 1001, "Hernandez, Maria"))
    await gateway.publish(invoice_command("acme", 5001, "INV-5001", 1001))
    await gateway.publish(payment_command("acme", 7001, "PAY-7001", 1001, 5001))

    first = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
    assert first.closed == "Posted 0, failed 0, waiting 3, retrying 0"
    # Far more sessions than a record may wait for a missing reference: nothing fails.
    for _ in range(4):
        idle = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)
        assert (idle.auth[1], idle.sent) == ("none", [])
    entries = await gateway.ledger("acme")
    assert sorted((e.entity, e.state, e.waited) for e in entries.values()) == [
        ("customer", "queued", 0),
        ("invoice", "queued", 0),
        ("payment", "queued", 0),
    ]
    hold = (await (await ReviewStore.open(gateway.js)).holds("acme")).items["customer:1001"]
    assert hold.dependants == 2  # the invoice, and the payment through it

    await choose_hold(gateway.js, "acme", "customer:1001", "link")
    done = await gateway.run_session("acme-qbwc", "s3cret-pass", qb)

    assert done.closed == "Posted 3, failed 0, waiting 0, retrying 0"
    assert [i["CustomerListID"] for i in qb.invoices] == ["80000099-1741111111"]
    assert [p["AppliedTo"] for p in qb.payments] == [qb.invoices[0]["TxnID"]]
    assert len(qb.requests("CustomerAddRq")) == 1  # the refused one, never sent again
    assert await gateway.open_work("acme") == (0, 0)
    assert (await (await ReviewStore.open(gateway.js)).holds("acme")).items == {}
