"""A contractor's month for the chaos test: deterministic from a seed, consistent to the cent.

April 2025 of a plumbing/HVAC contractor with two tax zones (31 Travis County 8.25%, 32 Round
Rock 6.25%), shaped as ServiceTitan's export endpoints answer (the demo seed's JSON builders,
checked against the OpenAPI documents by the tests):

- 80 customers (each location in one tax zone), 20 vendors;
- 150 invoices: regular ones, 8 adjustment invoices (`adjustmentToId`, negative: goods returned
  and labour credits, in the adjusted invoice's zone), 2 refunds (negative, adjusting nothing),
  2 invoices already voided when first exported (never to be posted);
- 120+ payments: in full, deposits and balances, one check for two invoices, overpayments
  that leave an unapplied credit; an adjusted invoice is paid net of its adjustment (the
  credit memo, applied to it, covers the rest);
- 30 inventory bills (tax 8.25% of the items, shipping on some);
- `waiting_edits`: second versions that arrive before the first could post (QuickBooks closed):
  10 invoices, 3 customers, 2 payments (memo only);
- `later`: changes after posting: 8 invoices edited (quantity, a line added, a line removed),
  4 invoices voided, 2 payments deleted (their invoices open again).

Those are the full month's counts (`MonthSize()`); `generate_month(seed, MonthSize.small())`
has every kind of record and change, fewer of each (the chaos test's reduced run in CI).

Sales tax is the zone's rate of the taxable lines, rounded half-up (away from zero for a
credit); every total is subtotal + tax; every payment is its applications plus its unapplied
amount; no invoice is ever paid beyond its total. `books()` says what QuickBooks must hold at
the end, from ServiceTitan's final state.

A test loads the month into the sandbox's store (`load`), lets st-ingest read it, applies
`waiting_edits` while QuickBooks is closed, syncs, then applies `later` at the moment it
chooses (`apply_later`) and syncs again:

    with RunningSandbox(SandboxSettings(seed="empty")) as sandbox:
        month = generate_month(seed)
        month.load(sandbox.store)
        ...  # st-ingest polls; QuickBooks closed
        month.apply_waiting_edits(sandbox.store)
        ...  # the Web Connector syncs the month
        month.apply_later(sandbox.store)
        ...  # syncs again; then compare QuickBooks with month.books()

Sync with `CHAOS_MAPPING` as the connection's mapping (each zone's tax item; deleted payments
deleted in QuickBooks), which `books()` assumes.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal
from typing import Any, Literal

from mlconnector.stsandbox.seed import (
    INVENTORY_ASSET,
    JOB_MATERIALS,
    UNDEPOSITED_FUNDS,
    AddressSpec,
    BillItemSpec,
    BillSpec,
    CustomerSpec,
    InvoiceSpec,
    ItemType,
    LineSpec,
    VendorSpec,
    bill_json,
    customer_json,
    invoice_json,
    money,
    st_time,
    vendor_json,
)
from mlconnector.stsandbox.store import Entity, SandboxStore

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
MONTH_START = dt.date(2025, 4, 1)
MONTH_DAYS = 30
AFTER_MONTH = dt.datetime(2025, 5, 1, 9, 0, tzinfo=dt.UTC)  # edits while waiting
LATER = dt.datetime(2025, 5, 8, 9, 0, tzinfo=dt.UTC)  # edits after posting, voids


@dataclass(frozen=True)
class TaxZone:
    id: int
    name: str
    rate_percent: Decimal
    quickbooks_item: str  # the QuickBooks sales tax item at that rate (the company's mapping)

    def tax(self, taxable: Decimal) -> Decimal:
        """The zone's tax on `taxable`, half-up to the cent (away from zero for a credit)."""
        return (taxable * self.rate_percent / Decimal(100)).quantize(CENT, ROUND_HALF_UP)

    def json(self) -> dict[str, Any]:
        """Accounting.V2.TaxZoneResponse (rates as fractions, as its schema documents)."""
        stamp = st_time(dt.datetime(2024, 1, 2, 15, 0, tzinfo=dt.UTC))
        return {
            "id": self.id,
            "name": self.name,
            "color": 0,
            "isTaxRateSeparated": False,
            "isMultipleTaxZone": False,
            "rates": [
                {
                    "id": self.id * 10 + 1,
                    "taxName": self.name,
                    "taxBaseType": ["Subtotal"],
                    "taxRate": float(self.rate_percent / Decimal(100)),
                    "salesTaxItem": self.quickbooks_item,
                }
            ],
            "createdOn": stamp,
            "modifiedOn": stamp,
            "active": True,
        }


TRAVIS = TaxZone(31, "Travis County", Decimal("8.25"), "ST Sales Tax")
ROUND_ROCK = TaxZone(32, "Round Rock", Decimal("6.25"), "Round Rock Tax")
ZONES = (TRAVIS, ROUND_ROCK)

