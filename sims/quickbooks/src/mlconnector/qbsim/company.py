"""A QuickBooks Desktop company file, simulated in SQLite.

Holds the lists (accounts, sales tax codes, items, customers/jobs, vendors) and the invoices that
the qbXML processor reads and writes, with QuickBooks' own rules where they matter to an
integration: ListID/TxnID shapes, an EditSequence that changes on every modification, names
unique across customers and vendors, invalid references refused, totals and sales tax computed
the way QuickBooks computes them, balances kept up to date.

Errors are raised as `QbError` carrying the qbXML status code and QuickBooks' message, so the
processor only has to copy them into the response.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Literal

CENT = Decimal("0.01")
SCHEMA_VERSION = 1

Clock = Callable[[], datetime]
ItemType = Literal["Service", "NonInventory", "OtherCharge", "SalesTax"]
EntityKind = Literal["Customer", "Vendor"]
ActiveStatus = Literal["ActiveOnly", "InactiveOnly", "All"]
MatchCriterion = Literal["StartsWith", "Contains", "EndsWith"]

# QuickBooks' own wording (as returned in statusMessage by QuickBooks 2014+; the same texts are
# quoted in consolibyte/quickbooks-php issues and the Intuit developer forums).
MSG_OK = "Status OK"
MSG_NO_MATCH = "A query request did not find a matching object in QuickBooks"
MSG_INVALID_ARGUMENT = (
    "QuickBooks error message: Invalid argument.  The specified record does not exist in the list."
)


class QbError(Exception):
    """A request QuickBooks refuses: carries the qbXML statusCode and statusMessage."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def name_in_use(name: str) -> QbError:
    return QbError(3100, f'The name "{name}" of the list element is already in use.')


def invalid_reference(kind: str, value: str, where: str) -> QbError:
    return QbError(
        3140,
        f'There is an invalid reference to QuickBooks {kind} "{value}" in the {where}.  '
        + MSG_INVALID_ARGUMENT,
    )


def round_cents(value: Decimal) -> Decimal:
    """QuickBooks rounds amounts half-up to the cent (3.09375 -> 3.09, 0.125 -> 0.13)."""
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def to_qb_stored(text: str | None) -> str | None:
    # QuickBooks Desktop stores ISO-8859-1 only; anything else comes back as "?".
    if text is None:
        return None
    return text.encode("iso-8859-1", "replace").decode("iso-8859-1")


def local_now() -> datetime:
    return datetime.now().astimezone().replace(microsecond=0)


@dataclass(frozen=True)
class RefSpec:
    """A reference as written in a request: ListID wins over FullName, as in QuickBooks."""

    list_id: str | None = None
    full_name: str | None = None

    @property
    def shown(self) -> str:
        return self.list_id or self.full_name or ""


@dataclass(frozen=True)
class Ref:
    list_id: str
    full_name: str


@dataclass(frozen=True)
class Address:
    addr1: str | None = None
    addr2: str | None = None
    addr3: str | None = None
    addr4: str | None = None
    addr5: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None
    note: str | None = None

    # qbXML element name for each field, in the schema's order.
    FIELDS = (
        ("Addr1", "addr1"),
        ("Addr2", "addr2"),
        ("Addr3", "addr3"),
        ("Addr4", "addr4"),
        ("Addr5", "addr5"),
        ("City", "city"),
        ("State", "state"),
        ("PostalCode", "postal_code"),
        ("Country", "country"),
        ("Note", "note"),
    )

    def is_empty(self) -> bool:
        return all(getattr(self, attr) is None for _, attr in self.FIELDS)

    def to_json(self) -> str | None:
        if self.is_empty():
            return None
        return json.dumps({attr: getattr(self, attr) for _, attr in self.FIELDS})

    @classmethod
    def from_json(cls, raw: str | None) -> Address | None:
        if not raw:
            return None
        data = json.loads(raw)
        return cls(**{attr: data.get(attr) for _, attr in cls.FIELDS})


@dataclass(frozen=True)
class ListCore:
    list_id: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str


@dataclass(frozen=True)
class Account:
    core: ListCore
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int
    account_type: str
    special_account_type: str | None
    account_number: str | None
    description: str | None
    balance: Decimal


@dataclass(frozen=True)
class SalesTaxCode:
    core: ListCore
    name: str
    is_active: bool
    is_taxable: bool
    description: str | None


@dataclass(frozen=True)
class Item:
    core: ListCore
    item_type: ItemType
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int
    description: str | None
    price: Decimal | None
    price_percent: Decimal | None
    account: Ref | None
    sales_tax_code: Ref | None
    tax_rate: Decimal | None
    tax_vendor: Ref | None


@dataclass(frozen=True)
class Entity:
    """A customer (or job) or a vendor: they share one name list in QuickBooks."""

    core: ListCore
    kind: EntityKind
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int
    company_name: str | None
    first_name: str | None
    last_name: str | None
    bill_address: Address | None
    ship_address: Address | None
    phone: str | None
    email: str | None
    balance: Decimal
    total_balance: Decimal
    sales_tax_code: Ref | None
    item_sales_tax: Ref | None
    account_number: str | None
    notes: str | None
    external_guid: str | None


@dataclass(frozen=True)
class CustomerDraft:
    name: str
    is_active: bool = True
    parent: RefSpec | None = None
    company_name: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    phone: str | None = None
    email: str | None = None
    sales_tax_code: RefSpec | None = None
    item_sales_tax: RefSpec | None = None
    account_number: str | None = None
    notes: str | None = None
    external_guid: str | None = None


@dataclass(frozen=True)
class InvoiceLineDraft:
    item: RefSpec | None = None
    description: str | None = None
    quantity: Decimal | None = None
    rate: Decimal | None = None
    rate_percent: Decimal | None = None
    amount: Decimal | None = None
    service_date: date | None = None
    sales_tax_code: RefSpec | None = None


@dataclass(frozen=True)
class InvoiceDraft:
    customer: RefSpec
    lines: Sequence[InvoiceLineDraft] = ()
    ar_account: RefSpec | None = None
    txn_date: date | None = None
    ref_number: str | None = None
    bill_address: Address | None = None
    ship_address: Address | None = None
    is_pending: bool | None = None
    po_number: str | None = None
    due_date: date | None = None
    item_sales_tax: RefSpec | None = None
    memo: str | None = None
    is_to_be_printed: bool | None = None
    is_to_be_emailed: bool | None = None
    customer_sales_tax_code: RefSpec | None = None
    other: str | None = None
    external_guid: str | None = None


@dataclass(frozen=True)
class InvoiceLine:
    txn_line_id: str
    item: Ref | None
    description: str | None
    quantity: Decimal | None
    rate: Decimal | None
    rate_percent: Decimal | None
    amount: Decimal
    service_date: date | None
    sales_tax_code: Ref | None


