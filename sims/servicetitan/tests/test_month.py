"""The chaos test's month: sizes, determinism, ServiceTitan's shapes, consistency to the cent."""

from __future__ import annotations

import copy
import json
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import httpx
import pytest

from mlconnector.stsandbox.month import (
    ROUND_ROCK,
    TRAVIS,
    Change,
    Month,
    MonthSize,
    generate_month,
    month_store,
)
from mlconnector.stsandbox.openapi import DOCUMENTS_DIR, schema_errors
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

ACCOUNTING = DOCUMENTS_DIR / "tenant-accounting-v2.json"
SCHEMAS: dict[str, tuple[str, str]] = {
    "customers": ("tenant-crm-v2.json", "Crm.V2.ExportCustomerResponse"),
    "vendors": ("tenant-inventory-v2.json", "Inventory.V2.VendorResponse"),
    "invoices": ("tenant-accounting-v2.json", "Accounting.V2.ExportInvoiceResponse"),
    "payments": ("tenant-accounting-v2.json", "Accounting.V2.ExportPaymentResponse"),
    "inventory-bills": ("tenant-accounting-v2.json", "Accounting.V2.ExportInventoryBillResponse"),
}
RATES = {31: Decimal("8.25"), 32: Decimal("6.25")}
SEEDS = (7, 8, 1234)


@pytest.fixture(scope="module", params=SEEDS)
def full_month(request: pytest.FixtureRequest) -> Month:
    return generate_month(request.param)


# Every month (the full ones, and the reduced one CI's chaos test syncs) is shaped and
# consistent the same way.
@pytest.fixture(scope="module", params=[*SEEDS, "small"])
def month(request: pytest.FixtureRequest) -> Month:
    if request.param == "small":
        return generate_month(7, MonthSize.small())
    return generate_month(request.param)


def snapshots(month: Month) -> list[dict[str, dict[int, dict[str, Any]]]]:
    """ServiceTitan's state after loading, after the edits while waiting, after `later`."""
    state = {
        entity: {int(r["id"]): r for r in records} for entity, records in month.records().items()
    }
    out = [copy.deepcopy(state)]
    for changes in (month.waiting_edits, month.later):
        for change in changes:
            state[change.entity][int(change.record["id"])] = change.record
        out.append(copy.deepcopy(state))
    return out


def d(value: Any) -> Decimal:
    return Decimal(str(value))


def test_a_contractors_month_has_what_the_chaos_test_needs(full_month: Month) -> None:
    month = full_month
    assert len(month.customers) >= 80
    assert len(month.vendors) >= 20
    assert len(month.invoices) >= 150
    assert len(month.payments) >= 120
    assert len(month.bills) >= 30
    invoices = month.invoices
    assert {i["taxZoneId"] for i in invoices} == {31, 32}
    adjustments = [i for i in invoices if i["adjustmentToId"] is not None]
    assert len(adjustments) == 8
    assert all(d(i["total"]) < 0 for i in adjustments)
    refunds = [i for i in invoices if d(i["total"]) < 0 and i["adjustmentToId"] is None]
    assert len(refunds) == 2
    assert sum(1 for i in invoices if not i["active"]) == 2  # voided before first seen
    kinds = [(c.entity, c.kind) for c in month.waiting_edits]
    assert kinds.count(("invoices", "edit")) == 10
    assert kinds.count(("customers", "edit")) == 3
    later = [(c.entity, c.kind) for c in month.later]
    assert later.count(("invoices", "edit")) == 8
    assert later.count(("invoices", "void")) == 4
    assert later.count(("payments", "void")) == 2
    assert [zone["id"] for zone in month.tax_zones] == [TRAVIS.id, ROUND_ROCK.id]


