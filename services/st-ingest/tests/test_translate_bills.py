"""ServiceTitan inventory bills (accounting export/inventory-bills) -> canonical `Bill`."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mlconnector.common.models import Bill, BillLine, GLAccount
from mlconnector.ingest.translate import TranslationError, translate_bill
from mlconnector.stsandbox.openapi import schema_errors

SAMPLE = json.loads((Path(__file__).parent / "samples" / "inventory-bill.json").read_text())
SCHEMA = "Accounting.V2.ExportInventoryBillResponse"
INVENTORY_ASSET = GLAccount(
    id=1300, name="Inventory Asset", number="1300", type="Other Current Asset"
)


def accounting(st_documents: Path) -> Path:
    return st_documents / "tenant-accounting-v2.json"


def test_sample_is_what_the_export_documents(st_documents: Path) -> None:
    assert schema_errors(accounting(st_documents), SCHEMA, SAMPLE) == []
    page = {"hasMore": True, "continueFrom": "abc", "data": [SAMPLE]}
    assert schema_errors(accounting(st_documents), f"ExportResponse_Of_{SCHEMA}", page) == []


def test_inventory_bill() -> None:
    assert translate_bill(SAMPLE) == Bill(
        st_id=6001,
        reference="FER-88231",
        vendor_st_id=7101,
        vendor_name="Ferguson Plumbing Supply",
        bill_date=dt.date(2025, 3, 13),
        due_date=dt.date(2025, 4, 12),
        total=Decimal("215.08"),
        tax=Decimal("15.48"),
        shipping=Decimal("12.00"),
        other=Decimal("0.00"),
        terms="Net 30",
        summary="Restock Truck 12: PVC pipe and ball valves",
        business_unit="Plumbing - Service",
        lines=(
            BillLine(
                st_id=61001,
                sku_name="PVC-075",
                # The documents mark it `format: html`: tags dropped, entities decoded.
                description='3/4" PVC pipe, 10 ft',
                quantity=Decimal("10"),
                cost=Decimal("14.20"),
                gl_account=INVENTORY_ASSET,
            ),
            BillLine(
                st_id=61002,
                sku_name="VLV-BALL-100",
                description='1" full-port brass ball valve',  # no description: the item name
                quantity=Decimal("4"),
                cost=Decimal("11.40"),
                gl_account=INVENTORY_ASSET,
            ),
        ),
        modified_on=dt.datetime(2025, 3, 14, 22, 20, tzinfo=dt.UTC),
    )


def test_amounts_are_kept_as_sent_for_the_mapper_to_check() -> None:
    raw = {**copy.deepcopy(SAMPLE), "shippingAmount": "13.00"}
    bill = translate_bill(raw)
    assert (bill.total, bill.shipping) == (Decimal("215.08"), Decimal("13.00"))


def test_items_follow_their_order_and_missing_amounts_are_zero(st_documents: Path) -> None:
    raw = copy.deepcopy(SAMPLE)
    raw["items"].reverse()
    raw.update(
        taxAmount=None,
        shippingAmount=None,
        otherAmount=None,
        billAmount="187.60",
        referenceNumber=None,
        billDate=None,
        termName=None,
        dueDate=None,
        landedCostMethod="None",
    )
    assert schema_errors(accounting(st_documents), SCHEMA, raw) == []
    bill = translate_bill(raw)
    assert [line.st_id for line in bill.lines] == [61001, 61002]
    assert (bill.tax, bill.shipping, bill.other) == (Decimal("0.00"),) * 3
    # No reference: the ServiceTitan id; no bill date: the date it was posted.
    assert (bill.reference, bill.bill_date) == ("6001", dt.date(2025, 3, 14))
    assert (bill.terms, bill.due_date) == (None, None)


@pytest.mark.parametrize("method", [1, 0, "None", "ByValue", "ByWeight", None])
def test_landed_cost_method_in_any_form_is_accepted_and_ignored(method: object) -> None:
    # Real data sends the enum as an integer (FACTS.md); nothing posted depends on it, so a
    # tenant's bills are not refused over it, whatever its form.
    raw = {**copy.deepcopy(SAMPLE), "landedCostMethod": method}
    assert translate_bill(raw) == translate_bill(SAMPLE)


def test_bill_with_integer_landed_cost_method_is_still_refused_for_bad_amounts() -> None:
    raw = {**copy.deepcopy(SAMPLE), "landedCostMethod": 1, "billAmount": "215,08"}
    with pytest.raises(TranslationError) as caught:
        translate_bill(raw)
    assert str(caught.value) == (
        "ServiceTitan bill 6001: field 'billAmount' is not an amount: '215,08'"
    )


Change = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("vendor"), "field 'vendor' is missing"),
        (lambda r: r["vendor"].update(name=" "), "field 'vendor.name' is empty"),
        (lambda r: r.update(billAmount="$215.08"), "field 'billAmount' is not an amount"),
        (lambda r: r.update(id="6001"), "field 'id' must be an integer id"),
        (lambda r: r["vendor"].update(id=7101.5), "field 'vendor.id' must be an integer id"),
        (lambda r: r.update(billAmount=None), "field 'billAmount' is missing"),
        (lambda r: r.update(taxAmount="n/a"), "field 'taxAmount' is not an amount: 'n/a'"),
        (
            lambda r: r.update(billDate=None, postDate=None),
            "field 'billDate' is missing (and so is postDate)",
        ),
        (lambda r: r.update(dueDate=20250412), "field 'dueDate' must be an ISO 8601 date-time"),
        (lambda r: r["items"][1].update(cost="11.4O"), "field 'items[1].cost' is not an amount"),
        (lambda r: r["items"][0].update(quantity=None), "field 'items[0].quantity' is missing"),
        (lambda r: r["items"][0].update(skuCode=30075), "field 'items[0].skuCode' must be text"),
        (
            lambda r: r["items"][0]["generalLedgerAccount"].update(id=None),
            "field 'items[0].generalLedgerAccount.id' is missing",
        ),
        (lambda r: r.update(termName=30), "field 'termName' must be text, got 30"),
    ],
)
def test_bad_bill_names_record_and_field(change: Change, message: str) -> None:
    raw = copy.deepcopy(SAMPLE)
    change(raw)
    with pytest.raises(TranslationError) as caught:
        translate_bill(raw)
    assert str(caught.value).startswith(f"ServiceTitan bill 6001: {message}")


def test_deleted_bill_is_read_inactive() -> None:
    assert translate_bill(SAMPLE).active is True
    assert translate_bill({**SAMPLE, "active": False}).active is False
