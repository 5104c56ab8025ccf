"""The `demo` seed: one day of a plumbing/HVAC contractor, as ServiceTitan would export it.

Every figure other tests rely on lives here. The first customer and the first invoice are the
canonical end-to-end pair; keep them stable. Amounts are computed, not typed in, so every
invoice is consistent to the cent: line total = quantity x price, sales tax = 8.25% of the
taxable lines rounded half-up, total = lines + tax. An invoice's balance is its total less
what the day's active payments apply to it.

Besides customers and invoices the day has vendors (inventory API), payments and inventory
bills (accounting exports), each with a record an accounting integration must leave alone:
a Pending invoice and payment, a deleted (inactive) payment, a bill already exported.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

TAX_RATE_PERCENT = Decimal("8.25")
CENT = Decimal("0.01")

ItemType = Literal["Service", "Material", "Equipment", "PriceModifier", "Unspecified"]


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def money(value: Decimal) -> str:
    """ServiceTitan sends money as a plain decimal string with two places."""
    return f"{cents(value):.2f}"


def sales_tax(taxable_subtotal: Decimal) -> Decimal:
    return cents(taxable_subtotal * TAX_RATE_PERCENT / Decimal(100))


def st_time(value: dt.datetime) -> str:
    """ServiceTitan's UTC timestamp form: ISO 8601 with a trailing Z."""
    value = value.astimezone(dt.UTC)
    if value.microsecond:
        return value.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class GLAccountSpec:
    id: int
    name: str
    number: str
    type: str
    detail_type: str

    def json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "number": self.number,
            "type": self.type,
            "detailType": self.detail_type,
        }


SERVICE_INCOME = GLAccountSpec(4010, "Service Income", "4010", "Income", "ServiceFeeIncome")
MATERIALS_INCOME = GLAccountSpec(4020, "Materials Income", "4020", "Income", "SalesOfProductIncome")
COST_OF_LABOR = GLAccountSpec(5010, "Cost of Labor", "5010", "Cost of Goods Sold", "CostOfLaborCos")
COST_OF_MATERIALS = GLAccountSpec(
    5020, "Cost of Materials", "5020", "Cost of Goods Sold", "SuppliesMaterialsCogs"
)
INVENTORY_ASSET = GLAccountSpec(1300, "Inventory Asset", "1300", "Other Current Asset", "Inventory")
# Named like accounts of the demo QuickBooks company (sims/quickbooks seed), so bills map as is.
JOB_MATERIALS = GLAccountSpec(
    5030, "Job Materials", "5030", "Cost of Goods Sold", "SuppliesMaterialsCogs"
)
UNDEPOSITED_FUNDS = GLAccountSpec(
    1200, "Undeposited Funds", "1200", "Other Current Asset", "UndepositedFunds"
)

BU_PLUMBING = (201, "Plumbing - Service")
BU_HVAC = (202, "HVAC - Service")
TAX_CODE = {"id": 301, "name": "Travis County 8.25%", "taxRate": float(TAX_RATE_PERCENT)}


@dataclass(frozen=True)
class AddressSpec:
    street: str
    city: str
    state: str
    zip: str
    unit: str | None = None
    country: str = "USA"

    def json(self) -> dict[str, Any]:
        return {
            "street": self.street,
            "unit": self.unit,
            "city": self.city,
            "state": self.state,
            "zip": self.zip,
            "country": self.country,
        }


@dataclass(frozen=True)
class CustomerSpec:
    id: int
    name: str
    type: Literal["Residential", "Commercial"]
    address: AddressSpec
    location_id: int
    created_on: dt.datetime
    modified_on: dt.datetime
    active: bool = True


@dataclass(frozen=True)
class LineSpec:
    id: int
    sku_id: int
    sku_name: str
    description: str
    type: ItemType
    quantity: Decimal
    price: Decimal
    unit_cost: Decimal
    taxable: bool

    @property
    def total(self) -> Decimal:
        return cents(self.quantity * self.price)

    @property
    def total_cost(self) -> Decimal:
        return cents(self.quantity * self.unit_cost)

    @property
    def is_material(self) -> bool:
        return self.type in ("Material", "Equipment")


@dataclass(frozen=True)
class InvoiceSpec:
    id: int
    number: str
    customer: CustomerSpec
    job_id: int
    job_number: str
    business_unit: tuple[int, str]
    summary: str
    lines: tuple[LineSpec, ...]
    invoice_date: dt.date
    created_on: dt.datetime
    modified_on: dt.datetime
    sync_status: str = "Posted"
    batch: tuple[int, str, str] | None = (7001, "7001", "Batch 2025-03-14")
    term_days: int = 30

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines), Decimal("0.00"))

    @property
    def taxable_subtotal(self) -> Decimal:
        return sum((line.total for line in self.lines if line.taxable), Decimal("0.00"))

    @property
    def sales_tax(self) -> Decimal:
        return sales_tax(self.taxable_subtotal)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.sales_tax

    @property
    def due_date(self) -> dt.date:
        return self.invoice_date + dt.timedelta(days=self.term_days)


