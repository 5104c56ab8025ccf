"""Every driver fault at harsh rates over a month of invoices, credit memos, credits set,
payments, voids, deletes and Mods: the driver never breaks, and whatever QuickBooks applied
leaves books that add up to the cent (A/R, sales tax, deposits, each invoice's and credit
memo's balance against its links)."""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from decimal import Decimal

from qbsim_messages import add, line, message, mod, ref, rq

from mlconnector.qbsim.company import Company, CustomerDraft, seed_contractor
from mlconnector.qbsim.driver import WebConnectorDriver
from mlconnector.qbsim.faults import FAULT_NAMES

from .conftest import FakeGateway, FixedClock

HARSH = (
    "qb-not-running:0.25,file-open-other-mode:0.1,qb-busy:0.3,slow:0.3,response-lost:0.3,"
    "user-edit:0.5,http-timeout:0.15"
)
CUSTOMERS = ("Adams", "Baker", "Carter")
PARTS = ("PVC-075", "CU-050", "WH-50G", "FLTR-16251")


class LazyRequests:
    """The gateway's queue: each message is built when it is sent, from the company as it is
    then (fresh TxnIDs and EditSequences), as the real gateway queries before a Mod."""

    def __init__(self, count: int, build: Callable[[int], str]) -> None:
        self.count = count
        self.build = build

    def __len__(self) -> int:
        return self.count

    def __getitem__(self, index: int) -> str:
        return self.build(index)


def _builder(company: Company, rng: random.Random) -> Callable[[int], str]:
    def invoice_add(rid: str) -> str:
        customer = rng.choice(CUSTOMERS)
        lines = line("Labor", str(rng.randint(1, 4)), "95.00") + "".join(
            line(rng.choice(PARTS), str(rng.randint(1, 12))) for _ in range(rng.randint(0, 3))
        )
        zone = ref("ItemSalesTaxRef", "Round Rock Tax") if rng.random() < 0.5 else ""
        return add("Invoice", rid, ref("CustomerRef", customer) + zone + lines)

    def credit_memo_add(rid: str) -> str:
        body = "".join(
            f"<CreditMemoLineAdd>{ref('ItemRef', rng.choice(PARTS))}"
            f"<Quantity>{rng.randint(1, 3)}</Quantity></CreditMemoLineAdd>"
            for _ in range(rng.randint(1, 2))
        )
        return add("CreditMemo", rid, ref("CustomerRef", rng.choice(CUSTOMERS)) + body)

    def payment(rid: str) -> str:
        return add(
            "ReceivePayment",
            rid,
            ref("CustomerRef", rng.choice(CUSTOMERS))
            + f"<TotalAmount>{rng.randint(20, 400)}.{rng.randint(0, 99):02d}</TotalAmount>"
            "<IsAutoApply>true</IsAutoApply>",
        )

    def set_credit(rid: str) -> str:
        memos = [m for m in company.credit_memos() if m.credit_remaining > 0]
        if not memos:
            return credit_memo_add(rid)
        memo = rng.choice(memos)
        owed = [
            i
            for i in company.invoices()
            if i.customer.full_name == memo.customer.full_name and i.balance_remaining > 0
        ]
        if not owed:
            return payment(rid)
        target = rng.choice(owed)
        amount = min(memo.credit_remaining, target.balance_remaining)
        return add(
            "ReceivePayment",
            rid,
            ref("CustomerRef", memo.customer.full_name)
            + f"<AppliedToTxnAdd><TxnID>{target.txn_id}</TxnID><SetCredit><CreditTxnID>"
            f"{memo.txn_id}</CreditTxnID><AppliedAmount>{amount:.2f}</AppliedAmount>"
            "</SetCredit></AppliedToTxnAdd>",
        )

    def void_or_delete(rid: str) -> str:
        live = [i for i in company.invoices() if not i.is_voided]
        paid = company.payments()
        if paid and rng.random() < 0.4:
            victim = rng.choice(paid).txn_id
            return rq(
                "TxnDel", rid, f"<TxnDelType>ReceivePayment</TxnDelType><TxnID>{victim}</TxnID>"
            )
        if not live:
            return invoice_add(rid)
        kind = rng.choice(("Invoice", "CreditMemo")) if company.credit_memos() else "Invoice"
        pool = live if kind == "Invoice" else company.credit_memos()
        victim = rng.choice(pool).txn_id
        return rq("TxnVoid", rid, f"<TxnVoidType>{kind}</TxnVoidType><TxnID>{victim}</TxnID>")

    def invoice_mod(rid: str) -> str:
        live = [i for i in company.invoices() if not i.is_voided]
        if not live:
            return invoice_add(rid)
        target = rng.choice(live)
        kept = target.lines[: max(1, len(target.lines) - 1)]
        body = "".join(
            f"<InvoiceLineMod><TxnLineID>{ln.txn_line_id}</TxnLineID></InvoiceLineMod>"
            for ln in kept
        ) + (
            f"<InvoiceLineMod><TxnLineID>-1</TxnLineID>{ref('ItemRef', 'Trip Charge')}"
            "<Quantity>1</Quantity></InvoiceLineMod>"
        )
        return mod("Invoice", rid, target.txn_id, target.edit_sequence, body, id_tag="TxnID")

    kinds = [invoice_add] * 4 + [
        credit_memo_add,
        payment,
        payment,
        set_credit,
        void_or_delete,
        invoice_mod,
    ]

    def build(index: int) -> str:
        requests = [rng.choice(kinds)(f"{index}-{n}") for n in range(rng.randint(1, 2))]
        # A customer query now and then, so that user-edit has a record to edit.
        if rng.random() < 0.3:
            requests.append(
                rq("CustomerQuery", f"{index}-q", f"<FullName>{rng.choice(CUSTOMERS)}</FullName>")
            )
        return message(*requests, on_error="continueOnError")

    return build


