"""Onboarding a contractor who already has a QuickBooks company, every hop real.

The seeded company: 400 customers (some named with ServiceTitan's id suffix, some differing
from ServiceTitan only in case or "&"), 30 vendors, 150 SKU-named items among its own; a
ServiceTitan tenant (the sandbox) of 500 customers, 40 vendors, 200 pricebook SKUs, GL accounts,
business units and tax zones overlapping it, and four invoices. st-ingest, the mapper and the
gateway run as their own processes; the Web Connector and QuickBooks are simulated
(sims/quickbooks); the review is `mlconnector onboard`, as the operator runs it.

The plan's counts are exact; nothing is posted before the review is confirmed; afterwards no
customer or vendor is in QuickBooks twice and QuickBooks never answers 3100.
"""

from __future__ import annotations

import asyncio
import csv
import datetime as dt
import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import nats
import pytest

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Outcome
from mlconnector.common.idmap import IdMap
from mlconnector.common.streams import QB_COMMANDS, QB_OUTCOMES, ST_EVENTS, declare_all
from mlconnector.qbsim.company import Company, CustomerDraft, RefSpec, seed_contractor
from mlconnector.qbsim.driver import WebConnectorDriver
from mlconnector.stsandbox.catalog import (
    business_unit_json,
    gl_account_json,
    material_json,
    tax_zone_json,
)
from mlconnector.stsandbox.seed import (
    BU_HVAC,
    BU_PLUMBING,
    CUSTOMERS,
    DAY,
    INVOICES,
    MATERIALS_INCOME,
    SERVICE_INCOME,
    AddressSpec,
    CustomerSpec,
    GLAccountSpec,
    VendorSpec,
    customer_json,
    invoice_json,
    vendor_json,
)
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

from .conftest import StartService, free_port

pytestmark = [pytest.mark.e2e, pytest.mark.nats]

TENANT = "7654321"
PASSWORD = "onboarding-password-1"
MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")
WHEN = dt.datetime(2025, 3, 1, 12, 0, tzinfo=dt.UTC)

# ServiceTitan customer ids by how they meet the company.
EXACT = range(100001, 100201)  # 200: the same name
SUFFIX = range(100201, 100251)  # 50: "<name> #<id>" in QuickBooks
CASE = range(100251, 100301)  # 50: upper case in QuickBooks
AMP = range(100301, 100341)  # 40: "&" in QuickBooks, "and" in ServiceTitan
TWIN = range(100341, 100351)  # 10: QuickBooks has both "& Sons" and "and Sons"
NEW = range(100351, 100501)  # 150: not in QuickBooks


def _n(st_id: int, ids: range) -> int:
    return st_id - ids.start + 1


def st_customer_name(st_id: int) -> str:
    for ids, name in (
        (EXACT, "Exact Customer {:03d}"),
        (SUFFIX, "Suffixed Customer {:03d}"),
        (CASE, "Case Customer {:03d}"),
        (AMP, "Amp {:03d} and Sons Plumbing"),
        (TWIN, "TWIN {:03d} AND SONS"),
        (NEW, "New Customer {:03d}"),
    ):
        if st_id in ids:
            return name.format(_n(st_id, ids))
    raise AssertionError(st_id)


def seed_company(company: Company) -> None:
    seed_contractor(company)
    with company.transaction():
        for st_id in EXACT:
            company.add_customer(CustomerDraft(name=st_customer_name(st_id)))
        for st_id in SUFFIX:
            company.add_customer(CustomerDraft(name=f"{st_customer_name(st_id)} #{st_id}"))
        for st_id in CASE:
            company.add_customer(CustomerDraft(name=st_customer_name(st_id).upper()))
        for st_id in AMP:
            company.add_customer(CustomerDraft(name=f"Amp {_n(st_id, AMP):03d} & Sons Plumbing"))
        for st_id in TWIN:
            n = _n(st_id, TWIN)
            company.add_customer(CustomerDraft(name=f"Twin {n:03d} & Sons"))
            company.add_customer(CustomerDraft(name=f"Twin {n:03d} and Sons"))
        for n in range(1, 41):  # customers ServiceTitan does not have
            company.add_customer(CustomerDraft(name=f"Old Customer {n:03d}"))
        for n in range(1, 25):
            company.add_vendor(f"Supplier {n:02d}")
        materials = RefSpec(full_name="Materials Income")
        for n in range(1, 151):
            company.add_item("NonInventory", f"SKU-{n:03d}", account=materials)
        for n in range(151, 171):
            company.add_item("NonInventory", f"sku {n:03d}", account=materials)