# --- the day -------------------------------------------------------------------------------

DAY = dt.date(2025, 3, 14)


def _at(hour: int, minute: int, second: int = 0) -> dt.datetime:
    return dt.datetime(DAY.year, DAY.month, DAY.day, hour, minute, second, tzinfo=dt.UTC)


def _labor(line_id: int, description: str, hours: str, rate: str) -> LineSpec:
    return LineSpec(
        id=line_id,
        sku_id=90001,
        sku_name="Labor",
        description=description,
        type="Service",
        quantity=Decimal(hours),
        price=Decimal(rate),
        unit_cost=Decimal("38.00"),
        taxable=False,
    )


def _material(
    line_id: int, sku_id: int, sku: str, description: str, qty: str, price: str, cost: str
) -> LineSpec:
    return LineSpec(
        id=line_id,
        sku_id=sku_id,
        sku_name=sku,
        description=description,
        type="Material",
        quantity=Decimal(qty),
        price=Decimal(price),
        unit_cost=Decimal(cost),
        taxable=True,
    )


CUSTOMERS: tuple[CustomerSpec, ...] = (
    CustomerSpec(
        1001,
        "Hernandez, Maria",
        "Residential",
        AddressSpec("1418 Maple Ridge Dr", "Austin", "TX", "78745"),
        2001,
        dt.datetime(2023, 6, 2, 15, 12, tzinfo=dt.UTC),
        _at(13, 5),
    ),
    CustomerSpec(
        1002,
        "Okafor, James",
        "Residential",
        AddressSpec("702 Cedar Bend Ln", "Austin", "TX", "78758"),
        2002,
        dt.datetime(2024, 1, 19, 17, 40, tzinfo=dt.UTC),
        _at(14, 10),
    ),
    CustomerSpec(
        1003,
        "Brightside Property Management",
        "Commercial",
        AddressSpec("5500 N Lamar Blvd", "Austin", "TX", "78751", unit="Suite 210"),
        2003,
        dt.datetime(2022, 9, 8, 14, 3, tzinfo=dt.UTC),
        _at(15, 20),
    ),
    CustomerSpec(
        1004,
        "Chen, Wei",
        "Residential",
        AddressSpec("3309 Pecan Springs Rd", "Austin", "TX", "78723"),
        2004,
        _at(16, 2),
        _at(16, 2),
    ),
)

_C = {c.id: c for c in CUSTOMERS}

INVOICES: tuple[InvoiceSpec, ...] = (
    InvoiceSpec(
        5001,
        "5001",
        _C[1001],
        8001,
        "8001",
        BU_PLUMBING,
        'Replaced leaking 3/4" PVC supply line under kitchen sink; pressure-tested.',
        (
            _labor(60011, "Plumbing labor - leak repair", "2", "125.00"),
            _material(60012, 30075, "PVC-075", '3/4" PVC pipe, 10 ft', "4", "36.50", "14.20"),
        ),
        DAY,
        _at(13, 30),
        _at(22, 0, 1),
    ),
    InvoiceSpec(
        5002,
        "5002",
        _C[1002],
        8002,
        "8002",
        BU_HVAC,
        "Spring AC tune-up; replaced filters and topped up refrigerant.",
        (
            _labor(60021, "HVAC labor - tune-up", "1.5", "110.00"),
            _material(
                60022, 31625, "FLTR-16251", "Air filter 16x25x1 MERV 11", "2", "18.75", "7.10"
            ),
            _material(
                60023, 34100, "R410A-LB", "R-410A refrigerant, per lb", "3", "42.00", "16.50"
            ),
        ),
        DAY,
        _at(15, 45),
        _at(22, 0, 2),
    ),
    InvoiceSpec(
        5003,
        "5003",
        _C[1003],
        8003,
        "8003",
        BU_PLUMBING,
        'Unit 4B: replaced corroded main shut-off and 1-1/2" drain section.',
        (
            _labor(60031, "Plumbing labor - commercial", "4", "125.00"),
            _material(60032, 30150, "PVC-150", '1-1/2" PVC DWV pipe, 10 ft', "6", "12.35", "5.05"),
            _material(
                60033, 32100, "VLV-BALL-100", '1" full-port brass ball valve', "2", "27.80", "11.40"
            ),
        ),
        DAY,
        _at(18, 10),
        _at(22, 0, 3),
    ),
    InvoiceSpec(
        5004,
        "5004",
        _C[1004],
        8004,
        "8004",
        BU_PLUMBING,
        "Cleared main drain line; enzyme treatment left with customer.",
        (
            _labor(60041, "Drain cleaning labor", "1", "189.00"),
            _material(
                60042, 33032, "DRN-ENZ-32", "Enzyme drain cleaner, 32 oz", "1", "24.99", "9.80"
            ),
        ),
        DAY,
        _at(19, 25),
        _at(22, 0, 4),
    ),
    # Brightside's second unit of the day, so that one check can pay two invoices (9003).
    InvoiceSpec(
        5006,
        "5006",
        _C[1003],
        8006,
        "8006",
        BU_HVAC,
        "Units 2A and 2B: quarterly HVAC filter change.",
        (
            _labor(60061, "HVAC labor - filter change", "1.5", "110.00"),
            _material(
                60062, 31625, "FLTR-16251", "Air filter 16x25x1 MERV 11", "6", "18.75", "7.10"
            ),
        ),
        DAY,
        _at(20, 40),
        _at(22, 0, 5),
    ),
    # Not yet posted in a ServiceTitan batch: accounting integrations must leave it alone.
    InvoiceSpec(
        5005,
        "5005",
        _C[1002],
        8005,
        "8005",
        BU_HVAC,
        "Follow-up visit: thermostat wiring check.",
        (_labor(60051, "HVAC labor - diagnostic", "1", "95.00"),),
        DAY,
        _at(21, 15),
        _at(22, 30),
        sync_status="Pending",
        batch=None,
    ),
)