@dataclass(frozen=True)
class Invoice:
    txn_id: str
    time_created: datetime
    time_modified: datetime
    edit_sequence: str
    txn_number: int
    customer: Ref
    ar_account: Ref
    txn_date: date
    ref_number: str | None
    bill_address: Address | None
    ship_address: Address | None
    is_pending: bool
    po_number: str | None
    due_date: date
    ship_date: date
    subtotal: Decimal
    item_sales_tax: Ref | None
    sales_tax_percentage: Decimal
    sales_tax_total: Decimal
    applied_amount: Decimal
    balance_remaining: Decimal
    memo: str | None
    is_paid: bool
    is_to_be_printed: bool
    is_to_be_emailed: bool
    customer_sales_tax_code: Ref | None
    other: str | None
    external_guid: str | None
    lines: tuple[InvoiceLine, ...] = field(default=())

    @property
    def total(self) -> Decimal:
        return self.subtotal + self.sales_tax_total


@dataclass(frozen=True)
class ListFilter:
    """The list-query filters CustomerQuery/ItemQuery/AccountQuery share."""

    list_ids: Sequence[str] = ()
    full_names: Sequence[str] = ()
    max_returned: int | None = None
    active_status: ActiveStatus = "ActiveOnly"
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    name_match: tuple[MatchCriterion, str] | None = None
    name_range: tuple[str | None, str | None] | None = None
    account_types: Sequence[str] = ()


@dataclass(frozen=True)
class InvoiceFilter:
    txn_ids: Sequence[str] = ()
    ref_numbers: Sequence[str] = ()
    ref_numbers_case_sensitive: Sequence[str] = ()
    max_returned: int | None = None
    from_modified: datetime | None = None
    to_modified: datetime | None = None
    from_txn_date: date | None = None
    to_txn_date: date | None = None
    entity_list_ids: Sequence[str] = ()
    entity_full_names: Sequence[str] = ()
    entity_with_children: bool = False
    ref_number_match: tuple[MatchCriterion, str] | None = None
    ref_number_range: tuple[str | None, str | None] | None = None
    paid_status: Literal["All", "PaidOnly", "NotPaidOnly"] = "All"


