"""ServiceTitan export JSON -> canonical records (`Party`, `Invoice`, `Payment`, `Bill`).

Real ServiceTitan data deviates from its documents in places, so every field we rely on is
checked and a bad record raises `TranslationError` naming the record and the field; the poller
reports it and carries on with the rest of the feed.

Customers and invoices live here; payments, inventory bills and vendors have their own modules
(re-exported below). `TRANSLATORS` maps each canonical entity to its translation and
`guess_entity` tells a record's entity from its shape (the operator's `mlconnector map`).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from mlconnector.common.models import EntityName, GLAccount, Invoice, InvoiceLine, Party, Record
from mlconnector.ingest.translate_base import Reader, TranslationError, version_of
from mlconnector.ingest.translate_bills import translate_bill
from mlconnector.ingest.translate_payments import translate_payment
from mlconnector.ingest.translate_vendors import translate_vendor

__all__ = [
    "ENTITY_MARKERS",
    "TRANSLATORS",
    "TranslationError",
    "guess_entity",
    "translate",
    "translate_bill",
    "translate_customer",
    "translate_invoice",
    "translate_payment",
    "translate_vendor",
    "version_of",
]

# The name this module used before the reader moved to translate_base.
_Reader = Reader


def translate_customer(raw: Any) -> Party:
    r = Reader("customer", raw)
    try:
        return Party(
            kind="customer",
            st_id=r.integer(r.raw, "id", "id"),
            name=r.text(r.raw, "name", "name"),
            active=r.boolean(r.raw, "active", "active", default=True),
            address=r.address(r.raw, "address", "address"),
            modified_on=r.timestamp(r.raw, "modifiedOn", "modifiedOn", required=False),
        )
    except ValidationError as exc:
        raise r.invalid(exc) from exc


def _gl_account(r: Reader, item: dict[str, Any], path: str) -> GLAccount | None:
    return r.gl_account(item, "generalLedgerAccount", f"{path}.generalLedgerAccount")


def _line(r: Reader, path: str, item: dict[str, Any]) -> InvoiceLine:
    quantity = r.money(item, "quantity", f"{path}.quantity")
    price = r.money(item, "price", f"{path}.price")
    total = r.money(item, "total", f"{path}.total")
    business_unit = r.obj(item, "businessUnit", f"{path}.businessUnit")
    description = r.text(item, "description", f"{path}.description", required=False)
    return InvoiceLine(
        st_id=r.integer(item, "id", f"{path}.id"),
        sku_name=r.text(item, "skuName", f"{path}.skuName"),
        description=description
        or r.text(item, "displayName", f"{path}.displayName", required=False),
        quantity=quantity,
        price=price,
        total=total,
        taxable=r.boolean(item, "taxable", f"{path}.taxable", default=False),
        gl_account=_gl_account(r, item, path),
        business_unit=(business_unit or {}).get("name") or None,
    )


def _optional_id(r: Reader, data: dict[str, Any], key: str) -> int | None:
    return r.integer(data, key, key) if data.get(key) is not None else None


def translate_invoice(raw: Any) -> Invoice:
    r = Reader("invoice", raw)
    data = r.raw
    customer = r.required_obj(data, "customer", "customer")
    invoice_date = r.timestamp(data, "invoiceDate", "invoiceDate")
    assert invoice_date is not None
    due = r.timestamp(data, "dueDate", "dueDate", required=False)
    lines = tuple(_line(r, path, item) for path, item in r.items(data, "items", "items"))
    subtotal = r.money(data, "subTotal", "subTotal")
    sales_tax = r.money(data, "salesTax", "salesTax")
    total = r.money(data, "total", "total")
    # An invoice that does not add up would post wrong books: refuse it, loudly.
    if subtotal + sales_tax != total:
        raise r.fail("total", f"{total} is not subTotal {subtotal} + salesTax {sales_tax}")
    line_sum = sum((line.total for line in lines), Decimal(0))
    if lines and line_sum != subtotal:
        raise r.fail("subTotal", f"{subtotal} differs from the sum of item totals {line_sum}")
    number = r.text(data, "referenceNumber", "referenceNumber", required=False)
    business_unit = r.obj(data, "businessUnit", "businessUnit")
    location = r.obj(data, "location", "location")
    try:
        return Invoice(
            st_id=r.integer(data, "id", "id"),
            number=number or str(data.get("id")),
            customer_st_id=r.integer(customer, "id", "customer.id"),
            customer_name=r.text(customer, "name", "customer.name"),
            location_st_id=r.integer(location, "id", "location.id") if location else None,
            location_name=(
                r.text(location, "name", "location.name", required=False) or None
                if location
                else None
            ),
            invoice_date=invoice_date.date(),
            due_date=due.date() if due else None,
            subtotal=subtotal,
            sales_tax=sales_tax,
            total=total,
            summary=r.text(data, "summary", "summary", required=False),
            business_unit=(business_unit or {}).get("name") or None,
            terms=r.text(data, "termName", "termName", required=False) or None,
            bill_to=r.address(data, "customerAddress", "customerAddress"),
            ship_to=r.address(data, "locationAddress", "locationAddress"),
            lines=lines,
            sync_status=r.text(data, "syncStatus", "syncStatus", required=False) or None,
            active=r.boolean(data, "active", "active", default=True),
            modified_on=r.timestamp(data, "modifiedOn", "modifiedOn", required=False),
            # Accounting.V2.ExportInvoiceResponse: both int64 or null.
            tax_zone_id=_optional_id(r, data, "taxZoneId"),
            adjustment_to_id=_optional_id(r, data, "adjustmentToId"),
        )
    except ValidationError as exc:
        raise r.invalid(exc) from exc


TRANSLATORS: dict[EntityName, Callable[[Any], Record]] = {
    "customer": translate_customer,
    "vendor": translate_vendor,
    "invoice": translate_invoice,
    "payment": translate_payment,
    "bill": translate_bill,
}

# Fields only that entity's ServiceTitan schema has (among the five we read):
# Crm.V2.ExportCustomerResponse, Inventory.V2.VendorResponse, Accounting.V2.InvoiceResponse,
# Accounting.V2.ExportPaymentResponse and Accounting.V2.ExportInventoryBillResponse.
ENTITY_MARKERS: dict[EntityName, frozenset[str]] = {
    "customer": frozenset(
        {"doNotMail", "doNotService", "nationalAccount", "creditLimit", "taxExempt", "mergedToId"}
    ),
    "vendor": frozenset(
        {
            "isTruckReplenishment",
            "isMobileCreationRestricted",
            "deliveryOption",
            "defaultTaxRate",
            "contactInfo",
        }
    ),
    "invoice": frozenset(
        {"invoiceDate", "subTotal", "salesTax", "salesTaxCode", "invoiceConfiguration"}
    ),
    "payment": frozenset(
        {"appliedTo", "unappliedAmount", "authCode", "checkNumber", "typeId", "refundedPaymentId"}
    ),
    "bill": frozenset(
        {
            "billAmount",
            "landedCostMethod",
            "shippingAmount",
            "otherAmount",
            "purchaseOrderId",
            "vendorNumber",
        }
    ),
}


def guess_entity(raw: Any) -> list[EntityName]:
    """The entities whose ServiceTitan shape this record has (exactly one when it is clear)."""
    if not isinstance(raw, dict):
        return []
    keys = set(raw)
    return [entity for entity, markers in ENTITY_MARKERS.items() if keys & markers]


def translate(entity: EntityName, raw: Any) -> Record:
    return TRANSLATORS[entity](raw)