# The connection mapping the month is meant to be synced with: each zone's own tax item, and
# payments deleted in ServiceTitan deleted in QuickBooks (so that balances end equal).
CHAOS_MAPPING: dict[str, Any] = {
    "tax_zone_map": {str(zone.id): zone.quickbooks_item for zone in ZONES},
    "tax_zones": {zone.id: zone.name for zone in ZONES},
    "payment_void": "delete",
}

BUSINESS_UNITS = ((201, "Plumbing - Service"), (202, "HVAC - Service"))
LABOR_RATES = (Decimal("95.00"), Decimal("110.00"), Decimal("125.00"), Decimal("145.00"))
# (sku id, sku, description, price, unit cost, type): the pricebook the demo QuickBooks company
# (sims/quickbooks seed) has items for, so that every line maps item for item.
CATALOG: tuple[tuple[int, str, str, str, str, ItemType], ...] = (
    (30075, "PVC-075", '3/4" PVC pipe, 10 ft', "36.50", "14.20", "Material"),
    (30150, "PVC-150", '1-1/2" PVC DWV pipe, 10 ft', "12.35", "5.05", "Material"),
    (32100, "VLV-BALL-100", '1" full-port brass ball valve', "27.80", "11.40", "Material"),
    (31625, "FLTR-16251", "Air filter 16x25x1 MERV 11", "18.75", "7.10", "Material"),
    (34100, "R410A-LB", "R-410A refrigerant, per lb", "42.00", "16.50", "Material"),
    (33032, "DRN-ENZ-32", "Enzyme drain cleaner, 32 oz", "24.99", "9.80", "Material"),
    (35050, "WH-50G", "50 gal gas water heater", "1395.00", "812.40", "Equipment"),
    (30550, "CU-050", '1/2" copper pipe, per foot', "6.40", "2.60", "Material"),
)
DISCOUNT_SKU = "Member Discount"
FIRST_NAMES = (
    "Maria", "James", "Wei", "Aisha", "Daniel", "Priya", "Carlos", "Emily", "Tomás", "Grace",
    "Noah", "Fatima", "Liam", "Sofia", "Ethan", "Mei", "Lucas", "Zoë", "Omar", "Hannah",
)  # fmt: skip
LAST_NAMES = (
    "Hernandez", "Okafor", "Chen", "Patel", "Nguyen", "Johnson", "García", "Smith", "Kowalski",
    "Brown", "Müller", "Davis", "Rossi", "Kim", "Wilson", "O'Brien", "Silva", "Taylor",
)  # fmt: skip
COMPANIES = (
    "Brightside Property Management", "Lakeway Dental Group", "Cedar Park Storage",
    "Hill Country Apartments", "Riverside Bistro", "Oak Hollow HOA", "Pflugerville Fitness",
    "Sunset Valley Offices", "Round Rock Animal Clinic", "Bee Cave Montessori",
)  # fmt: skip
STREETS = (
    "Maple Ridge Dr", "Cedar Bend Ln", "N Lamar Blvd", "Pecan Springs Rd", "Brushy Creek Rd",
    "Palm Valley Blvd", "Sundance Pkwy", "Gattis School Rd", "Burnet Rd", "Slaughter Ln",
)  # fmt: skip
VENDOR_NAMES = (
    "Ferguson Plumbing Supply", "Lone Star HVAC Supply", "Hajoca Austin", "Johnstone Supply",
    "Winsupply Round Rock", "Morrison Supply", "Coburn Supply", "Carrier Enterprise",
    "Goodman Distribution", "Texas Air Products", "Capitol Pipe & Steel", "Central Valve Co",
    "Hill Country Water Heaters", "Austin Drain Parts", "Williamson Copper", "Bluebonnet Electric",
    "Pedernales Tools", "Travis Fasteners", "Brazos Refrigerants", "Balcones Filters",
)  # fmt: skip


@dataclass(frozen=True)
class MonthSize:
    """How many of each record and change the month has (the default: the full month).

    `small()` keeps every kind of record and change, fewer of each, for a run that must be
    short (the chaos test in CI); at least 3 `edited_later` so that each kind of edit (a
    quantity, a line added, a line removed) happens.
    """

    customers: int = 80
    vendors: int = 20
    invoices: int = 140  # regular ones; adjustments and refunds come on top
    adjustments: int = 8
    refunds: int = 2
    voided_first: int = 2  # inactive when first exported: never posted
    voided_later: int = 4
    edited_later: int = 8
    edited_waiting: int = 10
    bills: int = 30
    moved_customers: int = 3  # edited while waiting
    memo_payments: int = 2  # edited while waiting
    deleted_payments: int = 2

    def __post_init__(self) -> None:
        if not 1 <= self.vendors <= len(VENDOR_NAMES):
            raise ValueError(f"vendors must be 1 to {len(VENDOR_NAMES)}, not {self.vendors}")
        if self.customers < 8:
            raise ValueError("a month needs at least 8 customers (one of them commercial)")

    @classmethod
    def small(cls) -> MonthSize:
        return cls(
            customers=24,
            vendors=6,
            invoices=36,
            adjustments=3,
            refunds=1,
            voided_first=1,
            voided_later=2,
            edited_later=3,
            edited_waiting=4,
            bills=8,
            moved_customers=2,
            memo_payments=1,
            deleted_payments=1,
        )