_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE accounts (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    name TEXT NOT NULL, full_name TEXT NOT NULL, is_active INTEGER NOT NULL,
    parent_id TEXT REFERENCES accounts(list_id), sublevel INTEGER NOT NULL,
    account_type TEXT NOT NULL, special_account_type TEXT, account_number TEXT,
    description TEXT, balance TEXT NOT NULL
);
CREATE UNIQUE INDEX accounts_full_name ON accounts (full_name COLLATE NOCASE);
CREATE TABLE sales_tax_codes (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    name TEXT NOT NULL, is_active INTEGER NOT NULL, is_taxable INTEGER NOT NULL,
    description TEXT
);
CREATE UNIQUE INDEX sales_tax_codes_name ON sales_tax_codes (name COLLATE NOCASE);
CREATE TABLE items (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    item_type TEXT NOT NULL, name TEXT NOT NULL, full_name TEXT NOT NULL,
    is_active INTEGER NOT NULL, parent_id TEXT REFERENCES items(list_id),
    sublevel INTEGER NOT NULL, description TEXT, price TEXT, price_percent TEXT,
    account_id TEXT REFERENCES accounts(list_id),
    sales_tax_code_id TEXT REFERENCES sales_tax_codes(list_id),
    tax_rate TEXT, tax_vendor_id TEXT
);
CREATE UNIQUE INDEX items_full_name ON items (full_name COLLATE NOCASE);
CREATE TABLE entities (
    list_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL,
    kind TEXT NOT NULL, name TEXT NOT NULL, full_name TEXT NOT NULL,
    is_active INTEGER NOT NULL, parent_id TEXT REFERENCES entities(list_id),
    sublevel INTEGER NOT NULL, company_name TEXT, first_name TEXT, last_name TEXT,
    bill_address TEXT, ship_address TEXT, phone TEXT, email TEXT,
    balance TEXT NOT NULL, sales_tax_code_id TEXT, item_sales_tax_id TEXT,
    account_number TEXT, notes TEXT, external_guid TEXT
);
-- One name list for customers, vendors (and, in QuickBooks, employees and other names).
CREATE UNIQUE INDEX entities_full_name ON entities (full_name COLLATE NOCASE);
CREATE TABLE invoices (
    txn_id TEXT PRIMARY KEY, time_created TEXT NOT NULL, time_modified TEXT NOT NULL,
    modified_epoch INTEGER NOT NULL, edit_sequence TEXT NOT NULL, txn_number INTEGER NOT NULL,
    customer_id TEXT NOT NULL REFERENCES entities(list_id),
    ar_account_id TEXT NOT NULL REFERENCES accounts(list_id),
    txn_date TEXT NOT NULL, ref_number TEXT, bill_address TEXT, ship_address TEXT,
    is_pending INTEGER NOT NULL, po_number TEXT, due_date TEXT NOT NULL, ship_date TEXT NOT NULL,
    subtotal TEXT NOT NULL, item_sales_tax_id TEXT, sales_tax_percentage TEXT NOT NULL,
    sales_tax_total TEXT NOT NULL, applied_amount TEXT NOT NULL,
    balance_remaining TEXT NOT NULL, memo TEXT, is_paid INTEGER NOT NULL,
    is_to_be_printed INTEGER NOT NULL, is_to_be_emailed INTEGER NOT NULL,
    customer_sales_tax_code_id TEXT, other TEXT, external_guid TEXT
);
CREATE INDEX invoices_ref_number ON invoices (ref_number);
CREATE TABLE invoice_lines (
    txn_line_id TEXT PRIMARY KEY, txn_id TEXT NOT NULL REFERENCES invoices(txn_id),
    position INTEGER NOT NULL, item_id TEXT REFERENCES items(list_id), description TEXT,
    quantity TEXT, rate TEXT, rate_percent TEXT, amount TEXT NOT NULL, service_date TEXT,
    sales_tax_code_id TEXT REFERENCES sales_tax_codes(list_id)
);
"""


def _dec(raw: str | None) -> Decimal | None:
    return Decimal(raw) if raw is not None else None


def _date(raw: str | None) -> date | None:
    return date.fromisoformat(raw) if raw is not None else None


class Company:
    """One company file. `path` is a SQLite file (created if missing) or ":memory:"."""

    def __init__(self, path: str | Path = ":memory:", *, clock: Clock = local_now) -> None:
        self.path = str(path)
        self._clock = clock
        self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        self._db.row_factory = sqlite3.Row
        self._db.execute("PRAGMA foreign_keys = ON")
        self._depth = 0
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version == 0:
            # executescript commits first, so the script carries its own transaction.
            self._db.executescript(
                f"BEGIN; {_SCHEMA} PRAGMA user_version = {SCHEMA_VERSION}; COMMIT;"
            )
        elif version != SCHEMA_VERSION:
            raise ValueError(f"{self.path}: company schema version {version} is not supported")

    # -- plumbing ---------------------------------------------------------------------------

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Company:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All-or-nothing: one request's changes are saved together or not at all."""
        name = f"sp{self._depth}"
        self._db.execute(f"SAVEPOINT {name}")
        self._depth += 1
        try:
            yield
        except BaseException:
            self._db.execute(f"ROLLBACK TO {name}")
            self._db.execute(f"RELEASE {name}")
            raise
        else:
            self._db.execute(f"RELEASE {name}")
        finally:
            self._depth -= 1

    @property
    def is_empty(self) -> bool:
        count: int = self._db.execute("SELECT COUNT(*) FROM accounts").fetchone()[0]
        return count == 0

    def now(self) -> datetime:
        return self._clock().replace(microsecond=0)

    def get_meta(self, key: str) -> str | None:
        row = self._db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return str(row[0]) if row else None

    def set_meta(self, key: str, value: str) -> None:
        self._db.execute(
            "INSERT INTO meta (key, value) VALUES (?, ?) "
            "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
            (key, value),
        )

    @property
    def company_name(self) -> str:
        return self.get_meta("company_name") or "Simulated Company"

    def _next_counter(self, key: str, start: int) -> int:
        current = self.get_meta(key)
        value = int(current) if current is not None else start
        self.set_meta(key, str(value + 1))
        return value

    def _new_list_id(self, now: datetime) -> str:
        # QuickBooks ListIDs: an 8-hex-digit sequence starting at 80000001, "-", and the
        # creation time in seconds since 1970 (e.g. "80000001-1700000000").
        return f"{self._next_counter('next_list_seq', 0x80000001):08X}-{int(now.timestamp())}"

    def _new_txn_id(self, now: datetime) -> str:
        # TxnIDs and TxnLineIDs share one shorter hex sequence ("1A-1700000000").
        return f"{self._next_counter('next_txn_seq', 0x10):X}-{int(now.timestamp())}"

    @staticmethod
    def _edit_sequence(now: datetime, previous: str | None = None) -> str:
        # QuickBooks' EditSequence is the modification time in seconds; it must change on
        # every modification, even two in the same second.
        value = int(now.timestamp())
        if previous is not None and previous.isdigit():
            value = max(value, int(previous) + 1)
        return str(value)

    def _core_values(self, now: datetime) -> tuple[str, str, int, str]:
        stamp = now.isoformat()
        return stamp, stamp, int(now.timestamp()), self._edit_sequence(now)

    def _touch(self, table: str, key_column: str, key: str) -> None:
        now = self.now()
        previous = self._db.execute(
            f"SELECT edit_sequence FROM {table} WHERE {key_column} = ?", (key,)
        ).fetchone()[0]
        self._db.execute(
            f"UPDATE {table} SET time_modified = ?, modified_epoch = ?, edit_sequence = ? "
            f"WHERE {key_column} = ?",
            (now.isoformat(), int(now.timestamp()), self._edit_sequence(now, previous), key),
        )

    @staticmethod
    def _core(row: sqlite3.Row) -> ListCore:
        return ListCore(
            list_id=row["list_id"],
            time_created=datetime.fromisoformat(row["time_created"]),
            time_modified=datetime.fromisoformat(row["time_modified"]),
            edit_sequence=row["edit_sequence"],
        )

    def _ref(self, table: str, list_id: str | None) -> Ref | None:
        if list_id is None:
            return None
        column = "name" if table == "sales_tax_codes" else "full_name"
        row = self._db.execute(
            f"SELECT list_id, {column} AS full_name FROM {table} WHERE list_id = ?", (list_id,)
        ).fetchone()
        return Ref(row["list_id"], row["full_name"]) if row else None

    def _resolve(self, table: str, spec: RefSpec) -> str | None:
        """The ListID a reference names, or None. ListID wins when both are given."""
        column = "name" if table == "sales_tax_codes" else "full_name"
        if spec.list_id is not None:
            row = self._db.execute(
                f"SELECT list_id FROM {table} WHERE list_id = ?", (spec.list_id,)
            ).fetchone()
        elif spec.full_name is not None:
            row = self._db.execute(
                f"SELECT list_id FROM {table} WHERE {column} = ? COLLATE NOCASE",
                (spec.full_name,),
            ).fetchone()
        else:
            return None
        return str(row[0]) if row else None

    def _require(self, table: str, spec: RefSpec, kind: str, where: str) -> str:
        found = self._resolve(table, spec)
        if found is None:
            raise invalid_reference(kind, spec.shown, where)
        return found

    def _adjust_balance(self, table: str, list_id: str, delta: Decimal) -> None:
        row = self._db.execute(
            f"SELECT balance FROM {table} WHERE list_id = ?", (list_id,)
        ).fetchone()
        self._db.execute(
            f"UPDATE {table} SET balance = ? WHERE list_id = ?",
            (str(Decimal(row[0]) + delta), list_id),
        )

    # -- accounts ---------------------------------------------------------------------------

    def add_account(
        self,
        name: str,
        account_type: str,
        *,
        special_account_type: str | None = None,
        account_number: str | None = None,
        description: str | None = None,
        parent: RefSpec | None = None,
    ) -> Account:
        now = self.now()
        with self.transaction():
            parent_id = self._require("accounts", parent, "Account", "Account") if parent else None
            parent_row = self._account_row(parent_id) if parent_id else None
            full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
            if self._resolve("accounts", RefSpec(full_name=full_name)) is not None:
                raise name_in_use(full_name)
            list_id = self._new_list_id(now)
            self._db.execute(
                "INSERT INTO accounts VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    list_id,
                    *self._core_values(now),
                    name,
                    full_name,
                    1,
                    parent_id,
                    parent_row["sublevel"] + 1 if parent_row else 0,
                    account_type,
                    special_account_type,
                    account_number,
                    description,
                    "0.00",
                ),
            )
        return self.account(list_id)

    def _account_row(self, list_id: str) -> sqlite3.Row:
        row: sqlite3.Row = self._db.execute(
            "SELECT * FROM accounts WHERE list_id = ?", (list_id,)
        ).fetchone()
        return row

    def _account_from(self, row: sqlite3.Row) -> Account:
        return Account(
            core=self._core(row),
            name=row["name"],
            full_name=row["full_name"],
            is_active=bool(row["is_active"]),
            parent=self._ref("accounts", row["parent_id"]),
            sublevel=row["sublevel"],
            account_type=row["account_type"],
            special_account_type=row["special_account_type"],
            account_number=row["account_number"],
            description=row["description"],
            balance=Decimal(row["balance"]),
        )

    def account(self, list_id: str) -> Account:
        return self._account_from(self._account_row(list_id))

    def account_by_special(self, special: str) -> Account | None:
        row = self._db.execute(
            "SELECT * FROM accounts WHERE special_account_type = ? ORDER BY list_id", (special,)
        ).fetchone()
        return self._account_from(row) if row else None

    def query_accounts(self, flt: ListFilter) -> tuple[list[Account], list[str]]:
        rows, missing = self._list_query("accounts", flt)
        accounts = [self._account_from(r) for r in rows]
        if flt.account_types:
            accounts = [a for a in accounts if a.account_type in flt.account_types]
        return accounts, missing

    # -- sales tax codes --------------------------------------------------------------------

    def add_sales_tax_code(
        self, name: str, *, is_taxable: bool, description: str | None = None
    ) -> SalesTaxCode:
        now = self.now()
        with self.transaction():
            if self._resolve("sales_tax_codes", RefSpec(full_name=name)) is not None:
                raise name_in_use(name)
            list_id = self._new_list_id(now)
            self._db.execute(
                "INSERT INTO sales_tax_codes VALUES (?,?,?,?,?,?,?,?,?)",
                (list_id, *self._core_values(now), name, 1, int(is_taxable), description),
            )
        return self.sales_tax_code(list_id)

    def sales_tax_code(self, list_id: str) -> SalesTaxCode:
        row = self._db.execute(
            "SELECT * FROM sales_tax_codes WHERE list_id = ?", (list_id,)
        ).fetchone()
        return SalesTaxCode(
            core=self._core(row),
            name=row["name"],
            is_active=bool(row["is_active"]),
            is_taxable=bool(row["is_taxable"]),
            description=row["description"],
        )

    def _is_taxable_code(self, list_id: str | None) -> bool:
        if list_id is None:
            return False
        row = self._db.execute(
            "SELECT is_taxable FROM sales_tax_codes WHERE list_id = ?", (list_id,)
        ).fetchone()
        return bool(row and row[0])

    def _default_code(self, taxable: bool) -> str | None:
        key = "default_taxable_code" if taxable else "default_non_taxable_code"
        return self.get_meta(key)

    # -- items ------------------------------------------------------------------------------

    def add_item(
        self,
        item_type: ItemType,
        name: str,
        *,
        description: str | None = None,
        price: Decimal | None = None,
        price_percent: Decimal | None = None,
        account: RefSpec | None = None,
        sales_tax_code: RefSpec | None = None,
        tax_rate: Decimal | None = None,
        tax_vendor: RefSpec | None = None,
        parent: RefSpec | None = None,
        is_active: bool = True,
    ) -> Item:
        now = self.now()
        where = f"Item{item_type}"
        with self.transaction():
            parent_id = self._require("items", parent, "Item", where) if parent else None
            parent_row = (
                self._db.execute("SELECT * FROM items WHERE list_id = ?", (parent_id,)).fetchone()
                if parent_id
                else None
            )
            full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
            if self._resolve("items", RefSpec(full_name=full_name)) is not None:
                raise name_in_use(full_name)
            account_id = self._require("accounts", account, "Account", where) if account else None
            if item_type != "SalesTax" and account_id is None:
                # QuickBooks refuses a sales item without an income account.
                raise QbError(
                    3180,
                    "There was an error when saving a "
                    f"{where.replace('Item', '').lower()} item.  QuickBooks error message: "
                    "An account must be specified.",
                )
            if item_type == "SalesTax":
                code_id = None
            elif sales_tax_code is not None:
                code_id = self._require("sales_tax_codes", sales_tax_code, "SalesTaxCode", where)
            else:
                code_id = self._default_code(taxable=item_type == "NonInventory")
            vendor_id = (
                self._require("entities", tax_vendor, "Vendor", where) if tax_vendor else None
            )
            list_id = self._new_list_id(now)
            self._db.execute(
                "INSERT INTO items VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    list_id,
                    *self._core_values(now),
                    item_type,
                    to_qb_stored(name),
                    full_name,
                    int(is_active),
                    parent_id,
                    parent_row["sublevel"] + 1 if parent_row else 0,
                    to_qb_stored(description),
                    None if price is None else str(price),
                    None if price_percent is None else str(price_percent),
                    account_id,
                    code_id,
                    None if tax_rate is None else str(tax_rate),
                    vendor_id,
                ),
            )
        return self.item(list_id)

    def _item_from(self, row: sqlite3.Row) -> Item:
        return Item(
            core=self._core(row),
            item_type=row["item_type"],
            name=row["name"],
            full_name=row["full_name"],
            is_active=bool(row["is_active"]),
            parent=self._ref("items", row["parent_id"]),
            sublevel=row["sublevel"],
            description=row["description"],
            price=_dec(row["price"]),
            price_percent=_dec(row["price_percent"]),
            account=self._ref("accounts", row["account_id"]),
            sales_tax_code=self._ref("sales_tax_codes", row["sales_tax_code_id"]),
            tax_rate=_dec(row["tax_rate"]),
            tax_vendor=self._ref("entities", row["tax_vendor_id"]),
        )

    def item(self, list_id: str) -> Item:
        return self._item_from(
            self._db.execute("SELECT * FROM items WHERE list_id = ?", (list_id,)).fetchone()
        )

    def query_items(self, flt: ListFilter) -> tuple[list[Item], list[str]]:
        rows, missing = self._list_query("items", flt)
        return [self._item_from(r) for r in rows], missing

    # -- customers and vendors --------------------------------------------------------------

    def add_customer(self, draft: CustomerDraft) -> Entity:
        now = self.now()
        with self.transaction():
            parent_row = None
            if draft.parent is not None:
                parent_id = self._resolve("entities", draft.parent)
                if parent_id is not None:
                    parent_row = self._entity_row(parent_id)
                if parent_row is None or parent_row["kind"] != "Customer":
                    raise invalid_reference("Customer", draft.parent.shown, "Customer")
            name = to_qb_stored(draft.name) or ""
            full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
            if self._resolve("entities", RefSpec(full_name=full_name)) is not None:
                raise name_in_use(full_name)
            if draft.sales_tax_code is not None:
                code_id: str | None = self._require(
                    "sales_tax_codes", draft.sales_tax_code, "SalesTaxCode", "Customer"
                )
            elif parent_row is not None:
                code_id = parent_row["sales_tax_code_id"]  # a job inherits its customer's
            else:
                code_id = self._default_code(taxable=True)
            if draft.item_sales_tax is not None:
                tax_item_id: str | None = self._require(
                    "items", draft.item_sales_tax, "Item", "Customer"
                )
            elif parent_row is not None:
                tax_item_id = parent_row["item_sales_tax_id"]
            else:
                # Preferences > Sales Tax > "Your most common sales tax item" goes on new
                # customers.
                tax_item_id = self.get_meta("most_common_sales_tax_item")
            list_id = self._new_list_id(now)
            self._insert_entity(
                list_id,
                now,
                "Customer",
                name,
                full_name,
                draft.is_active,
                parent_row["list_id"] if parent_row else None,
                parent_row["sublevel"] + 1 if parent_row else 0,
                draft.company_name,
                draft.first_name,
                draft.last_name,
                draft.bill_address,
                draft.ship_address,
                draft.phone,
                draft.email,
                code_id,
                tax_item_id,
                draft.account_number,
                draft.notes,
                draft.external_guid,
            )
        return self.entity(list_id)

    def add_vendor(
        self,
        name: str,
        *,
        company_name: str | None = None,
        address: Address | None = None,
        phone: str | None = None,
        email: str | None = None,
        account_number: str | None = None,
    ) -> Entity:
        now = self.now()
        with self.transaction():
            if self._resolve("entities", RefSpec(full_name=name)) is not None:
                raise name_in_use(name)
            list_id = self._new_list_id(now)
            self._insert_entity(
                list_id,
                now,
                "Vendor",
                name,
                name,
                True,
                None,
                0,
                company_name,
                None,
                None,
                address,
                None,
                phone,
                email,
                None,
                None,
                account_number,
                None,
                None,
            )
        return self.entity(list_id)

    def _insert_entity(
        self,
        list_id: str,
        now: datetime,
        kind: EntityKind,
        name: str,
        full_name: str,
        is_active: bool,
        parent_id: str | None,
        sublevel: int,
        company_name: str | None,
        first_name: str | None,
        last_name: str | None,
        bill: Address | None,
        ship: Address | None,
        phone: str | None,
        email: str | None,
        code_id: str | None,
        tax_item_id: str | None,
        account_number: str | None,
        notes: str | None,
        external_guid: str | None,
    ) -> None:
        self._db.execute(
            "INSERT INTO entities VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                list_id,
                *self._core_values(now),
                kind,
                name,
                full_name,
                int(is_active),
                parent_id,
                sublevel,
                to_qb_stored(company_name),
                to_qb_stored(first_name),
                to_qb_stored(last_name),
                bill.to_json() if bill else None,
                ship.to_json() if ship else None,
                phone,
                email,
                "0.00",
                code_id,
                tax_item_id,
                account_number,
                to_qb_stored(notes),
                external_guid,
            ),
        )

    def _entity_row(self, list_id: str) -> sqlite3.Row | None:
        row: sqlite3.Row | None = self._db.execute(
            "SELECT * FROM entities WHERE list_id = ?", (list_id,)
        ).fetchone()
        return row

    def _entity_from(self, row: sqlite3.Row) -> Entity:
        balance = Decimal(row["balance"])
        children = self._db.execute(
            "SELECT balance FROM entities WHERE full_name LIKE ? ESCAPE '\\'",
            (
                row["full_name"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                + ":%",
            ),
        ).fetchall()
        return Entity(
            core=self._core(row),
            kind=row["kind"],
            name=row["name"],
            full_name=row["full_name"],
            is_active=bool(row["is_active"]),
            parent=self._ref("entities", row["parent_id"]),
            sublevel=row["sublevel"],
            company_name=row["company_name"],
            first_name=row["first_name"],
            last_name=row["last_name"],
            bill_address=Address.from_json(row["bill_address"]),
            ship_address=Address.from_json(row["ship_address"]),
            phone=row["phone"],
            email=row["email"],
            balance=balance,
            total_balance=balance + sum((Decimal(c[0]) for c in children), Decimal("0.00")),
            sales_tax_code=self._ref("sales_tax_codes", row["sales_tax_code_id"]),
            item_sales_tax=self._ref("items", row["item_sales_tax_id"]),
            account_number=row["account_number"],
            notes=row["notes"],
            external_guid=row["external_guid"],
        )

    def entity(self, list_id: str) -> Entity:
        row = self._entity_row(list_id)
        if row is None:
            raise KeyError(list_id)
        return self._entity_from(row)

    def customer_by_name(self, full_name: str) -> Entity | None:
        list_id = self._resolve("entities", RefSpec(full_name=full_name))
        if list_id is None:
            return None
        found = self.entity(list_id)
        return found if found.kind == "Customer" else None

    def query_customers(self, flt: ListFilter) -> tuple[list[Entity], list[str]]:
        rows, missing = self._list_query("entities", flt, kind="Customer")
        return [self._entity_from(r) for r in rows], missing

    def customers(self) -> list[Entity]:
        return self.query_customers(ListFilter(active_status="All"))[0]

    # -- list queries -----------------------------------------------------------------------

    def _list_query(
        self, table: str, flt: ListFilter, kind: str | None = None
    ) -> tuple[list[sqlite3.Row], list[str]]:
        """Rows matching a list query, and the ListIDs/FullNames asked for but not found.

        As in QuickBooks, a query by ListID or FullName ignores ActiveStatus (it names the
        records) and reports each one it cannot find; the other filters combine with AND.
        """
        kind_sql, kind_args = ("AND kind = ?", [kind]) if kind else ("", [])
        if flt.list_ids or flt.full_names:
            rows: list[sqlite3.Row] = []
            missing: list[str] = []
            column, wanted = (
                ("list_id", flt.list_ids) if flt.list_ids else ("full_name", flt.full_names)
            )
            collate = " COLLATE NOCASE" if column == "full_name" else ""
            for value in wanted:
                row = self._db.execute(
                    f"SELECT * FROM {table} WHERE {column} = ?{collate} {kind_sql}",
                    [value, *kind_args],
                ).fetchone()
                if row is None:
                    missing.append(value)
                elif row["list_id"] not in {r["list_id"] for r in rows}:
                    rows.append(row)
            return rows, missing
        clauses = ["1 = 1"]
        args: list[object] = []
        if kind:
            clauses.append("kind = ?")
            args.append(kind)
        if flt.active_status == "ActiveOnly":
            clauses.append("is_active = 1")
        elif flt.active_status == "InactiveOnly":
            clauses.append("is_active = 0")
        if flt.from_modified is not None:
            clauses.append("modified_epoch >= ?")
            args.append(int(flt.from_modified.timestamp()))
        if flt.to_modified is not None:
            clauses.append("modified_epoch <= ?")
            args.append(int(flt.to_modified.timestamp()))
        # NameFilter and NameRangeFilter apply to the FullName in QuickBooks list queries.
        name_column = "name" if table == "sales_tax_codes" else "full_name"
        if flt.name_match is not None:
            criterion, text = flt.name_match
            pattern = {"StartsWith": "{}%", "Contains": "%{}%", "EndsWith": "%{}"}[criterion]
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append(f"{name_column} LIKE ? ESCAPE '\\'")
            args.append(pattern.format(escaped))
        if flt.name_range is not None:
            low, high = flt.name_range
            if low is not None:
                clauses.append(f"{name_column} >= ? COLLATE NOCASE")
                args.append(low)
            if high is not None:
                clauses.append(f"{name_column} <= ? COLLATE NOCASE")
                args.append(high)
        sql = (
            f"SELECT * FROM {table} WHERE {' AND '.join(clauses)} "
            f"ORDER BY {name_column} COLLATE NOCASE"
        )
        if flt.max_returned is not None:
            sql += f" LIMIT {int(flt.max_returned)}"
        return list(self._db.execute(sql, args).fetchall()), []

    # -- invoices ---------------------------------------------------------------------------

    def add_invoice(self, draft: InvoiceDraft) -> Invoice:
        now = self.now()
        with self.transaction():
            customer_id = self._resolve("entities", draft.customer)
            customer = self._entity_row(customer_id) if customer_id else None
            if customer is None or customer["kind"] != "Customer":
                raise invalid_reference("Customer", draft.customer.shown, "Invoice")
            if draft.ar_account is not None:
                ar_id = self._require("accounts", draft.ar_account, "Account", "Invoice")
            else:
                ar = self.account_by_special("AccountsReceivable")
                if ar is None:
                    raise QbError(3140, "There is no Accounts Receivable account in QuickBooks.")
                ar_id = ar.core.list_id
            if draft.item_sales_tax is not None:
                tax_item_id: str | None = self._require(
                    "items", draft.item_sales_tax, "Item", "Invoice"
                )
            else:
                tax_item_id = customer["item_sales_tax_id"] or self.get_meta(
                    "most_common_sales_tax_item"
                )
            if draft.customer_sales_tax_code is not None:
                customer_code_id: str | None = self._require(
                    "sales_tax_codes", draft.customer_sales_tax_code, "SalesTaxCode", "Invoice"
                )
            else:
                customer_code_id = customer["sales_tax_code_id"]

            txn_id = self._new_txn_id(now)  # QuickBooks numbers the header before its lines
            lines = self._price_lines(draft.lines, now)
            subtotal = sum((line.amount for line in lines), Decimal("0.00"))
            # US sales tax in QuickBooks: a line is taxed when its own code is taxable and the
            # customer's code is taxable; the tax item's rate applies to the taxable subtotal,
            # rounded once (not per line).
            taxable = Decimal("0.00")
            if self._is_taxable_code(customer_code_id) or customer_code_id is None:
                taxable = sum(
                    (
                        line.amount
                        for line in lines
                        if line.sales_tax_code is not None
                        and self._is_taxable_code(line.sales_tax_code.list_id)
                    ),
                    Decimal("0.00"),
                )
            rate = Decimal("0")
            if tax_item_id is not None:
                tax_item = self.item(tax_item_id)
                rate = tax_item.tax_rate or Decimal("0")
            tax = round_cents(taxable * rate / 100)
            total = subtotal + tax

            txn_date = draft.txn_date or now.date()
            ref_number = (
                draft.ref_number if draft.ref_number is not None else (self._next_invoice_number())
            )
            txn_number = self._next_counter("next_txn_number", 1)
            bill = draft.bill_address or Address.from_json(customer["bill_address"])
            ship = draft.ship_address or Address.from_json(customer["ship_address"])
            self._db.execute(
                "INSERT INTO invoices VALUES "
                "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    txn_id,
                    *self._core_values(now),
                    txn_number,
                    customer["list_id"],
                    ar_id,
                    txn_date.isoformat(),
                    ref_number,
                    bill.to_json() if bill else None,
                    ship.to_json() if ship else None,
                    int(bool(draft.is_pending)),
                    draft.po_number,
                    (draft.due_date or txn_date).isoformat(),
                    txn_date.isoformat(),
                    str(subtotal),
                    tax_item_id,
                    str(rate),
                    str(tax),
                    "0.00",
                    str(total),
                    to_qb_stored(draft.memo),
                    int(total == 0),
                    int(bool(draft.is_to_be_printed)),
                    int(bool(draft.is_to_be_emailed)),
                    customer_code_id,
                    draft.other,
                    draft.external_guid,
                ),
            )
            for position, line in enumerate(lines):
                self._db.execute(
                    "INSERT INTO invoice_lines VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                    (
                        line.txn_line_id,
                        txn_id,
                        position,
                        line.item.list_id if line.item else None,
                        to_qb_stored(line.description),
                        None if line.quantity is None else str(line.quantity),
                        None if line.rate is None else str(line.rate),
                        None if line.rate_percent is None else str(line.rate_percent),
                        str(line.amount),
                        line.service_date.isoformat() if line.service_date else None,
                        line.sales_tax_code.list_id if line.sales_tax_code else None,
                    ),
                )
                if line.item is not None:
                    account = self.item(line.item.list_id).account
                    if account is not None:
                        self._adjust_balance("accounts", account.list_id, line.amount)
            if tax and tax_item_id is not None:
                payable = self.item(tax_item_id).account or self._special_ref("SalesTaxPayable")
                if payable is not None:
                    self._adjust_balance("accounts", payable.list_id, tax)
            self._adjust_balance("accounts", ar_id, total)
            self._adjust_balance("entities", customer["list_id"], total)
        return self.invoice(txn_id)

    def _special_ref(self, special: str) -> Ref | None:
        found = self.account_by_special(special)
        return Ref(found.core.list_id, found.full_name) if found else None

    def _next_invoice_number(self) -> str:
        # QuickBooks numbers a new invoice one past the last one entered.
        row = self._db.execute(
            "SELECT ref_number FROM invoices WHERE ref_number IS NOT NULL "
            "ORDER BY txn_number DESC LIMIT 1"
        ).fetchone()
        last = row[0] if row else None
        if last is None:
            return "1"
        digits = len(last) - len(last.rstrip("0123456789"))
        if digits == 0:
            return "1"
        head, number = last[: len(last) - digits], last[len(last) - digits :]
        return f"{head}{int(number) + 1:0{digits}d}"[-11:]

    def _price_lines(self, drafts: Sequence[InvoiceLineDraft], now: datetime) -> list[InvoiceLine]:
        lines: list[InvoiceLine] = []
        for draft in drafts:
            item: Item | None = None
            if draft.item is not None:
                item_id = self._resolve("items", draft.item)
                if item_id is None:
                    raise invalid_reference("Item", draft.item.shown, "Invoice line")
                item = self.item(item_id)
            rate = draft.rate
            rate_percent = draft.rate_percent
            quantity = draft.quantity
            if rate is None and rate_percent is None and item is not None:
                if item.price_percent is not None:
                    rate_percent = item.price_percent
                elif item.price is not None and draft.amount is None:
                    rate = item.price
            if draft.amount is not None:
                amount = round_cents(draft.amount)
                if rate is None and rate_percent is None and quantity:
                    rate = (amount / quantity).quantize(Decimal("0.00001"))
            elif rate_percent is not None:
                # A percentage item applies to the line just above it (QuickBooks' rule for
                # percent-priced other-charge and discount items).
                base = lines[-1].amount if lines else Decimal("0")
                amount = round_cents(base * rate_percent / 100)
            elif rate is not None:
                amount = round_cents((quantity if quantity is not None else Decimal(1)) * rate)
            else:
                amount = Decimal("0.00")
            if draft.sales_tax_code is not None:
                code_id = self._require(
                    "sales_tax_codes", draft.sales_tax_code, "SalesTaxCode", "Invoice line"
                )
                code = self._ref("sales_tax_codes", code_id)
            else:
                code = item.sales_tax_code if item is not None else None
            description = draft.description
            if description is None and item is not None:
                description = item.description
            lines.append(
                InvoiceLine(
                    txn_line_id=self._new_txn_id(now),
                    item=Ref(item.core.list_id, item.full_name) if item else None,
                    description=description,
                    quantity=quantity,
                    rate=rate,
                    rate_percent=rate_percent,
                    amount=amount,
                    service_date=draft.service_date,
                    sales_tax_code=code,
                )
            )
        return lines

    def _invoice_from(self, row: sqlite3.Row, with_lines: bool) -> Invoice:
        lines: tuple[InvoiceLine, ...] = ()
        if with_lines:
            lines = tuple(
                InvoiceLine(
                    txn_line_id=r["txn_line_id"],
                    item=self._ref("items", r["item_id"]),
                    description=r["description"],
                    quantity=_dec(r["quantity"]),
                    rate=_dec(r["rate"]),
                    rate_percent=_dec(r["rate_percent"]),
                    amount=Decimal(r["amount"]),
                    service_date=_date(r["service_date"]),
                    sales_tax_code=self._ref("sales_tax_codes", r["sales_tax_code_id"]),
                )
                for r in self._db.execute(
                    "SELECT * FROM invoice_lines WHERE txn_id = ? ORDER BY position",
                    (row["txn_id"],),
                )
            )
        customer = self._ref("entities", row["customer_id"])
        ar_account = self._ref("accounts", row["ar_account_id"])
        assert customer is not None  # foreign keys guarantee both
        assert ar_account is not None
        return Invoice(
            txn_id=row["txn_id"],
            time_created=datetime.fromisoformat(row["time_created"]),
            time_modified=datetime.fromisoformat(row["time_modified"]),
            edit_sequence=row["edit_sequence"],
            txn_number=row["txn_number"],
            customer=customer,
            ar_account=ar_account,
            txn_date=date.fromisoformat(row["txn_date"]),
            ref_number=row["ref_number"],
            bill_address=Address.from_json(row["bill_address"]),
            ship_address=Address.from_json(row["ship_address"]),
            is_pending=bool(row["is_pending"]),
            po_number=row["po_number"],
            due_date=date.fromisoformat(row["due_date"]),
            ship_date=date.fromisoformat(row["ship_date"]),
            subtotal=Decimal(row["subtotal"]),
            item_sales_tax=self._ref("items", row["item_sales_tax_id"]),
            sales_tax_percentage=Decimal(row["sales_tax_percentage"]),
            sales_tax_total=Decimal(row["sales_tax_total"]),
            applied_amount=Decimal(row["applied_amount"]),
            balance_remaining=Decimal(row["balance_remaining"]),
            memo=row["memo"],
            is_paid=bool(row["is_paid"]),
            is_to_be_printed=bool(row["is_to_be_printed"]),
            is_to_be_emailed=bool(row["is_to_be_emailed"]),
            customer_sales_tax_code=self._ref("sales_tax_codes", row["customer_sales_tax_code_id"]),
            other=row["other"],
            external_guid=row["external_guid"],
            lines=lines,
        )

    def invoice(self, txn_id: str, *, with_lines: bool = True) -> Invoice:
        row = self._db.execute("SELECT * FROM invoices WHERE txn_id = ?", (txn_id,)).fetchone()
        if row is None:
            raise KeyError(txn_id)
        return self._invoice_from(row, with_lines)

    def invoices(self) -> list[Invoice]:
        return self.query_invoices(InvoiceFilter(), with_lines=True)[0]

    def query_invoices(
        self, flt: InvoiceFilter, *, with_lines: bool = False
    ) -> tuple[list[Invoice], list[str]]:
        """Invoices matching a query, and the TxnIDs asked for but not found."""
        if flt.txn_ids:
            found: list[Invoice] = []
            missing: list[str] = []
            for txn_id in flt.txn_ids:
                try:
                    found.append(self.invoice(txn_id, with_lines=with_lines))
                except KeyError:
                    missing.append(txn_id)
            return found, missing
        clauses = ["1 = 1"]
        args: list[object] = []
        if flt.ref_numbers:
            # RefNumber matches case-insensitively; RefNumberCaseSensitive exactly.
            clauses.append(
                "(" + " OR ".join("ref_number = ? COLLATE NOCASE" for _ in flt.ref_numbers) + ")"
            )
            args.extend(flt.ref_numbers)
        if flt.ref_numbers_case_sensitive:
            clauses.append(
                "ref_number IN (" + ",".join("?" for _ in flt.ref_numbers_case_sensitive) + ")"
            )
            args.extend(flt.ref_numbers_case_sensitive)
        if flt.from_modified is not None:
            clauses.append("modified_epoch >= ?")
            args.append(int(flt.from_modified.timestamp()))
        if flt.to_modified is not None:
            clauses.append("modified_epoch <= ?")
            args.append(int(flt.to_modified.timestamp()))
        if flt.from_txn_date is not None:
            clauses.append("txn_date >= ?")
            args.append(flt.from_txn_date.isoformat())
        if flt.to_txn_date is not None:
            clauses.append("txn_date <= ?")
            args.append(flt.to_txn_date.isoformat())
        if flt.entity_list_ids or flt.entity_full_names:
            names = [
                e.full_name
                for e in (
                    self._entity_from(row)
                    for row in (self._entity_row(i) for i in flt.entity_list_ids)
                    if row is not None
                )
            ] + list(flt.entity_full_names)
            parts = []
            for name in names:
                parts.append(
                    "customer_id IN (SELECT list_id FROM entities WHERE full_name = ? "
                    "COLLATE NOCASE"
                    + (" OR full_name LIKE ? ESCAPE '\\'" if flt.entity_with_children else "")
                    + ")"
                )
                args.append(name)
                if flt.entity_with_children:
                    escaped = name.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
                    args.append(escaped + ":%")
            clauses.append("(" + (" OR ".join(parts) or "0") + ")")
        if flt.ref_number_match is not None:
            criterion, text = flt.ref_number_match
            pattern = {"StartsWith": "{}%", "Contains": "%{}%", "EndsWith": "%{}"}[criterion]
            escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
            clauses.append("ref_number LIKE ? ESCAPE '\\'")
            args.append(pattern.format(escaped))
        if flt.ref_number_range is not None:
            low, high = flt.ref_number_range
            if low is not None:
                clauses.append("ref_number >= ?")
                args.append(low)
            if high is not None:
                clauses.append("ref_number <= ?")
                args.append(high)
        if flt.paid_status == "PaidOnly":
            clauses.append("is_paid = 1")
        elif flt.paid_status == "NotPaidOnly":
            clauses.append("is_paid = 0")
        sql = f"SELECT * FROM invoices WHERE {' AND '.join(clauses)} ORDER BY txn_number"
        if flt.max_returned is not None:
            sql += f" LIMIT {int(flt.max_returned)}"
        rows = self._db.execute(sql, args).fetchall()
        return [self._invoice_from(r, with_lines) for r in rows], []