@dataclass(frozen=True)
class VendorSpec:
    id: int
    name: str
    contact: tuple[str, str, str, str]  # first name, last name, phone, email
    address: AddressSpec
    memo: str
    delivery_option: str
    created_on: dt.datetime
    modified_on: dt.datetime
    active: bool = True
    truck_replenishment: bool = True


VENDORS: tuple[VendorSpec, ...] = (
    VendorSpec(
        7101,
        "Ferguson Plumbing Supply",
        ("Dana", "Whitfield", "512-555-0142", "austin.counter@ferguson.example"),
        AddressSpec("2401 E Ben White Blvd", "Austin", "TX", "78741"),
        "Account 88-1042",
        "Pickup",
        dt.datetime(2021, 4, 9, 15, 0, tzinfo=dt.UTC),
        _at(12, 30),
    ),
    VendorSpec(
        7102,
        "Lone Star HVAC Supply",
        ("Ray", "Delgado", "512-555-0188", "orders@lonestarhvac.example"),
        AddressSpec("8120 Research Blvd", "Austin", "TX", "78758", unit="Bldg C"),
        "Net 30, free delivery over $500",
        "Delivery",
        dt.datetime(2022, 2, 14, 16, 45, tzinfo=dt.UTC),
        _at(12, 35),
    ),
    # No longer used: its QuickBooks vendor is kept, marked inactive.
    VendorSpec(
        7103,
        "Hill Country Water Heaters",
        ("Lena", "Brandt", "512-555-0107", "sales@hcwaterheaters.example"),
        AddressSpec("410 W Stassney Ln", "Austin", "TX", "78745"),
        "Closed their Austin branch",
        "Delivery",
        dt.datetime(2020, 8, 3, 14, 0, tzinfo=dt.UTC),
        dt.datetime(2025, 2, 3, 17, 20, tzinfo=dt.UTC),
        active=False,
        truck_replenishment=False,
    ),
)

_V = {v.id: v for v in VENDORS}


@dataclass(frozen=True)
class PaymentSpec:
    id: int
    customer: CustomerSpec
    type: str
    type_id: str
    applied: tuple[tuple[int, int, Decimal], ...]  # (appliedId, invoice id, amount)
    paid_at: dt.datetime
    modified_on: dt.datetime
    business_unit: tuple[int, str]
    memo: str
    check_number: str | None = None
    auth_code: str | None = None
    sync_status: str = "Posted"
    active: bool = True
    batch: tuple[int, str, str] | None = (7001, "7001", "Batch 2025-03-14")

    @property
    def total(self) -> Decimal:
        return sum((amount for _, _, amount in self.applied), Decimal("0.00"))


_I = {i.id: i for i in INVOICES}

PAYMENTS: tuple[PaymentSpec, ...] = (
    # Invoice 5001 paid in full by check on site.
    PaymentSpec(
        9001,
        _C[1001],
        "Check",
        "3",
        ((91001, 5001, _I[5001].total),),
        _at(20, 5),
        _at(22, 10),
        BU_PLUMBING,
        "Paid by check on site",
        check_number="1042",
    ),
    # A deposit on invoice 5002 by card; the rest stays open.
    PaymentSpec(
        9002,
        _C[1002],
        "Credit Card",
        "2",
        ((91002, 5002, Decimal("200.00")),),
        _at(16, 20),
        _at(22, 10, 1),
        BU_HVAC,
        "Deposit; balance due on completion",
        auth_code="A7Q2K9",
    ),
    # One company check for both of Brightside's invoices.
    PaymentSpec(
        9003,
        _C[1003],
        "Check",
        "3",
        ((91003, 5003, _I[5003].total), (91004, 5006, _I[5006].total)),
        _at(21, 30),
        _at(22, 10, 2),
        BU_PLUMBING,
        "Company check for units 4B, 2A and 2B",
        check_number="20417",
    ),
    # Taken after the day's batch was posted: Pending, not for accounting yet.
    PaymentSpec(
        9004,
        _C[1004],
        "Credit Card",
        "2",
        ((91005, 5004, _I[5004].total),),
        _at(19, 40),
        _at(22, 40),
        BU_PLUMBING,
        "Card on file",
        auth_code="K3M8P1",
        sync_status="Pending",
        batch=None,
    ),
    # The same check entered twice by mistake; the copy was deleted (inactive).
    PaymentSpec(
        9005,
        _C[1001],
        "Check",
        "3",
        ((91006, 5001, _I[5001].total),),
        _at(20, 6),
        _at(20, 12),
        BU_PLUMBING,
        "Duplicate entry - deleted",
        check_number="1042",
        sync_status="Pending",
        active=False,
        batch=None,
    ),
)