@dataclass(frozen=True)
class Change:
    """A new version of one record, to put in the sandbox at a chosen moment."""

    entity: Entity
    record: dict[str, Any]
    kind: Literal["edit", "void"]
    note: str


@dataclass(frozen=True)
class _Invoice:
    spec: InvoiceSpec
    zone: TaxZone
    adjustment_to: int | None = None
    active: bool = True

    @property
    def id(self) -> int:
        return self.spec.id

    @property
    def subtotal(self) -> Decimal:
        return sum((line.total for line in self.spec.lines), ZERO)

    @property
    def sales_tax(self) -> Decimal:
        taxable = sum((line.total for line in self.spec.lines if line.taxable), ZERO)
        return self.zone.tax(taxable)

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.sales_tax


@dataclass(frozen=True)
class _Payment:
    id: int
    customer: CustomerSpec
    applied: tuple[tuple[int, Decimal], ...]  # (invoice id, amount)
    unapplied: Decimal
    paid_on: dt.date
    modified_on: dt.datetime
    type: str
    memo: str
    reference: str
    active: bool = True

    @property
    def total(self) -> Decimal:
        return sum((amount for _, amount in self.applied), ZERO) + self.unapplied


@dataclass(frozen=True)
class ExpectedInvoice:
    """What QuickBooks must hold for one ServiceTitan invoice at the end (decimal dollars).

    `kind` "credit memo" for a negative invoice: its amounts are positive, as QuickBooks shows
    them, and `balance` is its remaining credit. `posted` False: inactive when first seen,
    never to be posted. A voided transaction shows zero amounts.
    """

    st_id: int
    number: str
    kind: Literal["invoice", "credit memo"]
    customer_id: int
    tax_item: str
    subtotal: Decimal
    sales_tax: Decimal
    total: Decimal
    balance: Decimal
    voided: bool
    posted: bool


@dataclass(frozen=True)
class Books:
    """QuickBooks' expected contents after the month (every change applied)."""

    customers: tuple[int, ...]
    vendors: tuple[int, ...]
    invoices: dict[int, ExpectedInvoice]
    payments: dict[int, Decimal]  # active payments: total
    deleted_payments: tuple[int, ...]
    bills: dict[int, Decimal]


@dataclass
class Month:
    """The month's records (first versions), its changes, and what QuickBooks must end with."""

    seed: int
    customers: list[dict[str, Any]]
    vendors: list[dict[str, Any]]
    invoices: list[dict[str, Any]]
    payments: list[dict[str, Any]]
    bills: list[dict[str, Any]]
    tax_zones: list[dict[str, Any]]
    waiting_edits: list[Change]
    later: list[Change]
    _books: Books = field(repr=False)

    def records(self) -> dict[Entity, list[dict[str, Any]]]:
        """First versions, per sandbox entity, each list in modifiedOn order."""
        return {
            "customers": self.customers,
            "vendors": self.vendors,
            "invoices": self.invoices,
            "payments": self.payments,
            "inventory-bills": self.bills,
        }

    def load(self, store: SandboxStore) -> None:
        """Put the first versions into the sandbox (with their own modifiedOn)."""
        for entity, records in self.records().items():
            for record in sorted(records, key=lambda r: str(r["modifiedOn"])):
                store.put(entity, record, touch=False)

    def apply_waiting_edits(self, store: SandboxStore) -> None:
        """The second versions that arrive before QuickBooks could post the first."""
        apply_changes(store, self.waiting_edits)

    def apply_later(self, store: SandboxStore) -> None:
        """Edits after posting and voids: call once the month has posted."""
        apply_changes(store, self.later)

    def books(self) -> Books:
        return self._books


def apply_changes(store: SandboxStore, changes: Iterable[Change]) -> None:
    """Each change becomes the record's newest version, later in the export feed."""
    for change in changes:
        store.put(change.entity, change.record, touch=False)


