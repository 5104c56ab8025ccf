"""`mlconnector sim quickbooks company [--company PATH] LIST`: what the simulated company file
holds, as tables with amounts and balances. LIST is one of customers, vendors, invoices,
credit-memos, payments, bills, accounts.

`mlconnector sim quickbooks company [--company PATH] closing-date [YYYY-MM-DD|none]` prints the
company's closing date, or sets it (QuickBooks then refuses, with 3171, to add, modify, void or
delete a transaction dated on or before it), or clears it with `none`."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from mlconnector.qbsim.company import Company

LISTS = ("customers", "vendors", "invoices", "credit-memos", "payments", "bills", "accounts")
CLOSING_DATE = "closing-date"

Column = tuple[str, Callable[[Any], object], str]  # header, value, format spec ("<30", ">12")


def _attr(*names: str) -> Callable[[Any], object]:
    """The first of `names` the record has (dotted paths allowed), else None."""

    def get(record: Any) -> object:
        for name in names:
            value: Any = record
            for part in name.split("."):
                value = getattr(value, part, None)
                if value is None:
                    break
            if value is not None:
                return value
        return None

    return get


def _active(record: Any) -> object:
    return "" if getattr(record, "is_active", True) else "inactive"


def _status(record: Any) -> object:
    """void, paid (nothing owed or left) or open."""
    if getattr(record, "is_voided", False):
        return "void"
    left = getattr(record, "balance_remaining", None)
    if left is None:
        left = getattr(record, "credit_remaining", None)
    if left is None:
        left = getattr(record, "open_amount", None)
    return "paid" if left is not None and left == 0 else "open"


COLUMNS: dict[str, list[Column]] = {
    "customers": [
        ("ListID", _attr("core.list_id", "list_id"), "<20"),
        ("Name", _attr("full_name", "name"), "<41"),
        ("Balance", _attr("total_balance", "balance"), ">12"),
        ("EditSequence", _attr("core.edit_sequence", "edit_sequence"), "<16"),
        ("", _active, "<8"),
    ],
    "vendors": [
        ("ListID", _attr("core.list_id", "list_id"), "<20"),
        ("Name", _attr("full_name", "name"), "<41"),
        ("Balance", _attr("balance", "total_balance"), ">12"),
        ("EditSequence", _attr("core.edit_sequence", "edit_sequence"), "<16"),
        ("", _active, "<8"),
    ],
    "invoices": [
        ("TxnID", _attr("txn_id"), "<16"),
        ("Ref", _attr("ref_number"), "<11"),
        ("Date", _attr("txn_date"), "<10"),
        ("Customer", _attr("customer.full_name"), "<30"),
        ("Subtotal", _attr("subtotal"), ">10"),
        ("Tax", _attr("sales_tax_total"), ">8"),
        ("Total", _attr("total"), ">10"),
        ("Open", _attr("balance_remaining"), ">10"),
        ("Status", _status, "<6"),
    ],
    "credit-memos": [
        ("TxnID", _attr("txn_id"), "<16"),
        ("Ref", _attr("ref_number"), "<11"),
        ("Date", _attr("txn_date"), "<10"),
        ("Customer", _attr("customer.full_name"), "<30"),
        ("Subtotal", _attr("subtotal"), ">10"),
        ("Tax", _attr("sales_tax_total"), ">8"),
        ("Total", _attr("total_amount"), ">10"),
        ("Remaining", _attr("credit_remaining"), ">10"),
        ("Status", _status, "<6"),
    ],
    "payments": [
        ("TxnID", _attr("txn_id"), "<16"),
        ("Ref", _attr("ref_number"), "<20"),
        ("Date", _attr("txn_date"), "<10"),
        ("Customer", _attr("customer.full_name"), "<30"),
        ("Amount", _attr("total_amount", "amount"), ">10"),
        ("Unapplied", _attr("unused_payment", "unapplied_amount"), ">10"),
    ],
    "bills": [
        ("TxnID", _attr("txn_id"), "<16"),
        ("Ref", _attr("ref_number"), "<20"),
        ("Date", _attr("txn_date"), "<10"),
        ("Vendor", _attr("vendor.full_name"), "<30"),
        ("Amount", _attr("amount_due", "total", "amount"), ">10"),
        ("Open", _attr("open_amount", "balance_remaining"), ">10"),
        ("Status", _status, "<6"),
    ],
    "accounts": [
        ("ListID", _attr("core.list_id"), "<20"),
        ("Account", _attr("full_name"), "<31"),
        ("Type", _attr("account_type"), "<22"),
        ("Balance", _attr("balance"), ">12"),
    ],
}


def _cell(value: object, spec: str) -> str:
    if value is None:
        text = "-"
    elif isinstance(value, Decimal):
        text = f"{value:.2f}"
    else:
        text = str(value)
    return format(text, spec)


SOURCES: dict[str, Callable[[Company], Sequence[Any]]] = {
    "invoices": Company.invoices,
    "customers": Company.customers,
    "vendors": Company.vendors,
    "payments": Company.payments,
    "bills": Company.bills,
    "credit-memos": Company.credit_memos,
    "accounts": Company.accounts,
}


def print_table(company: Company, what: str, out: TextIO) -> None:
    columns = COLUMNS[what]
    records = SOURCES[what](company)
    header = " ".join(_cell(title, spec) for title, _, spec in columns).rstrip()
    print(header, file=out)
    print("-" * len(header), file=out)
    for record in records:
        print(" ".join(_cell(get(record), spec) for _, get, spec in columns).rstrip(), file=out)
    amount_column = {
        "customers": 2,
        "vendors": 2,
        "invoices": 6,
        "credit-memos": 6,
        "payments": 4,
        "bills": 4,
    }
    if what == "accounts":
        # A sum of balances across account types means nothing; A/R is the figure people ask.
        print(f"{len(records)} accounts; accounts receivable {company.ar_balance():.2f}", file=out)
        return
    index = amount_column[what]
    total = sum(
        (v for r in records if isinstance(v := columns[index][1](r), Decimal)), Decimal("0")
    )
    voided = sum(1 for r in records if getattr(r, "is_voided", False))
    tail = f" ({voided} void)" if voided else ""
    noun = what.replace("-", " ")
    count = noun if len(records) != 1 else noun.removesuffix("s")
    print(f"{len(records)} {count}{tail}; {columns[index][0].lower()} {total:.2f}", file=out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlconnector sim quickbooks company",
        description="Print what the simulated QuickBooks company file holds.",
    )
    parser.add_argument(
        "--company", default=":memory:", help="SQLite company file (as for the cycles)"
    )
    parser.add_argument(
        "list",
        choices=(*LISTS, CLOSING_DATE),
        help=f"which records to print, or {CLOSING_DATE} to print or set the closing date",
    )
    parser.add_argument(
        "value",
        nargs="?",
        help=f"with {CLOSING_DATE}: the new closing date (YYYY-MM-DD), or 'none' to clear it",
    )
    return parser


def run(argv: Sequence[str], *, out: TextIO, open_company: Callable[[str], Company]) -> int:
    """Print one list; 2 (nothing printed) when --company names no existing file."""
    parser = build_parser()
    args = parser.parse_args(list(argv))
    if args.company != ":memory:" and not Path(args.company).is_file():
        # Opening it would create an empty company and report 0 records: a typo in the path
        # must not look like an empty company file.
        print(
            f"Error: there is no company file at {args.company}: give the path a simulated Web "
            "Connector wrote (`mlconnector up` keeps its demo company in "
            "~/.mlconnector/quickbooks-demo.sqlite).",
            file=sys.stderr,
        )
        return 2
    if args.list != CLOSING_DATE and args.value is not None:
        parser.error(f"unexpected argument {args.value!r} after {args.list}")
    new_date: date | None = None
    if args.list == CLOSING_DATE and args.value is not None and args.value.lower() != "none":
        try:
            new_date = date.fromisoformat(args.value)
        except ValueError:
            parser.error(f"closing date {args.value!r} is not a date; use YYYY-MM-DD or none")
    with open_company(args.company) as company:
        if args.list != CLOSING_DATE:
            print_table(company, args.list, out)
            return 0
        if args.value is not None:
            company.set_closing_date(new_date)
        closed = company.closing_date
        shown = closed.isoformat() if closed is not None else "none (the books are open)"
        print(f"closing date: {shown}", file=out)
    return 0