def test_the_reduced_month_has_every_kind_of_record_and_change_fewer_of_each() -> None:
    size = MonthSize.small()
    month = generate_month(7, size)
    records = month.records()
    assert [len(records[e]) for e in ("customers", "vendors", "inventory-bills")] == [24, 6, 8]
    invoices = month.invoices
    assert len(invoices) == 36 + 3 + 1
    assert {i["taxZoneId"] for i in invoices} == {31, 32}
    assert sum(1 for i in invoices if i["adjustmentToId"] is not None) == 3
    assert sum(1 for i in invoices if not i["active"]) == 1
    assert len(month.payments) >= 25
    kinds = [(c.entity, c.kind) for c in (*month.waiting_edits, *month.later)]
    assert sorted(set(kinds)) == [
        ("customers", "edit"),
        ("invoices", "edit"),
        ("invoices", "void"),
        ("payments", "edit"),
        ("payments", "void"),
    ]
    assert kinds.count(("invoices", "edit")) == 4 + 3
    # The first version of the full month is the one it always was: sizes change nothing else.
    assert generate_month(7).records() == generate_month(7, MonthSize()).records()
    with pytest.raises(ValueError, match="vendors must be 1 to 20"):
        MonthSize(vendors=21)


def test_the_same_seed_gives_the_same_month_byte_for_byte() -> None:
    def dump(month: Month) -> str:
        changes = [(c.entity, c.kind, c.record) for c in (*month.waiting_edits, *month.later)]
        return json.dumps([month.records(), month.tax_zones, changes], sort_keys=True)

    assert dump(generate_month(7)) == dump(generate_month(7))
    assert dump(generate_month(7)) != dump(generate_month(8))


def test_every_version_is_shaped_as_servicetitans_documents_say(month: Month) -> None:
    versions: list[tuple[str, dict[str, Any]]] = [
        (entity, record) for entity, records in month.records().items() for record in records
    ]
    versions += [(c.entity, c.record) for c in (*month.waiting_edits, *month.later)]
    for entity, record in versions:
        document, schema = SCHEMAS[entity]
        assert schema_errors(DOCUMENTS_DIR / document, schema, record) == [], (entity, record["id"])
    for zone in month.tax_zones:
        assert schema_errors(ACCOUNTING, "Accounting.V2.TaxZoneResponse", zone) == []


def test_every_snapshot_is_consistent_to_the_cent(month: Month) -> None:
    for state in snapshots(month):
        invoices = state["invoices"]
        covered = {invoice_id: Decimal("0.00") for invoice_id in invoices}
        for invoice in invoices.values():
            lines = invoice["items"]
            assert sum((d(item["total"]) for item in lines), Decimal(0)) == d(invoice["subTotal"])
            for item in lines:
                assert d(item["quantity"]) * d(item["price"]) == d(item["total"])
            taxable = sum((d(item["total"]) for item in lines if item["taxable"]), Decimal(0))
            rate = RATES[invoice["taxZoneId"]]
            tax = (taxable * rate / 100).quantize(Decimal("0.01"), ROUND_HALF_UP)
            assert d(invoice["salesTax"]) == tax
            assert d(invoice["subTotal"]) + tax == d(invoice["total"])
            target = invoice["adjustmentToId"]
            if target is not None and invoice["active"]:
                original = invoices[target]
                assert original["customer"] == invoice["customer"]
                assert original["taxZoneId"] == invoice["taxZoneId"]
                covered[target] -= d(invoice["total"])
        for payment in state["payments"].values():
            applied = sum((d(a["appliedAmount"]) for a in payment["appliedTo"]), Decimal(0))
            assert applied + d(payment["unappliedAmount"]) == d(payment["total"])
            if payment["active"]:
                for application in payment["appliedTo"]:
                    covered[application["appliedTo"]] += d(application["appliedAmount"])
        for invoice_id, amount in covered.items():
            invoice = invoices[invoice_id]
            if amount:
                assert invoice["active"], invoice_id  # nothing pays a voided invoice
            assert amount <= d(invoice["total"]) or d(invoice["total"]) < 0, invoice_id
        for bill in state["inventory-bills"].values():
            items = sum(
                (d(i["cost"]) * d(i["quantity"]) for i in bill["items"]), Decimal(0)
            ).quantize(Decimal("0.01"))
            assert items + d(bill["taxAmount"]) + d(bill["shippingAmount"]) == d(bill["billAmount"])