def _books_add_up(company: Company) -> None:
    invoices, memos, payments = company.invoices(), company.credit_memos(), company.payments()
    for inv in invoices:
        links = company.linked_txns("Invoice", inv.txn_id)
        assert inv.applied_amount == sum((lk.amount for lk in links), Decimal("0.00"))
        assert inv.balance_remaining == inv.subtotal + inv.sales_tax_total + inv.applied_amount
        assert inv.balance_remaining >= 0
        assert inv.subtotal == sum((ln.amount for ln in inv.lines), Decimal("0.00"))
    for memo in memos:
        used = sum((lk.amount for lk in company.linked_txns("CreditMemo", memo.txn_id)), Decimal(0))
        assert memo.credit_remaining == memo.total_amount - used >= 0
    for paid in payments:
        assert paid.unused_payment == paid.total_amount - sum(
            (a.amount for a in paid.applied_to), Decimal(0)
        )
    owed = sum((i.balance_remaining for i in invoices), Decimal("0.00"))
    credits = sum((m.credit_remaining for m in memos), Decimal("0.00"))
    unused = sum((p.unused_payment for p in payments), Decimal("0.00"))
    assert company.ar_balance() == owed - credits - unused
    assert sum((c.balance for c in company.customers()), Decimal("0.00")) == company.ar_balance()
    taxes = sum((i.sales_tax_total for i in invoices), Decimal(0)) - sum(
        (m.sales_tax_total for m in memos), Decimal(0)
    )
    assert company.account_balance("Sales Tax Payable") == taxes
    assert company.account_balance("Undeposited Funds") == sum(
        (p.total_amount for p in payments), Decimal(0)
    )


def test_harsh_faults_never_break_the_driver_and_the_books_add_up(gateway: FakeGateway) -> None:
    company = Company(":memory:", clock=FixedClock())
    seed_contractor(company)
    for name in CUSTOMERS:
        company.add_customer(CustomerDraft(name=name))
    gateway.requests = LazyRequests(120, _builder(company, random.Random(20240501)))  # type: ignore[assignment]
    gateway.percent_after = lambda sent, total: 100 if sent >= total else 50
    naps: list[float] = []
    fired: Counter[str] = Counter()
    statuses: Counter[str] = Counter()
    with WebConnectorDriver(
        gateway.url,
        "acme",
        "s3cret",
        company,
        faults=HARSH,
        seed=7,
        latency_ms=40_000,  # one request 40 s, two 80 s: over the 60 s limit
        sleep=naps.append,
    ) as driver:
        for _ in range(400):
            if gateway.sent >= len(gateway.requests):
                break
            report = driver.run_cycle()
            fired.update(report.fault_names)
            statuses.update(str(code) for code in report.statuses)
            assert report.errors == [], report.errors
    assert gateway.sent == 120
    # Every fault fired, and QuickBooks still applied messages (and refused some, as it does).
    assert set(fired) == set(FAULT_NAMES), fired
    assert statuses["0"] > 60, statuses
    assert len(company.invoices()) > 20
    assert any(i.is_voided for i in company.invoices())
    assert company.credit_memos()
    _books_add_up(company)
