"""A new connection reads its QuickBooks company before anything posts: the gateway over real
HTTP and a real nats-server, zeep as the Web Connector, the simulated company file
(sims/quickbooks) as QuickBooks."""

from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import pytest
from lxml import etree

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import SessionReport
from mlconnector.common.onboarding.company import CompanyStore
from mlconnector.common.streams import QB_OUTCOMES
from mlconnector.qbsim.company import Address, Company, CustomerDraft, RefSpec, seed_contractor

from .conftest import Gateway, SimQuickBooks, customer_command

pytestmark = pytest.mark.nats


def seed_customers(company: Company, count: int, jobs_every: int = 0) -> None:
    """`count` customers "Customer 00001"...; every `jobs_every`-th gets a job under it."""
    with company.transaction():
        for n in range(1, count + 1):
            name = f"Customer {n:05d}"
            company.add_customer(
                CustomerDraft(
                    name=name,
                    phone=f"512-555-{n % 10000:04d}",
                    bill_address=Address(addr1=name, addr2=f"{n} Elm St", city="Austin"),
                )
            )
            if jobs_every and n % jobs_every == 0:
                company.add_customer(
                    CustomerDraft(name="Water heater", parent=RefSpec(full_name=name))
                )


@pytest.fixture
def company() -> Iterator[Company]:
    with Company(":memory:") as seeded:
        seed_contractor(seeded)
        yield seeded


async def _new_connection(gw: Gateway, name: str = "acme") -> None:
    await gw.add_connection(name, f"{name}-qbwc", "s3cret-pass")
    store = await ConnectionStore.open(gw.js)
    connection = await store.get(name)
    assert connection is not None
    await store.put(connection.model_copy(update={"onboarded": False}))


def _requests(message: etree._Element) -> list[etree._Element]:
    msgs = message.find("QBXMLMsgsRq")
    assert msgs is not None
    return list(msgs)


async def _session_reports(gw: Gateway, connection: str) -> list[SessionReport]:
    info = await gw.js.stream_info(QB_OUTCOMES.name)
    found = []
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        raw = await gw.js.get_msg(QB_OUTCOMES.name, seq)
        if raw.subject == f"qb.sessions.{connection}":
            found.append(SessionReport.model_validate_json(raw.data or b""))
    return found


@pytest.fixture
def gateway_settings() -> dict[str, Any]:
    return {"QBWC_CHANGES_EVERY_SECONDS": 0, "QBWC_COMPANY_PAGE_SIZE": 100}


async def test_a_new_connection_reads_every_list_with_iterators_and_posts_nothing(
    gateway: Gateway, company: Company
) -> None:
    seed_customers(company, 230, jobs_every=10)  # 230 customers and 23 jobs
    sim = SimQuickBooks(company)
    await _new_connection(gateway)
    # A ServiceTitan customer waits in the ledger meanwhile.
    await gateway.publish(customer_command("acme", 1001, "Customer 00001"))

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert log.auth[1] not in ("none", "nvu")  # there is work: the company file
    first = _requests(sim.messages[0])
    assert [(rq.tag, rq.get("iterator")) for rq in first] == [
        ("CustomerQueryRq", "Start"),
        ("VendorQueryRq", "Start"),
        ("ItemQueryRq", "Start"),
        ("AccountQueryRq", None),
        ("ClassQueryRq", None),
        ("TermsQueryRq", None),
        ("PaymentMethodQueryRq", None),
        ("SalesTaxCodeQueryRq", None),
    ]
    # 100 records a message, shared by the three iterators started in it.
    assert [rq.findtext("MaxReturned") for rq in first[:3]] == ["33", "33", "33"]
    continued = [rq for message in sim.messages[1:] for rq in _requests(message)]
    assert {rq.get("iterator") for rq in continued} == {"Continue"}
    assert all(rq.get("iteratorID", "").startswith("{") for rq in continued)
    # The vendors (7) and items fit in the first page; the customers take the other messages,
    # 100 records each: 253 - 33 = 220 -> 3 more messages.
    assert [len(_requests(m)) for m in sim.messages] == [8, 1, 1, 1]
    assert log.percents[-1] == 100
    assert not sim.requests("CustomerAddRq")
    assert log.closed == "Posted 0, failed 0, waiting 0, retrying 0"

    snapshot = await (await CompanyStore.open(gateway.js)).snapshot("acme")
    assert snapshot is not None
    assert snapshot.manifest.counts == {
        "customer": 253,
        "vendor": len(company.vendors()),
        "item": company.db.execute("SELECT count(*) FROM items").fetchone()[0],
        "account": len(company.accounts()),
        "class": len(company.classes()),
        "terms": len(company.terms()),
        "payment_method": len(company.payment_methods()),
        "sales_tax_code": 2,
    }
    assert snapshot.manifest.messages == 4
    customers = snapshot.entries("customer")
    assert sorted(c.list_id for c in customers) == sorted(
        c.core.list_id for c in company.customers()
    )
    job = next(c for c in customers if c.full_name == "Customer 00010:Water heater")
    parent = next(c for c in customers if c.full_name == "Customer 00010")
    assert (job.parent_id, job.sublevel, job.name) == (parent.list_id, 1, "Water heater")
    assert parent.address == ("Customer 00010", "10 Elm St")
    assert (parent.city, parent.phone) == ("Austin", "512-555-0010")
    items = {i.full_name: i for i in snapshot.entries("item")}
    assert (items["ST Sales Tax"].kind, items["ST Sales Tax"].tax_rate) == ("SalesTax", "8.25")
    assert items["Labor"].kind == "Service"
    accounts = {a.full_name: a for a in snapshot.entries("account")}
    assert accounts["Undeposited Funds"].kind == "OtherCurrentAsset"

    # The ledger's record stays queued: nothing posts until the review is confirmed, and the
    # next session says so, without counting the record as waiting.
    entries = await gateway.ledger("acme")
    assert [(e.entity, e.st_id, e.state, e.waited) for e in entries.values()] == [
        ("customer", 1001, "queued", 0)
    ]
    again = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)
    assert again.auth[1] == "none"
    assert len(sim.messages) == 4
    reports = await _session_reports(gateway, "acme")
    assert [(r.result, r.posted, r.waiting) for r in reports] == [("ok", 0, 0), ("none", 0, 0)]
    assert "mlconnector onboard acme" in (reports[-1].last_error or "")
    assert await gateway.outcomes("acme") == []


