"""ServiceTitan inventory bill (accounting export/inventory-bills) -> canonical `Bill`.

Fields follow `Accounting.V2.ExportInventoryBillResponse`: `vendor {id, name}`,
`referenceNumber`, `billDate` / `postDate`, `dueDate`, `termName`, `summary`, `billAmount`,
`taxAmount`, `shippingAmount`, `otherAmount` and `items[]`
(`Accounting.V2.InventoryBillItemResponse`: `id`, `order`, `skuCode`, `name`, `description`,
`quantity`, `cost` (per unit; `fullyLandedUnitCost` adds the allocated costs), and the GL
accounts). Items carry no `skuName`: the SKU is `skuCode`.

Amounts are kept as sent; whether the items, tax, shipping and other charges add up to
`billAmount` is the mapper's check (it posts per-line rounding cents to the rounding account
and refuses a larger difference).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from mlconnector.common.models import Bill, BillLine
from mlconnector.ingest.translate_base import Reader

ZERO = Decimal("0.00")
# `landedCostMethod` (Inventory.Types.LandedCostMethod, "None" / "ByValue") is deliberately not
# read: real data sends it as an integer too (FACTS.md), and it only says how ServiceTitan
# spread tax and shipping over the items' landed costs. Nothing we post depends on it (the
# bill's own tax and shipping amounts are posted), so refusing a bill over its form would stop
# a tenant's every bill for nothing. Amounts, ids and dates are what is checked.


def _line(r: Reader, path: str, item: dict[str, Any]) -> BillLine:
    description = r.html_text(item, "description", f"{path}.description")
    return BillLine(
        st_id=r.integer(item, "id", f"{path}.id"),
        sku_name=r.text(item, "skuCode", f"{path}.skuCode"),
        description=description or r.text(item, "name", f"{path}.name", required=False),
        quantity=r.money(item, "quantity", f"{path}.quantity"),
        cost=r.money(item, "cost", f"{path}.cost"),
        gl_account=r.gl_account(item, "generalLedgerAccount", f"{path}.generalLedgerAccount"),
    )


def translate_bill(raw: Any) -> Bill:
    r = Reader("bill", raw)
    data = r.raw
    st_id = r.integer(data, "id", "id")
    vendor = r.required_obj(data, "vendor", "vendor")
    # The vendor's bill date; the date it was posted in ServiceTitan when that is missing.
    bill_date = r.first_timestamp(data, "billDate", "postDate")
    business_unit = r.obj(data, "businessUnit", "businessUnit") or {}
    due = r.timestamp(data, "dueDate", "dueDate", required=False)
    lines = tuple(_line(r, path, item) for path, item in r.items(data, "items", "items"))
    total = r.money(data, "billAmount", "billAmount")
    tax = r.money(data, "taxAmount", "taxAmount", default=ZERO)
    shipping = r.money(data, "shippingAmount", "shippingAmount", default=ZERO)
    other = r.money(data, "otherAmount", "otherAmount", default=ZERO)
    try:
        return Bill(
            st_id=st_id,
            reference=r.text(data, "referenceNumber", "referenceNumber", required=False)
            or str(st_id),
            vendor_st_id=r.integer(vendor, "id", "vendor.id"),
            vendor_name=r.text(vendor, "name", "vendor.name"),
            bill_date=bill_date.date(),
            due_date=due.date() if due else None,
            total=total,
            tax=tax,
            shipping=shipping,
            other=other,
            terms=r.text(data, "termName", "termName", required=False) or None,
            summary=r.html_text(data, "summary", "summary"),
            business_unit=r.text(business_unit, "name", "businessUnit.name", required=False)
            or None,
            lines=lines,
            active=r.boolean(data, "active", "active", default=True),
            modified_on=r.timestamp(data, "modifiedOn", "modifiedOn", required=False),
        )
    except ValidationError as exc:
        raise r.invalid(exc) from exc
