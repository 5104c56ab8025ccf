"""Canonical records: what st-ingest publishes and the mapper translates.

They keep ServiceTitan's ids and amounts exactly; names follow accounting, not any one API.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlconnector.common.money import Money

# ServiceTitan ids are int64 in every one of its documents (`"format": "int64"`); Python's int
# holds them exactly, and this bound refuses what no ServiceTitan id can be.
INT64_MAX = 2**63 - 1
StId = Annotated[int, Field(ge=0, le=INT64_MAX)]

EntityName = Literal["customer", "vendor", "invoice", "payment", "bill"]


class Canonical(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class Address(Canonical):
    street: str = ""
    unit: str = ""
    city: str = ""
    state: str = ""
    zip: str = ""
    country: str = ""


class GLAccount(Canonical):
    id: StId | None = None
    name: str
    number: str | None = None
    type: str | None = None


class Party(Canonical):
    """A customer or vendor."""

    kind: Literal["customer", "vendor"]
    st_id: StId
    name: str
    active: bool = True
    email: str | None = None
    phone: str | None = None
    address: Address | None = None
    modified_on: dt.datetime | None = None


class InvoiceLine(Canonical):
    st_id: StId
    sku_name: str
    description: str = ""
    quantity: Money
    price: Money
    total: Money
    taxable: bool = False
    gl_account: GLAccount | None = None
    business_unit: str | None = None


class Invoice(Canonical):
    kind: Literal["invoice"] = "invoice"
    st_id: StId
    number: str
    customer_st_id: StId
    customer_name: str
    location_st_id: StId | None = None
    location_name: str | None = None
    invoice_date: dt.date
    due_date: dt.date | None = None
    subtotal: Money
    sales_tax: Money
    total: Money
    summary: str = ""
    business_unit: str | None = None
    terms: str | None = Field(default=None, description="ServiceTitan termName")
    bill_to: Address | None = None
    ship_to: Address | None = None
    lines: tuple[InvoiceLine, ...]
    sync_status: str | None = None
    active: bool = Field(default=True, description="false: voided or deleted in ServiceTitan")
    modified_on: dt.datetime | None = None
    tax_zone_id: int | None = Field(
        default=None, description="ServiceTitan taxZoneId: the tax zone whose rate it charged"
    )
    adjustment_to_id: int | None = Field(
        default=None,
        description="ServiceTitan adjustmentToId: the invoice this adjustment invoice adjusts",
    )


class PaymentApplication(Canonical):
    invoice_st_id: StId
    amount: Money


class Payment(Canonical):
    kind: Literal["payment"] = "payment"
    st_id: StId
    customer_st_id: StId
    customer_name: str
    payment_date: dt.date
    reference: str = ""
    payment_type: str = ""
    total: Money
    unapplied: Money
    memo: str = ""
    applications: tuple[PaymentApplication, ...]
    active: bool = Field(default=True, description="false: voided or deleted in ServiceTitan")
    modified_on: dt.datetime | None = None


class BillLine(Canonical):
    st_id: StId
    sku_name: str
    description: str = ""
    quantity: Money
    cost: Money
    gl_account: GLAccount | None = None


class Bill(Canonical):
    kind: Literal["bill"] = "bill"
    st_id: StId
    reference: str
    vendor_st_id: StId
    vendor_name: str
    bill_date: dt.date
    due_date: dt.date | None = None
    total: Money
    tax: Money
    shipping: Money
    other: Money
    terms: str | None = None
    summary: str = ""
    business_unit: str | None = None
    lines: tuple[BillLine, ...]
    active: bool = Field(default=True, description="false: deleted in ServiceTitan")
    modified_on: dt.datetime | None = None


Record = Annotated[Party | Invoice | Payment | Bill, Field(discriminator="kind")]