@dataclass(frozen=True)
class BillItemSpec:
    id: int
    sku_id: int
    sku_code: str
    name: str
    quantity: Decimal
    cost: Decimal
    account: GLAccountSpec
    receipt_item_id: int

    @property
    def amount(self) -> Decimal:
        return cents(self.quantity * self.cost)


@dataclass(frozen=True)
class BillSpec:
    id: int
    purchase_order_id: int
    reference: str
    vendor: VendorSpec
    summary: str
    items: tuple[BillItemSpec, ...]
    shipping: Decimal
    bill_date: dt.date
    post_date: dt.date
    created_on: dt.datetime
    modified_on: dt.datetime
    business_unit: tuple[int, str]
    ship_to: str
    sync_status: str = "Posted"
    batch: tuple[int, str, str] = (7002, "7002", "AP Batch 2025-03-14")
    term_days: int = 30

    @property
    def items_total(self) -> Decimal:
        return sum((item.amount for item in self.items), Decimal("0.00"))

    @property
    def tax(self) -> Decimal:
        return sales_tax(self.items_total)

    @property
    def total(self) -> Decimal:
        return self.items_total + self.tax + self.shipping

    @property
    def due_date(self) -> dt.date:
        return self.bill_date + dt.timedelta(days=self.term_days)


def _bill_item(
    item_id: int, sku_id: int, sku: str, name: str, qty: str, cost: str, account: GLAccountSpec
) -> BillItemSpec:
    return BillItemSpec(
        item_id, sku_id, sku, name, Decimal(qty), Decimal(cost), account, item_id + 1000
    )


BILLS: tuple[BillSpec, ...] = (
    # Already exported by the bookkeeper last week: an integration must not post it again.
    BillSpec(
        6003,
        3998,
        "FER-87904",
        _V[7101],
        "Restock: copper fittings",
        (
            _bill_item(
                61031, 30550, "CU-ELB-050", '1/2" copper 90 elbow', "25", "1.84", INVENTORY_ASSET
            ),
        ),
        Decimal("0.00"),
        dt.date(2025, 3, 7),
        dt.date(2025, 3, 10),
        dt.datetime(2025, 3, 7, 15, 30, tzinfo=dt.UTC),
        dt.datetime(2025, 3, 10, 18, 0, tzinfo=dt.UTC),
        BU_PLUMBING,
        "Main warehouse",
        sync_status="PostedAndExported",
        batch=(6990, "6990", "AP Batch 2025-03-10"),
    ),
    # Warehouse restock (the st-ingest sample bill): items to inventory.
    BillSpec(
        6001,
        4001,
        "FER-88231",
        _V[7101],
        "Restock Truck 12: PVC pipe and ball valves",
        (
            _bill_item(
                61001, 30075, "PVC-075", '3/4" PVC pipe, 10 ft', "10", "14.20", INVENTORY_ASSET
            ),
            _bill_item(
                61002,
                32100,
                "VLV-BALL-100",
                '1" full-port brass ball valve',
                "4",
                "11.40",
                INVENTORY_ASSET,
            ),
        ),
        Decimal("12.00"),
        dt.date(2025, 3, 13),
        DAY,
        _at(16, 40),
        _at(22, 20),
        BU_PLUMBING,
        "Main warehouse",
    ),
    # Parts bought for jobs, expensed straight to Job Materials.
    BillSpec(
        6002,
        4002,
        "LSH-240517",
        _V[7102],
        "Van stock: condenser fan motor and run capacitors",
        (
            _bill_item(
                61011,
                34410,
                "MTR-CFM-025",
                "Condenser fan motor 1/4 HP",
                "1",
                "148.50",
                JOB_MATERIALS,
            ),
            _bill_item(
                61012, 34455, "CAP-45-5", "Dual run capacitor 45/5 uF", "2", "18.90", JOB_MATERIALS
            ),
        ),
        Decimal("25.00"),
        DAY,
        DAY,
        _at(17, 5),
        _at(22, 20, 1),
        BU_HVAC,
        "Van 7",
    ),
)


