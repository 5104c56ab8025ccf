"""Comparing the QuickBooks company file and audit with ServiceTitan's final state, to the cent.

`compare` returns every discrepancy as a sentence (an empty list: the books are exactly
right) and the counts the chaos test prints. What QuickBooks must hold comes from the month's
`books()` (amounts and balances) and from the sandbox's final records (names, addresses,
memos, lines, applications), never from what the services say they did.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mlconnector.common.envelopes import record_guid
from mlconnector.qbsim.company import Company
from mlconnector.stsandbox.month import Books, ExpectedInvoice
from mlconnector.stsandbox.store import SandboxStore

ZERO = Decimal("0.00")


def d(value: Any) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


@dataclass
class Comparison:
    """Counts per kind of record (`expected`, `found` once, `doubled`, `missing`, `stale`,
    `wrong` amounts) and every discrepancy found."""

    counts: dict[str, Counter[str]] = field(default_factory=lambda: defaultdict(Counter))
    problems: list[str] = field(default_factory=list)

    def problem(self, kind: str, what: str, sentence: str) -> None:
        self.counts[kind][what] += 1
        self.problems.append(f"{kind}: {sentence}")

    def table(self) -> str:
        kinds = ("customer", "vendor", "invoice", "credit memo", "payment", "bill")
        columns = ("expected", "once", "doubled", "missing", "stale", "wrong", "audit")
        lines = [f"{'':12}" + "".join(f"{c:>10}" for c in columns)]
        for kind in kinds:
            row = self.counts.get(kind, Counter())
            lines.append(f"{kind:12}" + "".join(f"{row.get(c, 0):>10}" for c in columns))
        return "\n".join(lines)

    def total(self, what: str) -> int:
        return sum(row.get(what, 0) for row in self.counts.values())


def _by_guid(items: list[Any]) -> dict[str, list[Any]]:
    found: dict[str, list[Any]] = defaultdict(list)
    for item in items:
        if item.external_guid:
            found[item.external_guid.upper()].append(item)
    return found


def compare(
    company: Company,
    books: Books,
    store: SandboxStore,
    audit: dict[tuple[str, int], list[dict[str, Any]]],
    connection: str,
) -> Comparison:
    """QuickBooks and audit against ServiceTitan's final state (`audit`: the connection's
    audit records by (entity, ServiceTitan id))."""
    result = Comparison()
    qb_ids = _parties(result, company, store, audit)
    _invoices(result, company, books, store, audit, connection, qb_ids)
    _payments(result, company, books, store, audit, connection)
    _bills(result, company, books, store, audit, connection)
    _balances(result, company, books, store, qb_ids)
    return result


def _audit_agrees(
    result: Comparison,
    kind: str,
    audit: dict[tuple[str, int], list[dict[str, Any]]],
    entity: str,
    st_id: int,
    status: str,
    qb_id: str | None,
    qb_amount: Decimal | None = None,
) -> None:
    """Audit shows one record for it, with QuickBooks' status, id and amount."""
    rows = audit.get((entity, st_id), [])
    if len(rows) != 1:
        result.problem(kind, "audit wrong", f"{entity} {st_id}: {len(rows)} audit records")
        return
    row = rows[0]
    seen = (row["status"], row["qb_id"] if qb_id is not None else None)
    if seen != (status, qb_id):
        result.problem(
            kind,
            "audit wrong",
            f"{entity} {st_id}: audit says {row['status']!r} {row['qb_id']!r} "
            f"({row['message']!r}), QuickBooks {status!r} {qb_id!r}",
        )
        return
    if qb_amount is not None and row["qb_amount"] != f"{qb_amount:.2f}":
        result.problem(
            kind,
            "audit wrong",
            f"{entity} {st_id}: audit's QuickBooks amount {row['qb_amount']} is not "
            f"QuickBooks' {qb_amount:.2f}",
        )
        return
    result.counts[kind]["audit"] += 1