def seed_contractor(
    company: Company, *, name: str = "Mountain Line Plumbing & HVAC", sample_customers: bool = False
) -> None:
    """A plumbing/HVAC contractor's company file as QuickBooks' Contractor edition sets it up.

    Customers are only created with `sample_customers`, so that an integration's own
    customers never collide with seeded names (3100) unless a test wants that.
    """
    with company.transaction():
        company.set_meta("company_name", name)
        company.add_account("Checking", "Bank")
        company.add_account(
            "Accounts Receivable", "AccountsReceivable", special_account_type="AccountsReceivable"
        )
        company.add_account(
            "Undeposited Funds", "OtherCurrentAsset", special_account_type="UndepositedFunds"
        )
        company.add_account(
            "Accounts Payable", "AccountsPayable", special_account_type="AccountsPayable"
        )
        company.add_account(
            "Sales Tax Payable", "OtherCurrentLiability", special_account_type="SalesTaxPayable"
        )
        company.add_account(
            "Opening Balance Equity", "Equity", special_account_type="OpeningBalanceEquity"
        )
        company.add_account("Service Income", "Income", description="Labor and service calls")
        company.add_account("Materials Income", "Income", description="Parts and materials sold")
        company.add_account(
            "Cost of Goods Sold", "CostOfGoodsSold", special_account_type="CostOfGoodsSold"
        )
        company.add_account("Job Materials", "CostOfGoodsSold", description="Materials for jobs")
        company.add_account("Subcontractors", "Expense")
        company.add_account("Vehicle Expense", "Expense")

        taxable = company.add_sales_tax_code("Tax", is_taxable=True, description="Taxable Sales")
        non = company.add_sales_tax_code("Non", is_taxable=False, description="Non-Taxable Sales")
        company.set_meta("default_taxable_code", taxable.core.list_id)
        company.set_meta("default_non_taxable_code", non.core.list_id)

        agency = company.add_vendor(
            "State Board of Equalization",
            address=Address(
                addr1="PO Box 942879", city="Sacramento", state="CA", postal_code="94279"
            ),
        )
        company.add_vendor(
            "Ferguson Supply",
            company_name="Ferguson Enterprises",
            address=Address(
                addr1="1200 Industrial Way", city="Springfield", state="CA", postal_code="95101"
            ),
            phone="555-0140",
            account_number="ML-20931",
        )
        company.add_vendor("Johnstone Supply", company_name="Johnstone Supply", phone="555-0177")
        company.add_vendor("City of Springfield", company_name="City of Springfield")

        tax_item = company.add_item(
            "SalesTax",
            "ST Sales Tax",
            description="State and local sales tax",
            tax_rate=Decimal("8.25"),
            tax_vendor=RefSpec(full_name=agency.full_name),
        )
        company.set_meta("most_common_sales_tax_item", tax_item.core.list_id)

        service = RefSpec(full_name="Service Income")
        materials = RefSpec(full_name="Materials Income")
        non_ref = RefSpec(full_name="Non")
        tax_ref = RefSpec(full_name="Tax")
        company.add_item(
            "Service",
            "Labor",
            description="Labor",
            price=Decimal("95.00"),
            account=service,
            sales_tax_code=non_ref,
        )
        company.add_item(
            "Service",
            "ST Service",
            description="ServiceTitan service",
            account=service,
            sales_tax_code=non_ref,
        )
        company.add_item(
            "Service",
            "Service Call",
            description="Diagnostic service call",
            price=Decimal("89.00"),
            account=service,
            sales_tax_code=non_ref,
        )
        company.add_item(
            "Service",
            "HVAC Maintenance",
            description="Seasonal HVAC tune-up",
            price=Decimal("149.00"),
            account=service,
            sales_tax_code=non_ref,
        )
        company.add_item(
            "NonInventory",
            "PVC-075",
            description='3/4" PVC pipe, per foot',
            price=Decimal("3.75"),
            account=materials,
            sales_tax_code=tax_ref,
        )
        company.add_item(
            "NonInventory",
            "CU-050",
            description='1/2" copper pipe, per foot',
            price=Decimal("6.40"),
            account=materials,
            sales_tax_code=tax_ref,
        )
        company.add_item(
            "NonInventory",
            "WH-50G",
            description="50 gal gas water heater",
            price=Decimal("1150.00"),
            account=materials,
            sales_tax_code=tax_ref,
        )
        # The parts the demo ServiceTitan pricebook sells, so its invoices map item for item.
        for sku, description, price in (
            ("FLTR-16251", "Air filter 16x25x1 MERV 11", "18.75"),
            ("R410A-LB", "R-410A refrigerant, per lb", "42.00"),
            ("PVC-150", '1-1/2" PVC DWV pipe, 10 ft', "12.35"),
            ("VLV-BALL-100", '1" full-port brass ball valve', "27.80"),
            ("DRN-ENZ-32", "Enzyme drain cleaner, 32 oz", "24.99"),
        ):
            company.add_item(
                "NonInventory",
                sku,
                description=description,
                price=Decimal(price),
                account=materials,
                sales_tax_code=tax_ref,
            )
        company.add_item(
            "NonInventory",
            "ST Materials",
            description="ServiceTitan materials",
            account=materials,
            sales_tax_code=tax_ref,
        )
        company.add_item(
            "OtherCharge",
            "Permit Fee",
            description="Municipal permit fee",
            account=service,
            sales_tax_code=non_ref,
        )
        company.add_item(
            "OtherCharge",
            "Trip Charge",
            description="Trip charge",
            price=Decimal("35.00"),
            account=service,
            sales_tax_code=non_ref,
        )

        if sample_customers:
            smith = company.add_customer(
                CustomerDraft(
                    name="Smith, John",
                    first_name="John",
                    last_name="Smith",
                    bill_address=Address(
                        addr1="John Smith",
                        addr2="12 Oak St",
                        city="Springfield",
                        state="CA",
                        postal_code="95101",
                    ),
                    phone="555-0101",
                )
            )
            company.add_customer(
                CustomerDraft(
                    name="Water Heater Replacement", parent=RefSpec(list_id=smith.core.list_id)
                )
            )
            company.add_customer(
                CustomerDraft(
                    name="Acme Property Management",
                    company_name="Acme Property Management",
                    bill_address=Address(
                        addr1="Acme Property Management",
                        addr2="400 Main St",
                        city="Springfield",
                        state="CA",
                        postal_code="95102",
                    ),
                )
            )