# --- JSON as the export endpoints answer it ----------------------------------------------


def customer_json(spec: CustomerSpec) -> dict[str, Any]:
    return {
        "id": spec.id,
        "active": spec.active,
        "name": spec.name,
        "type": spec.type,
        # ServiceTitan geocodes addresses; a customer update must send the coordinates back
        # (Crm.V2.Customers.UpdateCustomerAddress requires them).
        "address": {
            **spec.address.json(),
            "latitude": round(30.2672 + (spec.id % 100) / 1000, 4),
            "longitude": round(-97.7431 - (spec.id % 100) / 1000, 4),
        },
        "customFields": [],
        "balance": 0.0,
        "taxExempt": False,
        "tagTypeIds": [],
        "doNotMail": False,
        "doNotService": False,
        "nationalAccount": spec.type == "Commercial",
        "createdOn": st_time(spec.created_on),
        "createdById": 11,
        "modifiedOn": st_time(spec.modified_on),
        "mergedToId": None,
        "paymentTermId": None,
        "creditLimit": None,
        "creditLimitBalance": None,
        "externalData": [],
    }


def _item_json(line: LineSpec, order: int, inv: InvoiceSpec) -> dict[str, Any]:
    material = line.is_material
    return {
        "id": line.id,
        "description": line.description,
        "quantity": f"{line.quantity:.2f}",
        "cost": money(line.unit_cost),
        "totalCost": money(line.total_cost),
        "budgetCodeId": None,
        "inventoryLocationId": 401 if material else None,
        "inventoryLocation": "Truck 12" if material else None,
        "price": money(line.price),
        "type": line.type,
        "skuName": line.sku_name,
        "skuId": line.sku_id,
        "total": money(line.total),
        "inventory": material,
        "taxable": line.taxable,
        "isChargeable": True,
        "generalLedgerAccount": (MATERIALS_INCOME if material else SERVICE_INCOME).json(),
        "costOfSaleAccount": (COST_OF_MATERIALS if material else COST_OF_LABOR).json(),
        "assetAccount": INVENTORY_ASSET.json() if material else None,
        "membershipTypeId": 0,
        "itemGroup": None,
        "displayName": line.description,
        "soldHours": None if material else float(line.quantity),
        "createdOn": st_time(inv.created_on),
        "modifiedOn": st_time(inv.modified_on),
        "serviceDate": st_time(dt.datetime.combine(inv.invoice_date, dt.time(), dt.UTC)),
        "order": order,
        "businessUnit": {"id": inv.business_unit[0], "name": inv.business_unit[1]},
        "createdById": 11,
        "displayInAmount": None,
        "importId": None,
        "exportId": None,
        "inventoryStatus": "Reconciled" if material else None,
        "addOn": False,
        "memberPrice": None,
        "technicianId": 51,
        "installedEquipmentId": None,
        "estimateItemId": None,
    }


def invoice_json(inv: InvoiceSpec) -> dict[str, Any]:
    midnight = dt.time()
    address = inv.customer.address.json()
    return {
        "id": inv.id,
        "syncStatus": inv.sync_status,
        "budgetCodeId": None,
        "referenceNumber": inv.number,
        "invoiceDate": st_time(dt.datetime.combine(inv.invoice_date, midnight, dt.UTC)),
        "dueDate": st_time(dt.datetime.combine(inv.due_date, midnight, dt.UTC)),
        "subTotal": money(inv.subtotal),
        "salesTax": money(inv.sales_tax),
        "salesTaxCode": dict(TAX_CODE),
        "taxZoneId": 31,
        "total": money(inv.total),
        "balance": money(invoice_balance(inv)),
        "invoiceType": None,
        "customer": {"id": inv.customer.id, "name": inv.customer.name},
        "customerAddress": address,
        "location": {"id": inv.customer.location_id, "name": inv.customer.name},
        "locationAddress": dict(address),
        "businessUnit": {"id": inv.business_unit[0], "name": inv.business_unit[1]},
        "termName": f"Net {inv.term_days}",
        "createdBy": "dispatch@sandbox",
        "batch": (
            None
            if inv.batch is None
            else {"id": inv.batch[0], "number": inv.batch[1], "name": inv.batch[2]}
        ),
        "depositedOn": None,
        "createdOn": st_time(inv.created_on),
        "modifiedOn": st_time(inv.modified_on),
        "adjustmentToId": None,
        "job": {"id": inv.job_id, "number": inv.job_number, "type": "Service"},
        "projectId": None,
        "royalty": None,
        "employeeInfo": None,
        "commissionEligibilityDate": None,
        "sentStatus": "Sent",
        "reviewStatus": "Reviewed",
        "assignedTo": None,
        "summary": inv.summary,
        "items": [_item_json(line, n, inv) for n, line in enumerate(inv.lines, start=1)],
        "customFields": [],
        "active": True,
        "discountTotal": "0.00",
        "importId": None,
        "exportId": None,
        "materialSkuId": None,
        "membershipId": None,
        "paidOn": None,
        "invoiceConfiguration": "JobInvoice",
    }