def _parties(
    result: Comparison,
    company: Company,
    store: SandboxStore,
    audit: dict[tuple[str, int], list[dict[str, Any]]],
) -> dict[int, str]:
    """Customers and vendors by name: one each, ServiceTitan's newest name and street.
    Returns ServiceTitan customer id -> QuickBooks full name."""
    names: dict[int, str] = {}
    for entity, kind, listed in (
        ("customers", "customer", company.customers()),
        ("vendors", "vendor", company.vendors()),
    ):
        by_name: dict[str, list[Any]] = defaultdict(list)
        for party in listed:
            by_name[party.full_name].append(party)
        for record in store.all(entity):  # type: ignore[arg-type]
            st_id = int(record["id"])
            result.counts[kind]["expected"] += 1
            found = by_name.get(record["name"], [])
            if not found:
                result.problem(kind, "missing", f"{record['name']!r} ({st_id}) not in QuickBooks")
                continue
            if len(found) > 1:
                result.problem(
                    kind, "doubled", f"{record['name']!r} is in QuickBooks {len(found)}x"
                )
                continue
            party = found[0]
            result.counts[kind]["once"] += 1
            if kind == "customer":
                names[st_id] = party.full_name
            street = (record.get("address") or {}).get("street")
            address = party.bill_address if kind == "customer" else None
            if address is not None and street and street not in (address.addr1, address.addr2):
                result.problem(
                    kind,
                    "stale",
                    f"{record['name']!r}: QuickBooks has {address.addr2!r}, ServiceTitan "
                    f"{street!r}",
                )
            _audit_agrees(result, kind, audit, kind, st_id, "posted", party.core.list_id)
    return names


def _invoices(
    result: Comparison,
    company: Company,
    books: Books,
    store: SandboxStore,
    audit: dict[tuple[str, int], list[dict[str, Any]]],
    connection: str,
    customers: dict[int, str],
) -> None:
    invoices = _by_guid(company.invoices())
    memos = _by_guid(company.credit_memos())
    for st_id, expected in sorted(books.invoices.items()):
        kind = expected.kind
        result.counts[kind]["expected"] += 1
        guid = record_guid(connection, "invoice", st_id).upper()
        found = (memos if kind == "credit memo" else invoices).get(guid, [])
        other = (invoices if kind == "credit memo" else memos).get(guid, [])
        if other:
            result.problem(kind, "wrong", f"{expected.number}: posted as the other kind")
        if not expected.posted:
            if found or other:
                result.problem(kind, "doubled", f"{expected.number}: posted though inactive")
            else:
                result.counts[kind]["once"] += 1
                _audit_agrees(result, kind, audit, "invoice", st_id, "voided", None)
            continue
        if not found:
            result.problem(kind, "missing", f"{expected.number} ({st_id}) not in QuickBooks")
            continue
        if len(found) > 1:
            result.problem(kind, "doubled", f"{expected.number} is in QuickBooks {len(found)}x")
            continue
        result.counts[kind]["once"] += 1
        txn = found[0]
        record = store.get("invoices", st_id)
        assert record is not None
        _one_invoice(result, expected, txn, record, customers)
        status = "voided" if expected.voided else "posted"
        _audit_agrees(
            result,
            kind,
            audit,
            "invoice",
            st_id,
            status,
            txn.txn_id,
            None if expected.voided else expected.total,
        )


def _one_invoice(
    result: Comparison,
    expected: ExpectedInvoice,
    txn: Any,
    record: dict[str, Any],
    customers: dict[int, str],
) -> None:
    kind = expected.kind
    total = txn.total_amount if kind == "credit memo" else txn.subtotal + txn.sales_tax_total
    balance = txn.credit_remaining if kind == "credit memo" else txn.balance_remaining
    seen = (txn.subtotal, txn.sales_tax_total, total, balance, txn.is_voided)
    wanted = (
        expected.subtotal,
        expected.sales_tax,
        expected.total,
        expected.balance,
        expected.voided,
    )
    if seen != wanted:
        result.problem(
            kind,
            "wrong",
            f"{expected.number}: QuickBooks (subtotal, tax, total, balance, voided) {seen}, "
            f"ServiceTitan {wanted}",
        )
    if txn.customer.full_name != customers.get(expected.customer_id):
        result.problem(kind, "wrong", f"{expected.number}: customer {txn.customer.full_name!r}")
    tax_item = txn.item_sales_tax.full_name if txn.item_sales_tax else None
    if not expected.voided and tax_item != expected.tax_item:
        result.problem(kind, "wrong", f"{expected.number}: tax item {tax_item!r}")
    if expected.voided:
        return
    sign = Decimal(-1) if kind == "credit memo" else Decimal(1)
    st_lines = sorted(d(item["total"]) * sign for item in record["items"])
    qb_lines = sorted(line.amount for line in txn.lines)
    if st_lines != qb_lines:
        result.problem(
            kind,
            "stale",
            f"{expected.number}: QuickBooks' lines {qb_lines}, ServiceTitan's newest {st_lines}",
        )