def seed_servicetitan(sandbox: RunningSandbox) -> None:
    store = sandbox.store
    address = AddressSpec("1 Main St", "Austin", "TX", "78701")
    customers = [
        customer_json(
            CustomerSpec(
                st_id,
                st_customer_name(st_id),
                "Residential",
                address,
                st_id + 1_000_000,
                WHEN,
                WHEN,
            )
        )
        for st_id in range(100001, 100501)
    ]
    store.put_many("customers", customers)
    vendor_names = [f"Supplier {n:02d}" for n in range(1, 25)] + ["FERGUSON SUPPLY"]
    vendor_names += [f"New Supplier {n:02d}" for n in range(1, 15)] + ["Exact Customer 001"]
    vendors = [
        vendor_json(
            VendorSpec(
                200001 + k,
                name,
                ("Pat", "Lee", "", ""),
                AddressSpec("9 Supply Rd", "Austin", "TX", "78702"),
                "",
                "None",
                WHEN,
                WHEN,
            )
        )
        for k, name in enumerate(vendor_names)
    ]
    store.put_many("vendors", vendors)
    skus = [f"SKU-{n:03d}" for n in range(1, 171)] + [f"NEW-{n:03d}" for n in range(1, 31)]
    catalog = store.catalog
    catalog.put_many(
        "materials", [material_json(300001 + k, code, code) for k, code in enumerate(skus)]
    )
    labor = GLAccountSpec(5010, "Cost Of Labor", "5010", "Cost of Goods Sold", "CostOfLabor")
    catalog.put_many(
        "gl-accounts",
        [gl_account_json(spec) for spec in (SERVICE_INCOME, MATERIALS_INCOME, labor)],
    )
    catalog.put_many(
        "business-units",
        [business_unit_json(*BU_PLUMBING), business_unit_json(*BU_HVAC)],
    )
    catalog.put_many(
        "tax-zones",
        [
            tax_zone_json(31, "Travis County 8.25%", "8.25", sales_tax_item="ST Sales Tax"),
            tax_zone_json(32, "Round Rock 6.25%", "6.25", sales_tax_item="Round Rock Tax"),
        ],
    )
    # The demo day's first invoice, for four of the customers.
    template = invoice_json(INVOICES[0])
    invoices = []
    for k, customer_id in enumerate((100001, 100201, 100341, 100351), start=1):
        record = json.loads(json.dumps(template))
        record.update(
            id=900000 + k,
            referenceNumber=f"OB{k}",
            customer={"id": customer_id, "name": st_customer_name(customer_id)},
            location={"id": customer_id + 1_000_000, "name": st_customer_name(customer_id)},
            job={"id": 910000 + k, "number": f"J{k}", "type": "Service"},
        )
        for n, item in enumerate(record["items"], start=1):
            item["id"] = (900000 + k) * 10 + n
        invoices.append(record)
    store.put_many("invoices", invoices)
    assert CUSTOMERS  # the demo customers are not part of this tenant


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    settings = SandboxSettings(tenant=TENANT, seed="empty", page_size=200)
    with RunningSandbox(settings) as running:
        seed_servicetitan(running)
        yield running


@pytest.fixture
def company(tmp_path: Path) -> Iterator[Company]:
    with Company(tmp_path / "company.sqlite") as seeded:
        seed_company(seeded)
        yield seeded


async def _add_connection(nats_url: str) -> None:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await declare_all(js)
    connection = Connection.create("acme", TENANT, "acme-qb", PASSWORD)
    await (await ConnectionStore.open(js)).put(
        connection.model_copy(update={"onboarded": False, "sync_from": DAY - dt.timedelta(days=31)})
    )
    await nc.close()


async def _count(nats_url: str, stream: str, subject: str) -> int:
    nc = await nats.connect(nats_url)
    try:
        info = await nc.jetstream().stream_info(stream, subjects_filter=subject)
        return sum((info.state.subjects or {}).values())
    finally:
        await nc.close()