def invoice_balance(inv: InvoiceSpec) -> Decimal:
    """What is still owed: the total less what the day's active payments apply to it."""
    paid = sum(
        (
            amount
            for payment in PAYMENTS
            if payment.active
            for _, invoice_id, amount in payment.applied
            if invoice_id == inv.id
        ),
        Decimal("0.00"),
    )
    return inv.total - paid


def vendor_json(spec: VendorSpec) -> dict[str, Any]:
    first, last, phone, email = spec.contact
    return {
        "id": spec.id,
        "name": spec.name,
        "active": spec.active,
        "isTruckReplenishment": spec.truck_replenishment,
        "isMobileCreationRestricted": False,
        "memo": spec.memo,
        "deliveryOption": spec.delivery_option,
        "defaultTaxRate": float(TAX_RATE_PERCENT),
        "contactInfo": {
            "firstName": first,
            "lastName": last,
            "phone": phone,
            "email": email,
            "fax": "",
        },
        "address": spec.address.json(),
        "createdOn": st_time(spec.created_on),
        "modifiedOn": st_time(spec.modified_on),
        "externalData": [],
        "customFields": [],
    }


def payment_json(spec: PaymentSpec) -> dict[str, Any]:
    midnight = dt.time()
    return {
        "active": spec.active,
        "appliedTo": [
            {
                "appliedAmount": money(amount),
                "appliedBy": "tech51@sandbox",
                "appliedId": applied_id,
                "appliedOn": st_time(spec.paid_at),
                "appliedTo": invoice_id,
                "appliedToReferenceNumber": _I[invoice_id].number,
            }
            for applied_id, invoice_id, amount in spec.applied
        ],
        "authCode": spec.auth_code,
        "batch": (
            None
            if spec.batch is None
            else {"id": spec.batch[0], "number": spec.batch[1], "name": spec.batch[2]}
        ),
        "businessUnit": {"id": spec.business_unit[0], "name": spec.business_unit[1]},
        "checkNumber": spec.check_number,
        "createdBy": "tech51@sandbox",
        "createdOn": st_time(spec.paid_at),
        "customer": {"id": spec.customer.id, "name": spec.customer.name},
        "customFields": [],
        "date": st_time(dt.datetime.combine(spec.paid_at.date(), midnight, dt.UTC)),
        "deposit": None,
        "generalLedgerAccount": UNDEPOSITED_FUNDS.json(),
        "id": spec.id,
        "memo": spec.memo,
        "modifiedOn": st_time(spec.modified_on),
        "referenceNumber": spec.check_number,
        "refundedPaymentId": None,
        "syncStatus": spec.sync_status,
        "total": money(spec.total),
        "type": spec.type,
        "typeId": spec.type_id,
        "unappliedAmount": "0.00",
    }


def _allocate(total: Decimal, items: tuple[BillItemSpec, ...]) -> list[Decimal]:
    """`total` spread over the items by value, to the cent; the last item takes the rest."""
    base = sum((item.amount for item in items), Decimal("0.00"))
    shares = [cents(total * item.amount / base) if base else Decimal("0.00") for item in items]
    if shares:
        shares[-1] = total - sum(shares[:-1], Decimal("0.00"))
    return shares


def _bill_item_json(
    item: BillItemSpec, order: int, tax: Decimal, shipping: Decimal, ship_to: str
) -> dict[str, Any]:
    landed = (item.amount + tax + shipping) / item.quantity
    return {
        "order": order,
        "name": item.name,
        "description": item.name,
        "quantity": f"{item.quantity:f}",
        "cost": money(item.cost),
        "allocatedTax": money(tax),
        "allocatedShipping": money(shipping),
        "allocatedOtherCosts": "0.00",
        "fullyLandedUnitCost": money(landed),
        "inventoryLocation": ship_to,
        "serialNumber": None,
        "generalLedgerAccount": item.account.json(),
        "costOfSaleAccount": COST_OF_MATERIALS.json(),
        "assetAccount": INVENTORY_ASSET.json(),
        "id": item.id,
        "skuId": item.sku_id,
        "receiptItemId": item.receipt_item_id,
        "skuType": "Material",
        "skuCode": item.sku_code,
        "budgetCodeId": None,
    }