def _payments(
    result: Comparison,
    company: Company,
    books: Books,
    store: SandboxStore,
    audit: dict[tuple[str, int], list[dict[str, Any]]],
    connection: str,
) -> None:
    kind = "payment"
    payments = _by_guid(company.payments())
    known = {record_guid(connection, "payment", st_id).upper() for st_id in store_ids(store)}
    strays = [p for guid, found in payments.items() if guid not in known for p in found]
    if strays:
        result.problem(kind, "doubled", f"{len(strays)} payment(s) nobody can trace")
    for record in store.all("payments"):
        st_id = int(record["id"])
        result.counts[kind]["expected"] += 1
        found = payments.get(record_guid(connection, "payment", st_id).upper(), [])
        if st_id in books.deleted_payments:
            if found:
                result.problem(kind, "stale", f"{st_id}: deleted in ServiceTitan, still in QB")
                continue
            result.counts[kind]["once"] += 1
            _audit_agrees(result, kind, audit, "payment", st_id, "voided", None)
            continue
        if not found:
            result.problem(kind, "missing", f"{st_id} not in QuickBooks")
            continue
        if len(found) > 1:
            result.problem(kind, "doubled", f"{st_id} is in QuickBooks {len(found)}x")
            continue
        result.counts[kind]["once"] += 1
        payment = found[0]
        applied = sorted((a.ref_number, a.amount) for a in payment.applied_to)
        wanted = sorted(
            (a["appliedToReferenceNumber"], d(a["appliedAmount"])) for a in record["appliedTo"]
        )
        seen = (payment.total_amount, payment.unused_payment, applied)
        expected = (books.payments[st_id], d(record["unappliedAmount"]), wanted)
        if seen != expected:
            result.problem(kind, "wrong", f"{st_id}: QuickBooks {seen}, ServiceTitan {expected}")
        if (payment.memo or "") != (record["memo"] or "") and record["memo"] not in (
            payment.memo or ""
        ):
            result.problem(kind, "stale", f"{st_id}: memo {payment.memo!r}, not {record['memo']!r}")
        _audit_agrees(
            result, kind, audit, "payment", st_id, "posted", payment.txn_id, payment.total_amount
        )


def store_ids(store: SandboxStore) -> list[int]:
    return [int(record["id"]) for record in store.all("payments")]


def _bills(
    result: Comparison,
    company: Company,
    books: Books,
    store: SandboxStore,
    audit: dict[tuple[str, int], list[dict[str, Any]]],
    connection: str,
) -> None:
    kind = "bill"
    bills = _by_guid(company.bills())
    for st_id, amount in sorted(books.bills.items()):
        result.counts[kind]["expected"] += 1
        found = bills.get(record_guid(connection, "bill", st_id).upper(), [])
        if not found:
            result.problem(kind, "missing", f"{st_id} not in QuickBooks")
            continue
        if len(found) > 1:
            result.problem(kind, "doubled", f"{st_id} is in QuickBooks {len(found)}x")
            continue
        result.counts[kind]["once"] += 1
        bill = found[0]
        record = store.get("inventory-bills", st_id)
        assert record is not None
        seen = (bill.amount_due, bill.open_amount, bill.vendor.full_name, bill.ref_number)
        wanted = (amount, amount, record["vendor"]["name"], record["referenceNumber"])
        if seen != wanted:
            result.problem(kind, "wrong", f"{st_id}: QuickBooks {seen}, ServiceTitan {wanted}")
        _audit_agrees(result, kind, audit, "bill", st_id, "posted", bill.txn_id, bill.amount_due)


def _balances(
    result: Comparison,
    company: Company,
    books: Books,
    store: SandboxStore,
    customers: dict[int, str],
) -> None:
    """AR, AP and each customer's balance: open invoices less open credits and unapplied
    payments, as ServiceTitan's final state has them."""
    owed: dict[int, Decimal] = defaultdict(lambda: ZERO)
    for expected in books.invoices.values():
        if expected.posted and not expected.voided:
            sign = Decimal(-1) if expected.kind == "credit memo" else Decimal(1)
            owed[expected.customer_id] += expected.balance * sign
    for record in store.all("payments"):
        if int(record["id"]) in books.payments:
            owed[int(record["customer"]["id"])] -= d(record["unappliedAmount"])
    ar = sum(owed.values(), ZERO)
    if company.ar_balance() != ar:
        result.problem("invoice", "wrong", f"AR is {company.ar_balance()}, ServiceTitan {ar}")
    ap = sum(books.bills.values(), ZERO)
    qb_ap = company.account_balance("Accounts Payable")
    if qb_ap != ap:
        result.problem("bill", "wrong", f"AP is {qb_ap}, ServiceTitan {ap}")
    for st_id, name in customers.items():
        balance = company.customer_balance(name)
        if balance != owed.get(st_id, ZERO):
            result.problem(
                "customer",
                "wrong",
                f"{name!r}: balance {balance} in QuickBooks, {owed.get(st_id, ZERO)} in "
                "ServiceTitan",
            )