@pytest.mark.parametrize("gateway_settings", [{"QBWC_CHANGES_EVERY_SECONDS": 0}])  # 500 a page
async def test_onboarding_ten_thousand_customers_takes_a_bounded_number_of_round_trips(
    gateway: Gateway, company: Company
) -> None:
    seed_customers(company, 10_000)
    sim = SimQuickBooks(company)
    await _new_connection(gateway)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim, max_rounds=500)

    page = gateway.settings.qbwc_company_page_size
    round_trips = len(log.sent)
    # At most `page` iterated records a message, and never more messages than the records
    # need plus one for the first (which shares its page between three iterators).
    bound = math.ceil(10_000 / page) + 2
    print(
        f"\nonboarding read of 10,000 customers: {round_trips} Web Connector round trips "
        f"(pages of {page} records; bound {bound})"
    )
    assert round_trips <= bound
    assert log.percents[-1] == 100
    assert all(0 < p < 100 for p in log.percents[:-1])
    assert log.percents == sorted(log.percents)
    for message in sim.messages:
        assert sum(int(rq.findtext("MaxReturned") or 0) for rq in _requests(message)) <= page
    snapshot = await (await CompanyStore.open(gateway.js)).snapshot("acme")
    assert snapshot is not None
    assert snapshot.manifest.counts["customer"] == 10_000
    assert len({c.list_id for c in snapshot.entries("customer")}) == 10_000


async def test_a_read_whose_session_was_lost_starts_over_with_smaller_pages(
    gateway: Gateway, company: Company
) -> None:
    seed_customers(company, 150)
    sim = SimQuickBooks(company)
    await _new_connection(gateway)
    auth = await gateway.call("authenticate", "acme-qbwc", "s3cret-pass")
    ticket = auth[0]
    request = await gateway.send(ticket)
    assert request is not None
    # QuickBooks ran it but the Web Connector gave up before the answer came back: the next
    # scheduled update starts a new session.
    sim.process(request)

    log = await gateway.run_session("acme-qbwc", "s3cret-pass", sim)

    assert log.percents[-1] == 100
    restarted = _requests(sim.messages[1])
    assert [rq.get("iterator") for rq in restarted[:3]] == ["Start"] * 3
    assert restarted[0].findtext("MaxReturned") == "16"  # 50 a message now, in three
    store = await CompanyStore.open(gateway.js)
    snapshot = await store.snapshot("acme")
    assert snapshot is not None
    assert snapshot.manifest.page_size == 50
    assert snapshot.manifest.counts["customer"] == 150
    assert len(snapshot.entries("customer")) == 150