def bill_json(spec: BillSpec) -> dict[str, Any]:
    midnight = dt.time()
    taxes = _allocate(spec.tax, spec.items)
    shipping = _allocate(spec.shipping, spec.items)
    vendor = spec.vendor
    return {
        "id": spec.id,
        "purchaseOrderId": spec.purchase_order_id,
        "syncStatus": spec.sync_status,
        "referenceNumber": spec.reference,
        "vendorNumber": f"V-{vendor.id}",
        "summary": spec.summary,
        "billDate": st_time(dt.datetime.combine(spec.bill_date, midnight, dt.UTC)),
        "billAmount": money(spec.total),
        "taxAmount": money(spec.tax),
        "shippingAmount": money(spec.shipping),
        "landedCostMethod": "ByValue",
        "otherAmount": "0.00",
        "createdBy": "purchasing@sandbox",
        "createdOn": st_time(spec.created_on),
        "modifiedOn": st_time(spec.modified_on),
        "termName": f"Net {spec.term_days}",
        "dueDate": st_time(dt.datetime.combine(spec.due_date, midnight, dt.UTC)),
        "shipToDescription": spec.ship_to,
        "postDate": st_time(dt.datetime.combine(spec.post_date, midnight, dt.UTC)),
        "batch": {"id": spec.batch[0], "number": spec.batch[1], "name": spec.batch[2]},
        "businessUnit": {"id": spec.business_unit[0], "name": spec.business_unit[1]},
        "taxZone": {"id": 31, "name": TAX_CODE["name"]},
        "vendor": {"id": vendor.id, "name": vendor.name},
        "shipTo": {
            "street": "900 Industrial Blvd",
            "unit": None,
            "city": "Austin",
            "state": "TX",
            "zip": "78745",
            "country": "USA",
        },
        "budgetCodeId": None,
        "items": [
            _bill_item_json(item, n, tax, ship, spec.ship_to)
            for n, (item, tax, ship) in enumerate(
                zip(spec.items, taxes, shipping, strict=True), start=1
            )
        ],
        "customFields": [],
        "jobId": None,
        "jobNumber": None,
        "dateReconciled": None,
        "active": True,
    }


# --- what other tests import ----------------------------------------------------------------


@dataclass(frozen=True)
class DemoLine:
    st_id: int
    sku_name: str
    quantity: Decimal
    price: Decimal
    total: Decimal
    taxable: bool
    gl_account: str


@dataclass(frozen=True)
class DemoFigures:
    customer_id: int
    customer_name: str
    invoice_id: int
    invoice_number: str
    invoice_date: dt.date
    due_date: dt.date
    lines: tuple[DemoLine, ...]
    subtotal: Decimal
    taxable_subtotal: Decimal
    sales_tax: Decimal
    total: Decimal
    modified_on: str
    customer_ids: tuple[int, ...]
    posted_invoice_ids: tuple[int, ...]
    pending_invoice_ids: tuple[int, ...]
    vendor_ids: tuple[int, ...]
    inactive_vendor_ids: tuple[int, ...]
    # Payments and bills an accounting integration takes (Posted, active) and the others.
    posted_payment_ids: tuple[int, ...]
    skipped_payment_ids: tuple[int, ...]
    posted_bill_ids: tuple[int, ...]
    skipped_bill_ids: tuple[int, ...]
    # Invoice id -> balance after the day's active payments (what QuickBooks should show once
    # the posted payments are received; Pending payment 9004 is not among them).
    balances: dict[int, Decimal]


DEMO = INVOICES[0]
DEMO_CUSTOMER_ID = DEMO.customer.id  # 1001
DEMO_CUSTOMER_NAME = DEMO.customer.name  # "Hernandez, Maria"
DEMO_INVOICE_ID = DEMO.id  # 5001
DEMO_INVOICE_NUMBER = DEMO.number  # "5001"
DEMO_INVOICE_SUBTOTAL = DEMO.subtotal  # 396.00
DEMO_INVOICE_TAX = DEMO.sales_tax  # 12.05 (8.25% of 146.00 = 12.045, half-up)
DEMO_INVOICE_TOTAL = DEMO.total  # 408.05


def demo_figures() -> DemoFigures:
    """The canonical demo pair (customer 1001, invoice 5001) and the day's ids."""
    return DemoFigures(
        customer_id=DEMO.customer.id,
        customer_name=DEMO.customer.name,
        invoice_id=DEMO.id,
        invoice_number=DEMO.number,
        invoice_date=DEMO.invoice_date,
        due_date=DEMO.due_date,
        lines=tuple(
            DemoLine(
                st_id=line.id,
                sku_name=line.sku_name,
                quantity=line.quantity,
                price=line.price,
                total=line.total,
                taxable=line.taxable,
                gl_account=(MATERIALS_INCOME if line.is_material else SERVICE_INCOME).name,
            )
            for line in DEMO.lines
        ),
        subtotal=DEMO.subtotal,
        taxable_subtotal=DEMO.taxable_subtotal,
        sales_tax=DEMO.sales_tax,
        total=DEMO.total,
        modified_on=st_time(DEMO.modified_on),
        customer_ids=tuple(c.id for c in CUSTOMERS),
        posted_invoice_ids=tuple(i.id for i in INVOICES if i.sync_status == "Posted"),
        pending_invoice_ids=tuple(i.id for i in INVOICES if i.sync_status != "Posted"),
        vendor_ids=tuple(v.id for v in VENDORS),
        inactive_vendor_ids=tuple(v.id for v in VENDORS if not v.active),
        posted_payment_ids=tuple(p.id for p in PAYMENTS if _ready(p.sync_status, p.active)),
        skipped_payment_ids=tuple(p.id for p in PAYMENTS if not _ready(p.sync_status, p.active)),
        posted_bill_ids=tuple(b.id for b in BILLS if _ready(b.sync_status, True)),
        skipped_bill_ids=tuple(b.id for b in BILLS if not _ready(b.sync_status, True)),
        balances={
            inv.id: inv.total
            - sum(
                (
                    amount
                    for p in PAYMENTS
                    if _ready(p.sync_status, p.active)
                    for _, invoice_id, amount in p.applied
                    if invoice_id == inv.id
                ),
                Decimal("0.00"),
            )
            for inv in INVOICES
            if inv.sync_status == "Posted"
        },
    )