async def _outcomes(nats_url: str) -> list[Outcome]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    found: list[Outcome] = []
    try:
        info = await js.stream_info(QB_OUTCOMES.name)
        for seq in range(info.state.first_seq, info.state.last_seq + 1):
            raw = await js.get_msg(QB_OUTCOMES.name, seq)
            if raw.subject == "qb.outcomes.acme":
                found.append(Outcome.model_validate_json(raw.data or b""))
    finally:
        await nc.close()
    return found


async def _customer_ids(nats_url: str) -> dict[int, str]:
    nc = await nats.connect(nats_url)
    try:
        id_map = await IdMap.open(nc.jetstream())
        found = await id_map.get_many("acme", [("customer", n, "") for n in range(100001, 100501)])
        return {st_id: mapping.qb_id for (_, st_id, _), mapping in found.items()}
    finally:
        await nc.close()


def _wait(what: str, check: Any, seconds: float = 120.0) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        assert time.monotonic() < deadline, f"{what} did not happen in {seconds:.0f} s"
        time.sleep(0.5)


def _onboard(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLCONNECTOR, "onboard", "acme", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_onboarding_a_company_with_its_own_lists_posts_nothing_twice(
    nats_url: str,
    tmp_path: Path,
    start_service: StartService,
    sandbox: RunningSandbox,
    company: Company,
) -> None:
    asyncio.run(_add_connection(nats_url))
    base = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path / "home")}
    st_env = {
        "ST_API_BASE_URL": sandbox.url,
        "ST_AUTH_URL": sandbox.url,
        "ST_CLIENT_ID": "sandbox-client",
        "ST_CLIENT_SECRET": "sandbox-secret",
        "ST_APP_KEY": "sandbox-app-key",
        "ST_TENANT": TENANT,
    }
    gateway_port = free_port()
    gateway_url = f"http://127.0.0.1:{gateway_port}/qbwc"
    start_service("mapper", "mlconnector-mapper", base, None)
    start_service(
        "qbwc-gateway",
        "mlconnector-qbwc-gateway",
        {
            **base,
            "QBWC_PORT": str(gateway_port),
            "QBWC_PUBLIC_URL": gateway_url,
            "QBWC_CHANGES_EVERY_SECONDS": "0",
        },
        f"http://127.0.0.1:{gateway_port}/healthz",
    )
    ingest_port = free_port()
    start_service(
        "st-ingest",
        "mlconnector-st-ingest",
        {**base, **st_env, "INGEST_PORT": str(ingest_port), "ST_POLL_SECONDS": "1"},
        f"http://127.0.0.1:{ingest_port}/healthz",
    )
    _wait(
        "500 customers, 40 vendors and 4 invoices mapped to commands",
        lambda: asyncio.run(_count(nats_url, QB_COMMANDS.name, "qb.commands.acme")) >= 544,
    )
    assert asyncio.run(_count(nats_url, ST_EVENTS.name, f"st.events.{TENANT}.customer")) == 500

    driver = WebConnectorDriver(gateway_url, "acme-qb", PASSWORD, company, timeout=120)
    customers_before = {c.core.list_id for c in company.customers()}
    vendors_before = len(company.vendors())

    # 1. The first session reads the company; the next has nothing to do: nothing posts.
    reading = driver.run_cycle()
    assert reading.errors == []
    assert reading.percent == 100
    idle = driver.run_cycle()
    assert idle.auth == "none"
    queried = {r.response_type for r in reading.requests}
    assert not any(t.endswith("AddRs") or t.endswith("ModRs") for t in queried)
    assert {c.core.list_id for c in company.customers()} == customers_before
    assert company.invoices() == []
    assert asyncio.run(_outcomes(nats_url)) == []

    # 2. The review, as the operator sees it.
    env = {**os.environ, **base, **st_env}
    shown = _onboard(env, "--json")
    assert shown.returncode == 0, shown.stderr
    plan = json.loads(shown.stdout)
    assert plan["state"] == "draft"
    assert plan["company"]["counts"]["customer"] == 400
    assert plan["counts"] == {
        "customer": {"matched": 340, "create": 150, "ambiguous": 10},
        "vendor": {"matched": 25, "create": 15},
        "item": {"matched": 170, "missing": 30},
        "account": {"matched": 2, "missing": 1},
        "business_unit": {"matched": 2},
        "tax_zone": {"matched": 2},
    }
    reasons = {m["key"]: m for m in plan["sections"]["customer"]}
    assert reasons["customer:100201"]["quickbooks"]["reason"] == (
        "named with its ServiceTitan id #100201"
    )
    assert reasons["customer:100251"]["quickbooks"]["confidence"] == 0.9
    assert reasons["customer:100301"]["quickbooks"]["name"] == "Amp 001 & Sons Plumbing"
    twin = reasons["customer:100341"]
    assert sorted(c["name"] for c in twin["candidates"]) == ["Twin 001 & Sons", "Twin 001 and Sons"]
    vendors = {m["servicetitan_name"]: m for m in plan["sections"]["vendor"]}
    assert vendors["Exact Customer 001"]["create_as"] == "Exact Customer 001 #200040"
    assert vendors["FERGUSON SUPPLY"]["quickbooks"]["name"] == "Ferguson Supply"
    refused = _onboard(env, "--confirm")
    assert refused.returncode == 2
    assert refused.stderr.startswith("Error: 10 record(s) are still ambiguous (customer:100341")
    assert refused.stderr.count("\n") == 1

    # 3. Choices from a CSV the operator filled in, then confirmed.
    exported = tmp_path / "review.csv"
    assert _onboard(env, "--export-csv", str(exported)).returncode == 0
    rows = list(csv.DictReader(io.StringIO(exported.read_text())))
    assert len(rows) == 500 + 40 + 200 + 3 + 2 + 2
    for row in rows:
        if row["status"] == "ambiguous":
            n = int(row["servicetitan_id"]) - TWIN.start + 1
            row["choice"] = f"Twin {n:03d} & Sons" if n <= 5 else "create"
    filled = tmp_path / "choices.csv"
    with filled.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    confirmed = _onboard(env, "--csv", str(filled), "--confirm")
    assert confirmed.returncode == 0, confirmed.stderr
    assert "10 choice(s) recorded." in confirmed.stdout
    assert "Confirmed the review of acme: linked" in confirmed.stdout

    # 4. Posting: the matched customers are linked, the others added once, named clear of
    # what QuickBooks has.
    reports = []
    for _ in range(10):
        report = driver.run_cycle()
        reports.append(report)
        if report.auth == "none":
            break
    assert reports[-1].auth == "none"
    assert reports[0].close_message == "Posted 544, failed 0, waiting 0, retrying 0"
    statuses = [r.status_code for report in reports for r in report.requests]
    assert 3100 not in statuses
    outcomes = asyncio.run(_outcomes(nats_url))
    assert [o for o in outcomes if o.status == "failed"] == []
    assert [o for o in outcomes if o.status_code == 3100] == []
    added = [c for c in company.customers() if c.core.list_id not in customers_before]
    assert len(added) == 150 + 5
    assert len(company.vendors()) == vendors_before + 15
    assert "Exact Customer 001 #200040" in {v.name for v in company.vendors()}
    assert sorted(c.name for c in added if "TWIN" in c.name) == [
        f"TWIN {n:03d} AND SONS #{TWIN.start + n - 1}" for n in range(6, 11)
    ]
    ids = asyncio.run(_customer_ids(nats_url))
    assert len(ids) == 500
    assert len(set(ids.values())) == 500  # no QuickBooks customer stands for two
    by_id = {c.core.list_id: c.full_name for c in company.customers()}
    assert by_id[ids[100001]] == "Exact Customer 001"
    assert by_id[ids[100201]] == "Suffixed Customer 001 #100201"
    assert by_id[ids[100341]] == "Twin 001 & Sons"
    assert by_id[ids[100351]] == "New Customer 001"
    linked = [o for o in outcomes if o.entity == "customer" and o.status == "posted"]
    assert sum(1 for o in linked if o.status_message.startswith("linked at onboarding")) == 345
    invoices = {i.ref_number: i for i in company.invoices()}
    assert sorted(invoices) == ["OB1", "OB2", "OB3", "OB4"]
    assert invoices["OB1"].customer.list_id == ids[100001]
    assert invoices["OB2"].customer.list_id == ids[100201]
    assert invoices["OB3"].customer.list_id == ids[100341]
    assert invoices["OB4"].customer.list_id == ids[100351]
    assert {i.subtotal + i.sales_tax_total for i in invoices.values()} == {Decimal("408.05")}