def month_store(seed: int = 7, page_size: int = 50) -> tuple[SandboxStore, Month]:
    """A sandbox store holding the month's first versions (nothing else)."""
    store = SandboxStore(seed="empty", page_size=page_size)
    month = generate_month(seed)
    month.load(store)
    return store, month


# --- generation -------------------------------------------------------------------------------


class _Ids:
    def __init__(self, start: int) -> None:
        self._next = start

    def __call__(self) -> int:
        self._next += 1
        return self._next


def _at(day: dt.date, hour: int, minute: int = 0, second: int = 0) -> dt.datetime:
    return dt.datetime(day.year, day.month, day.day, hour, minute, second, tzinfo=dt.UTC)


def _day(index: int) -> dt.date:
    return MONTH_START + dt.timedelta(days=index % MONTH_DAYS)


def _customers(rng: random.Random, count: int) -> tuple[list[CustomerSpec], dict[int, TaxZone]]:
    customers: list[CustomerSpec] = []
    zones: dict[int, TaxZone] = {}
    for n in range(count):
        customer_id = 11001 + n
        if n % 8 == 7:
            name = COMPANIES[(n // 8) % len(COMPANIES)]
            kind: Literal["Residential", "Commercial"] = "Commercial"
        else:
            name = f"{LAST_NAMES[n % len(LAST_NAMES)]}, {FIRST_NAMES[(n * 7) % len(FIRST_NAMES)]}"
            kind = "Residential"
            if any(c.name == name for c in customers):
                name = f"{name} {n}"  # ServiceTitan allows it; a second household
        zone = ROUND_ROCK if rng.random() < 0.4 else TRAVIS
        city, postal = ("Round Rock", "78664") if zone is ROUND_ROCK else ("Austin", "78745")
        street = f"{100 + rng.randrange(9800)} {STREETS[rng.randrange(len(STREETS))]}"
        created = dt.datetime(2024, 1, 1, tzinfo=dt.UTC) + dt.timedelta(hours=97 * n)
        modified = _at(MONTH_START - dt.timedelta(days=1), 12, n // 60, n % 60)
        customers.append(
            CustomerSpec(
                customer_id,
                name,
                kind,
                AddressSpec(street, city, "TX", postal),
                12001 + n,
                created,
                modified,
            )
        )
        zones[customer_id] = zone
    return customers, zones


def _vendors(rng: random.Random, count: int) -> list[VendorSpec]:
    vendors = []
    for n, name in enumerate(VENDOR_NAMES[:count]):
        phone = f"512-555-{rng.randrange(10000):04d}"
        vendors.append(
            VendorSpec(
                17001 + n,
                name,
                ("Sam", "Ortiz", phone, f"orders{n}@vendor.example"),
                AddressSpec(f"{1000 + 37 * n} Industrial Blvd", "Austin", "TX", "78745"),
                f"Account {4400 + n}",
                "Delivery" if n % 2 else "Pickup",
                dt.datetime(2022, 1, 3, tzinfo=dt.UTC) + dt.timedelta(days=11 * n),
                _at(MONTH_START - dt.timedelta(days=1), 11, 0, n),
            )
        )
    return vendors


def _material(line_id: int, rng: random.Random, quantity: int | None = None) -> LineSpec:
    sku_id, sku, description, price, cost, kind = CATALOG[rng.randrange(len(CATALOG))]
    qty = quantity if quantity is not None else rng.choice((1, 1, 2, 3, 4, 6))
    return LineSpec(
        line_id, sku_id, sku, description, kind, Decimal(qty), Decimal(price), Decimal(cost), True
    )


def _labor(line_id: int, rng: random.Random, business_unit: str) -> LineSpec:
    hours = Decimal(rng.choice((2, 3, 4, 6, 8, 12))) / 2
    trade = "HVAC" if business_unit.startswith("HVAC") else "Plumbing"
    return LineSpec(
        line_id,
        90001,
        "Labor",
        f"{trade} labor",
        "Service",
        hours,
        rng.choice(LABOR_RATES),
        Decimal("38.00"),
        False,
    )


def _discount(line_id: int, amount: str) -> LineSpec:
    return LineSpec(
        line_id,
        90009,
        DISCOUNT_SKU,
        "Member discount",
        "PriceModifier",
        Decimal(1),
        -Decimal(amount),
        ZERO,
        False,
    )


def _spec(
    invoice_id: int,
    number: str,
    customer: CustomerSpec,
    business_unit: tuple[int, str],
    summary: str,
    lines: Sequence[LineSpec],
    day: dt.date,
    modified_on: dt.datetime,
) -> InvoiceSpec:
    return InvoiceSpec(
        invoice_id,
        number,
        customer,
        invoice_id + 100000,
        str(invoice_id + 100000),
        business_unit,
        summary,
        tuple(lines),
        day,
        _at(day, 14),
        modified_on,
        batch=(7100 + day.day, str(7100 + day.day), f"Batch {day.isoformat()}"),
    )


def _with_lines(invoice: _Invoice, lines: Sequence[LineSpec], modified_on: dt.datetime) -> _Invoice:
    return replace(invoice, spec=replace(invoice.spec, lines=tuple(lines), modified_on=modified_on))


def _invoice_json(invoice: _Invoice, balance: Decimal) -> dict[str, Any]:
    raw = invoice_json(invoice.spec)
    zone = invoice.zone
    raw.update(
        subTotal=money(invoice.subtotal),
        salesTax=money(invoice.sales_tax),
        salesTaxCode={"id": zone.id, "name": zone.name, "taxRate": float(zone.rate_percent)},
        taxZoneId=zone.id,
        total=money(invoice.total),
        balance=money(balance),
        adjustmentToId=invoice.adjustment_to,
        active=invoice.active,
    )
    return raw


def _payment_json(payment: _Payment, numbers: dict[int, str]) -> dict[str, Any]:
    midnight = _at(payment.paid_on, 0)
    check = payment.type == "Check"
    return {
        "active": payment.active,
        "appliedTo": [
            {
                "appliedAmount": money(amount),
                "appliedBy": "office@sandbox",
                "appliedId": payment.id * 10 + n,
                "appliedOn": st_time(_at(payment.paid_on, 16)),
                "appliedTo": invoice_id,
                "appliedToReferenceNumber": numbers[invoice_id],
            }
            for n, (invoice_id, amount) in enumerate(payment.applied, start=1)
        ],
        "authCode": None if check else f"A{payment.id % 100000:05d}",
        "batch": {"id": 7200 + payment.paid_on.day, "number": str(7200 + payment.paid_on.day)},
        "businessUnit": {"id": BUSINESS_UNITS[0][0], "name": BUSINESS_UNITS[0][1]},
        "checkNumber": payment.reference if check else None,
        "createdBy": "office@sandbox",
        "createdOn": st_time(_at(payment.paid_on, 16)),
        "customer": {"id": payment.customer.id, "name": payment.customer.name},
        "customFields": [],
        "date": st_time(midnight),
        "deposit": None,
        "generalLedgerAccount": UNDEPOSITED_FUNDS.json(),
        "id": payment.id,
        "memo": payment.memo,
        "modifiedOn": st_time(payment.modified_on),
        "referenceNumber": payment.reference,
        "refundedPaymentId": None,
        "syncStatus": "Posted",
        "total": money(payment.total),
        "type": payment.type,
        "typeId": "3" if check else "2",
        "unappliedAmount": money(payment.unapplied),
    }


class _Builder:
    """Generation state; `build()` returns the Month."""

    def __init__(self, seed: int, size: MonthSize) -> None:
        self.seed = seed
        self.size = size
        self.rng = random.Random(seed)
        self.customers, self.zones = _customers(self.rng, size.customers)
        self.vendors = _vendors(self.rng, size.vendors)
        self.invoices: dict[int, _Invoice] = {}  # first versions
        self.final: dict[int, _Invoice] = {}  # latest versions
        self.payments: dict[int, _Payment] = {}
        self.final_payments: dict[int, _Payment] = {}
        self.waiting: list[tuple[str, int]] = []  # (entity, id) in change order
        self.later: list[tuple[str, int, str]] = []  # (entity, id, kind)
        self.notes: dict[tuple[str, int], str] = {}
        self.waiting_customers: dict[int, CustomerSpec] = {}
        self.line_ids = _Ids(0)
        self.clock = 0

    def tick(self, day: dt.date) -> dt.datetime:
        """A unique modifiedOn late on `day` (records are exported in that order)."""
        self.clock += 1
        return _at(day, 22) + dt.timedelta(seconds=self.clock)

    def lines_for(self, invoice_id: int, business_unit: str) -> list[LineSpec]:
        rng = self.rng
        base = invoice_id * 10
        lines = [_labor(base + 1, rng, business_unit)]
        for k in range(rng.choice((0, 1, 1, 2, 3))):
            lines.append(_material(base + 2 + k, rng))
        if rng.random() < 0.15:
            lines.append(_discount(base + 8, rng.choice(("10.00", "25.00"))))
        return lines

    def regular_invoices(self, count: int) -> None:
        for n in range(count):
            invoice_id = 20001 + n
            customer = self.customers[(n * 31) % len(self.customers)]
            unit = BUSINESS_UNITS[n % 2]
            day = _day(n * 30 // count)
            spec = _spec(
                invoice_id,
                str(invoice_id),
                customer,
                unit,
                f"Service visit {n + 1}: {unit[1].split(' - ')[0].lower()} work",
                self.lines_for(invoice_id, unit[1]),
                day,
                self.tick(day),
            )
            self.invoices[invoice_id] = _Invoice(spec, self.zones[customer.id])

    def pick(self, pool: list[int], count: int) -> list[int]:
        chosen = self.rng.sample(pool, count)
        for invoice_id in chosen:
            pool.remove(invoice_id)
        return sorted(chosen)

    def adjustments(self, originals: list[int]) -> None:
        for n, original_id in enumerate(originals):
            original = self.invoices[original_id]
            material = next((line for line in original.spec.lines if line.taxable), None)
            base = (20501 + n) * 10
            lines = []
            if material is not None:
                returned = min(material.quantity, Decimal(1 + n % 2))
                lines.append(
                    replace(
                        material,
                        id=base + 1,
                        description=f"Returned: {material.description}",
                        quantity=-returned,
                    )
                )
            if material is None or n % 3 == 0:
                lines.append(
                    LineSpec(
                        base + 2,
                        90001,
                        "Labor",
                        "Labour credit",
                        "Service",
                        Decimal(1),
                        Decimal("-40.00"),
                        ZERO,
                        False,
                    )
                )
            day = min(original.spec.invoice_date + dt.timedelta(days=2), _day(MONTH_DAYS - 1))
            spec = _spec(
                20501 + n,
                f"{original.spec.number}-A",
                original.spec.customer,
                original.spec.business_unit,
                f"Adjustment to invoice {original.spec.number}",
                lines,
                day,
                self.tick(day),
            )
            self.invoices[spec.id] = _Invoice(spec, original.zone, adjustment_to=original_id)

    def refunds(self, count: int) -> None:
        for n in range(count):
            customer = self.customers[(7 + 13 * n) % len(self.customers)]
            day = _day(20 + n)
            invoice_id = 20601 + n
            line = LineSpec(
                invoice_id * 10 + 1, 90001, "Labor", "Goodwill credit (refund)", "Service",
                Decimal(1), Decimal("-60.00"), ZERO, False,
            )  # fmt: skip
            spec = _spec(
                invoice_id,
                str(invoice_id),
                customer,
                BUSINESS_UNITS[0],
                "Goodwill credit",
                [line],
                day,
                self.tick(day),
            )
            self.invoices[invoice_id] = _Invoice(spec, self.zones[customer.id])

    def net_due(self, invoice_id: int) -> Decimal:
        """Total less the credits of its adjustments (what payments must cover)."""
        invoice = self.final[invoice_id]
        credits = sum(
            (
                -adjustment.total
                for adjustment in self.final.values()
                if adjustment.adjustment_to == invoice_id and adjustment.active
            ),
            ZERO,
        )
        return invoice.total - credits

    def payment(
        self,
        customer: CustomerSpec,
        applied: Sequence[tuple[int, Decimal]],
        day: dt.date,
        unapplied: Decimal = ZERO,
    ) -> None:
        payment_id = 29001 + len(self.payments)
        kind = self.rng.choice(("Check", "Credit Card", "Credit Card"))
        reference = str(1000 + payment_id % 9000) if kind == "Check" else ""
        memo = "Paid in full" if not unapplied else "Overpaid: credit on account"
        payment = _Payment(
            payment_id,
            customer,
            tuple(applied),
            unapplied,
            day,
            self.tick(day),
            kind,
            memo,
            reference,
        )
        self.payments[payment_id] = payment
        self.final_payments[payment_id] = payment

    def payments_for(self, payable: list[int]) -> None:
        rng = self.rng
        queue = list(payable)
        while queue:
            invoice_id = queue.pop(0)
            invoice = self.final[invoice_id]
            due = self.net_due(invoice_id)
            if due <= 0:
                continue
            customer = invoice.spec.customer
            day = min(invoice.spec.invoice_date + dt.timedelta(days=rng.randrange(4)), _day(29))
            roll = rng.random()
            partner = next(
                (
                    other
                    for other in queue
                    if self.final[other].spec.customer.id == customer.id and self.net_due(other) > 0
                ),
                None,
            )
            if roll < 0.3 and due >= Decimal("100.00"):
                deposit = (due / 2).quantize(Decimal("1"), ROUND_HALF_UP)
                self.payment(customer, [(invoice_id, deposit)], day)
                self.payment(customer, [(invoice_id, due - deposit)], day)
            elif roll < 0.45 and partner is not None:
                queue.remove(partner)
                self.payment(customer, [(invoice_id, due), (partner, self.net_due(partner))], day)
            elif roll < 0.52:
                self.payment(customer, [(invoice_id, due)], day, unapplied=Decimal("20.00"))
            else:
                self.payment(customer, [(invoice_id, due)], day)

    def edit(self, invoice: _Invoice, n: int, at: dt.datetime) -> _Invoice:
        """A second version: a quantity changed, a line added or a line removed."""
        lines = list(invoice.spec.lines)
        if n % 3 == 0:
            lines[0] = replace(lines[0], quantity=lines[0].quantity + Decimal("0.5"))
        elif n % 3 == 1 or len(lines) == 1:
            lines.append(_material(invoice.id * 10 + 7, self.rng, quantity=2))
        else:
            lines.pop()
        return _with_lines(invoice, lines, at)

    def bills(self) -> list[dict[str, Any]]:
        rng = self.rng
        out = []
        for n in range(self.size.bills):
            bill_id = 26001 + n
            vendor = self.vendors[(n * 7) % len(self.vendors)]
            items = []
            for k in range(rng.choice((1, 2, 2, 3, 4))):
                sku_id, sku, description, _, cost, _ = CATALOG[rng.randrange(len(CATALOG))]
                account = INVENTORY_ASSET if rng.random() < 0.6 else JOB_MATERIALS
                items.append(
                    BillItemSpec(
                        bill_id * 10 + k,
                        sku_id,
                        sku,
                        description,
                        Decimal(rng.choice((1, 2, 5, 10, 25))),
                        Decimal(cost),
                        account,
                        bill_id * 10 + k + 500000,
                    )
                )
            day = _day(n)
            spec = BillSpec(
                bill_id,
                5001 + n,
                f"{vendor.name.split()[0][:3].upper()}-{40000 + n * 37}",
                vendor,
                f"Purchase order {5001 + n} received",
                tuple(items),
                rng.choice((ZERO, ZERO, Decimal("15.00"), Decimal("32.50"))),
                day,
                day,
                _at(day, 10),
                self.tick(day),
                BUSINESS_UNITS[n % 2],
                "Main warehouse",
                batch=(7300 + day.day, str(7300 + day.day), f"AP Batch {day.isoformat()}"),
            )
            out.append(bill_json(spec))
        return out

    def balances(
        self, invoices: dict[int, _Invoice], payments: dict[int, _Payment]
    ) -> dict[int, Decimal]:
        """ServiceTitan's balance of each invoice in one snapshot."""
        paid: dict[int, Decimal] = {}
        for payment in payments.values():
            if payment.active:
                for invoice_id, amount in payment.applied:
                    paid[invoice_id] = paid.get(invoice_id, ZERO) + amount
        for invoice in invoices.values():
            target = invoice.adjustment_to
            if invoice.active and target is not None and invoice.total < 0:
                paid[target] = paid.get(target, ZERO) - invoice.total
                paid[invoice.id] = paid.get(invoice.id, ZERO) + invoice.total
        return {i: inv.total - paid.get(i, ZERO) for i, inv in invoices.items()}

    def build(self) -> Month:
        rng = self.rng
        size = self.size
        self.regular_invoices(size.invoices)
        pool = sorted(self.invoices)
        voided_first = self.pick(pool, size.voided_first)
        void_later = self.pick(pool, size.voided_later)
        edit_later = self.pick(pool, size.edited_later)
        edit_waiting = self.pick(pool, size.edited_waiting)
        with_material = [i for i in pool if any(li.taxable for li in self.invoices[i].spec.lines)]
        self.adjustments(sorted(rng.sample(with_material, size.adjustments)))
        self.refunds(size.refunds)
        for invoice_id in voided_first:
            self.invoices[invoice_id] = replace(self.invoices[invoice_id], active=False)
        self.final = dict(self.invoices)
        waiting_versions: dict[int, _Invoice] = {}
        for n, invoice_id in enumerate(edit_waiting):
            at = AFTER_MONTH + dt.timedelta(minutes=n)
            waiting_versions[invoice_id] = self.edit(self.invoices[invoice_id], n, at)
        self.final.update(waiting_versions)
        # Invoices edited while waiting are left unpaid: a payment of the second version's
        # total would overpay the first in ServiceTitan's own snapshot.
        self.payments_for(pool)
        # Two payments of one invoice each, deleted after posting: those invoices open again.
        single = [p for p in self.payments.values() if len(p.applied) == 1 and not p.unapplied]
        deleted = sorted(rng.sample([p.id for p in single], size.deleted_payments))
        later_versions: dict[int, _Invoice] = {}
        for n, invoice_id in enumerate(edit_later):
            at = LATER + dt.timedelta(minutes=n)
            later_versions[invoice_id] = self.edit(self.invoices[invoice_id], n, at)
        for n, invoice_id in enumerate(void_later):
            at = LATER + dt.timedelta(hours=1, minutes=n)
            voided = self.invoices[invoice_id]
            later_versions[invoice_id] = replace(
                voided, active=False, spec=replace(voided.spec, modified_on=at)
            )
        self.final.update(later_versions)
        for n, payment_id in enumerate(deleted):
            at = LATER + dt.timedelta(hours=2, minutes=n)
            self.final_payments[payment_id] = replace(
                self.payments[payment_id], active=False, modified_on=at, memo="Deleted"
            )

        numbers = {i: inv.spec.number for i, inv in self.final.items()}
        first_balances = self.balances(self.invoices, self.payments)
        final_balances = self.balances(self.final, self.final_payments)
        waiting: list[Change] = []
        for invoice_id, version in waiting_versions.items():
            record = _invoice_json(version, final_balances[invoice_id])
            waiting.append(Change("invoices", record, "edit", "edited before it could post"))
        for n, customer in enumerate(rng.sample(self.customers, size.moved_customers)):
            moved = replace(
                customer,
                address=replace(customer.address, street=f"{200 + n} New Hope Dr"),
                modified_on=AFTER_MONTH + dt.timedelta(hours=1, minutes=n),
            )
            waiting.append(Change("customers", customer_json(moved), "edit", "moved"))
            self.waiting_customers[customer.id] = moved
        memo_payments = sorted(p for p in self.payments if p not in deleted)[: size.memo_payments]
        for n, payment_id in enumerate(memo_payments):
            payment = replace(
                self.payments[payment_id],
                memo="Memo corrected by the office",
                modified_on=AFTER_MONTH + dt.timedelta(hours=2, minutes=n),
            )
            self.final_payments[payment_id] = payment
            waiting.append(
                Change("payments", _payment_json(payment, numbers), "edit", "memo corrected")
            )
        later: list[Change] = []
        for invoice_id, version in later_versions.items():
            kind: Literal["edit", "void"] = "edit" if version.active else "void"
            note = "edited after posting" if version.active else "voided after posting"
            later.append(
                Change("invoices", _invoice_json(version, final_balances[invoice_id]), kind, note)
            )
        for payment_id in deleted:
            record = _payment_json(self.final_payments[payment_id], numbers)
            later.append(Change("payments", record, "void", "deleted after posting"))

        def by_modified(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            return sorted(records, key=lambda r: (str(r["modifiedOn"]), int(r["id"])))

        bills = by_modified(self.bills())
        return Month(
            seed=self.seed,
            customers=by_modified([customer_json(c) for c in self.customers]),
            vendors=by_modified([vendor_json(v) for v in self.vendors]),
            invoices=by_modified(
                [_invoice_json(inv, first_balances[i]) for i, inv in self.invoices.items()]
            ),
            payments=by_modified([_payment_json(p, numbers) for p in self.payments.values()]),
            bills=bills,
            tax_zones=[zone.json() for zone in ZONES],
            waiting_edits=waiting,
            later=later,
            _books=self.expected(voided_first, final_balances, bills),
        )

    def expected(
        self,
        voided_first: list[int],
        balances: dict[int, Decimal],
        bills: list[dict[str, Any]],
    ) -> Books:
        invoices: dict[int, ExpectedInvoice] = {}
        for invoice_id, invoice in self.final.items():
            credit = invoice.total < 0
            sign = Decimal(-1) if credit else Decimal(1)
            voided = not invoice.active
            invoices[invoice_id] = ExpectedInvoice(
                st_id=invoice_id,
                number=invoice.spec.number,
                kind="credit memo" if credit else "invoice",
                customer_id=invoice.spec.customer.id,
                tax_item=invoice.zone.quickbooks_item,
                subtotal=ZERO if voided else invoice.subtotal * sign,
                sales_tax=ZERO if voided else invoice.sales_tax * sign,
                total=ZERO if voided else invoice.total * sign,
                balance=ZERO if voided else balances[invoice_id] * sign,
                voided=voided,
                posted=invoice_id not in voided_first,
            )
        return Books(
            customers=tuple(c.id for c in self.customers),
            vendors=tuple(v.id for v in self.vendors),
            invoices=invoices,
            payments={p.id: p.total for p in self.final_payments.values() if p.active},
            deleted_payments=tuple(p.id for p in self.final_payments.values() if not p.active),
            bills={int(bill["id"]): Decimal(bill["billAmount"]) for bill in bills},
        )


def generate_month(seed: int = 7, size: MonthSize | None = None) -> Month:
    """The month for `seed` (and `size`, default the full month): the same seed and size
    always give the same records, byte for byte."""
    return _Builder(seed, size or MonthSize()).build()


__all__ = [
    "CHAOS_MAPPING",
    "ROUND_ROCK",
    "TRAVIS",
    "ZONES",
    "Books",
    "Change",
    "ExpectedInvoice",
    "Month",
    "MonthSize",
    "TaxZone",
    "apply_changes",
    "generate_month",
    "month_store",
]