def _ready(sync_status: str, active: bool) -> bool:
    return active and sync_status == "Posted"


SeedEntity = Literal["customers", "invoices", "payments", "inventory-bills", "vendors"]


# Ids of the bulk seed's invoices start above 2**40: ServiceTitan ids are int64, and the
# benchmarks and backfill tests should carry ids no 32-bit column could hold.
BULK_INVOICE_BASE_ID = 2**40
BULK_START = dt.datetime(2024, 1, 1, 8, 0, tzinfo=dt.UTC)


def bulk_invoices(count: int) -> list[dict[str, Any]]:
    """`count` Posted invoices of the demo customers, dated across 2024 (one a minute from
    2024-01-01 08:00 UTC), each the demo invoice's lines and figures under its own int64 id
    (`BULK_INVOICE_BASE_ID + n`) and reference number ("B<n>"), in modifiedOn order."""
    template = invoice_json(INVOICES[0])
    out = []
    for n in range(1, count + 1):
        when = BULK_START + dt.timedelta(minutes=n)
        stamp = st_time(when)
        day = st_time(dt.datetime.combine(when.date(), dt.time(), dt.UTC))
        customer = CUSTOMERS[n % len(CUSTOMERS)]
        record = dict(template)
        invoice_id = BULK_INVOICE_BASE_ID + n
        record.update(
            id=invoice_id,
            referenceNumber=f"B{n}",
            invoiceDate=day,
            dueDate=day,
            createdOn=stamp,
            modifiedOn=stamp,
            balance=template["total"],
            customer={"id": customer.id, "name": customer.name},
            location={"id": customer.location_id, "name": customer.name},
            job={"id": invoice_id, "number": f"J{n}", "type": "Service"},
            items=[
                {**item, "id": invoice_id * 10 + k, "createdOn": stamp, "modifiedOn": stamp}
                for k, item in enumerate(template["items"], start=1)
            ],
        )
        out.append(record)
    return out


def seed_data(name: str) -> dict[SeedEntity, list[dict[str, Any]]]:
    """Every entity's records of a named seed, each list in modifiedOn order.

    Seeds: "demo" (the contractor's day), "empty", and "bulk:N" (the demo customers and N
    Posted invoices dated in 2024, `bulk_invoices`) for backfills and benchmarks.
    """
    if name.startswith("bulk:"):
        try:
            count = int(name.removeprefix("bulk:"))
        except ValueError as exc:
            raise ValueError(f"unknown sandbox seed {name!r}: use bulk:<count>") from exc
        customers = [customer_json(c) for c in sorted(CUSTOMERS, key=lambda c: c.modified_on)]
        return {
            "customers": customers,
            "invoices": bulk_invoices(count),
            "payments": [],
            "inventory-bills": [],
            "vendors": [],
        }
    if name == "empty":
        return {
            "customers": [],
            "invoices": [],
            "payments": [],
            "inventory-bills": [],
            "vendors": [],
        }
    customers, invoices = seed_records(name)
    return {
        "customers": customers,
        "invoices": invoices,
        "payments": [payment_json(p) for p in sorted(PAYMENTS, key=lambda p: p.modified_on)],
        "inventory-bills": [bill_json(b) for b in sorted(BILLS, key=lambda b: b.modified_on)],
        "vendors": [vendor_json(v) for v in sorted(VENDORS, key=lambda v: v.modified_on)],
    }


def seed_records(name: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(customers, invoices) of a named seed, each list in modifiedOn order."""
    if name == "demo":
        customers = sorted(CUSTOMERS, key=lambda c: c.modified_on)
        invoices = sorted(INVOICES, key=lambda i: i.modified_on)
        return [customer_json(c) for c in customers], [invoice_json(i) for i in invoices]
    if name == "empty":
        return [], []
    raise ValueError(f"unknown sandbox seed {name!r}: use 'demo' or 'empty'")