def test_the_books_are_servicetitans_final_state(month: Month) -> None:
    final = snapshots(month)[-1]
    books = month.books()
    assert set(books.invoices) == set(final["invoices"])
    for invoice_id, expected in books.invoices.items():
        invoice = final["invoices"][invoice_id]
        if not invoice["active"]:
            assert (expected.voided, expected.total, expected.balance) == (True, 0, 0)
            continue
        sign = -1 if d(invoice["total"]) < 0 else 1
        assert expected.total == d(invoice["total"]) * sign
        assert expected.kind == ("credit memo" if sign < 0 else "invoice")
        assert expected.tax_item == (
            "Round Rock Tax" if invoice["taxZoneId"] == 32 else "ST Sales Tax"
        )
        assert Decimal(0) <= expected.balance <= expected.total
    paid = {p["id"]: d(p["total"]) for p in final["payments"].values() if p["active"]}
    assert books.payments == paid
    assert len(books.deleted_payments) == sum(
        1 for c in month.later if (c.entity, c.kind) == ("payments", "void")
    )
    assert books.bills == {b["id"]: d(b["billAmount"]) for b in final["inventory-bills"].values()}
    # Adjusted invoices end paid in full: payments cover the net, the credit memo the rest.
    for expected in books.invoices.values():
        if expected.kind == "credit memo" and final["invoices"][expected.st_id]["adjustmentToId"]:
            assert expected.balance == 0


def test_loading_then_changing_at_a_chosen_moment() -> None:
    store, month = month_store(7, page_size=500)
    first = store.export("invoices", None)
    assert len(first["data"]) == len(month.invoices)
    assert first["hasMore"] is False
    month.apply_waiting_edits(store)
    edited = store.export("invoices", first["continueFrom"])
    assert [r["id"] for r in edited["data"]] == [
        c.record["id"] for c in month.waiting_edits if c.entity == "invoices"
    ]
    month.apply_later(store)
    voided = [c.record["id"] for c in month.later if c.kind == "void" and c.entity == "invoices"]
    assert all(store.get("invoices", i)["active"] is False for i in voided)  # type: ignore[index]
    later = store.export("payments", store.export("payments", None)["continueFrom"])
    assert later["data"] == []  # page size 500: the first page held everything
    assert isinstance(month.later[0], Change)


def test_the_running_sandbox_serves_the_month_through_its_export() -> None:
    """As the chaos test drives it: an empty sandbox, the month loaded, then the changes."""
    month = generate_month(7)
    with (
        RunningSandbox(SandboxSettings(seed="empty", page_size=5000)) as sandbox,
        httpx.Client(base_url=sandbox.url, timeout=10) as http,
    ):
        month.load(sandbox.store)
        token = http.post(
            "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            },
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "ST-App-Key": "sandbox-app-key"}
        path = "/accounting/v2/tenant/1234567/export/invoices"
        first = http.get(path, headers=headers).json()
        assert len(first["data"]) == len(month.invoices)
        month.apply_waiting_edits(sandbox.store)
        month.apply_later(sandbox.store)
        changed = http.get(path, params={"from": first["continueFrom"]}, headers=headers).json()
        changes = (*month.waiting_edits, *month.later)
        invoices = [c.record["id"] for c in changes if c.entity == "invoices"]
        assert [r["id"] for r in changed["data"]] == invoices
        payments = http.get(
            "/accounting/v2/tenant/1234567/export/payments", headers=headers
        ).json()["data"]
        assert sum(1 for p in payments if not p["active"]) == 2
