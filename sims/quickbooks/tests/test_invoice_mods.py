"""InvoiceMod by TxnLineID: kept lines keep their ids, "-1" lines get new ones (returned in the
response and usable in the next Mod), lines left out are deleted, totals and tax follow;
a stale EditSequence is 3200."""

from __future__ import annotations

from decimal import Decimal

from qbsim_messages import Validate, add, invoice, line, message, mod, ref, run, statuses, text

from mlconnector.qbsim.company import Company

LINES = (
    line("Labor", "2", "125.00")
    + line("WH-50G", amount="146.00")
    + line("Permit Fee", amount="40.00")
)


def _line_mod(txn_line_id: str, body: str = "") -> str:
    return f"<InvoiceLineMod><TxnLineID>{txn_line_id}</TxnLineID>{body}</InvoiceLineMod>"


def _setup(company: Company, assert_valid: Validate) -> tuple[str, str, list[str]]:
    msgs = run(
        company,
        message(
            add("Customer", "c", "<Name>Smith, John</Name>"),
            invoice("i", "Smith, John", LINES, "1001"),
        ),
        assert_valid,
    )
    inv = msgs[1][0]
    # 250.00 + 146.00 + 40.00 = 436.00, tax 12.05 on 146.00.
    assert text(inv, "BalanceRemaining") == "448.05"
    return (
        text(inv, "TxnID"),
        text(inv, "EditSequence"),
        [text(ln, "TxnLineID") for ln in inv.findall("InvoiceLineRet")],
    )


def test_lines_by_txn_line_id_new_lines_and_removed_lines(
    company: Company, assert_valid: Validate
) -> None:
    txn_id, seq, (labor, heater, permit) = _setup(company, assert_valid)
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "m",
                txn_id,
                seq,
                _line_mod(labor, "<Quantity>3</Quantity>")
                + _line_mod(heater)
                + _line_mod("-1", ref("ItemRef", "Trip Charge") + "<Quantity>1</Quantity>")
                + _line_mod("-1", ref("ItemRef", "CU-050") + "<Quantity>10</Quantity>"),
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("m", "0")]
    changed = msgs[0][0]
    lines = changed.findall("InvoiceLineRet")
    ids = [text(ln, "TxnLineID") for ln in lines]
    assert ids[:2] == [labor, heater]
    assert permit not in ids  # left out: deleted
    assert "-1" not in ids
    assert len(set(ids)) == 4
    assert [(text(ln, "ItemRef/FullName"), text(ln, "Amount")) for ln in lines] == [
        ("Labor", "375.00"),
        ("WH-50G", "146.00"),
        ("Trip Charge", "35.00"),
        ("CU-050", "64.00"),
    ]
    # Taxable: 146.00 + 64.00 = 210.00 x 8.25% = 17.325 -> 17.33.
    assert (
        text(changed, "Subtotal"),
        text(changed, "SalesTaxTotal"),
        text(changed, "BalanceRemaining"),
    ) == (
        "620.00",
        "17.33",
        "637.33",
    )
    assert company.ar_balance() == Decimal("637.33")
    assert company.account_balance("Service Income") == Decimal("410.00")  # 375 + 35; permit gone

    # The new TxnLineIDs are the lines' ids from now on.
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "again",
                txn_id,
                text(changed, "EditSequence"),
                _line_mod(ids[3], "<Quantity>5</Quantity>"),
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("again", "0")]
    [only] = msgs[0][0].findall("InvoiceLineRet")
    assert (text(only, "TxnLineID"), text(only, "Amount")) == (ids[3], "32.00")
    assert text(msgs[0][0], "BalanceRemaining") == "34.64"  # 32.00 + 2.64


def test_header_only_mod_keeps_the_lines_and_recomputes_tax(
    company: Company, assert_valid: Validate
) -> None:
    txn_id, seq, line_ids = _setup(company, assert_valid)
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "tax",
                txn_id,
                seq,
                ref("ItemSalesTaxRef", "Round Rock Tax"),
                id_tag="TxnID",
            ),
            mod("Invoice", "stale", txn_id, seq, "<Memo>late</Memo>", id_tag="TxnID"),
            mod(
                "Invoice",
                "bad-line",
                txn_id,
                seq,
                _line_mod("FFFF-1714581000", "<Quantity>1</Quantity>"),
                id_tag="TxnID",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("tax", "0"), ("stale", "3200"), ("bad-line", "3200")]
    assert msgs[1].get("statusMessage") == f'The provided edit sequence "{seq}" is out-of-date.'
    changed = msgs[0][0]
    assert [text(ln, "TxnLineID") for ln in changed.findall("InvoiceLineRet")] == line_ids
    # 146.00 x 6.25% = 9.125 -> 9.13.
    assert (
        text(changed, "SalesTaxPercentage"),
        text(changed, "SalesTaxTotal"),
        text(changed, "BalanceRemaining"),
    ) == (
        "6.25",
        "9.13",
        "445.13",
    )
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "bad-line",
                txn_id,
                text(changed, "EditSequence"),
                _line_mod("FFFF-1714581000", "<Quantity>1</Quantity>"),
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert [(r.get("requestID"), r.get("statusCode")) for r in msgs] == [("bad-line", "3140")]
    assert company.invoice(txn_id).balance_remaining == Decimal("445.13")


def test_a_paid_invoice_edited_down_gives_the_excess_back_as_credit(
    company: Company, assert_valid: Validate
) -> None:
    txn_id, _, (labor, _heater, permit) = _setup(company, assert_valid)
    msgs = run(
        company,
        message(
            add(
                "ReceivePayment",
                "p",
                ref("CustomerRef", "Smith, John")
                + f"<TotalAmount>448.05</TotalAmount><AppliedToTxnAdd><TxnID>{txn_id}</TxnID>"
                "<PaymentAmount>448.05</PaymentAmount></AppliedToTxnAdd>",
            )
        ),
        assert_valid,
    )
    payment_id = text(msgs[0][0], "TxnID")
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "down",
                txn_id,
                company.invoice(txn_id).edit_sequence,
                _line_mod(labor) + _line_mod(permit),  # the 146.00 heater (and its tax) go
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("down", "0")]
    changed = msgs[0][0]
    assert (
        text(changed, "Subtotal"),
        text(changed, "SalesTaxTotal"),
        text(changed, "AppliedAmount"),
        text(changed, "BalanceRemaining"),
        text(changed, "IsPaid"),
    ) == ("290.00", "0.00", "-290.00", "0.00", "true")
    paid = company.payment(payment_id)
    assert (paid.total_amount, paid.unused_payment) == (Decimal("448.05"), Decimal("158.05"))
    assert [a.amount for a in paid.applied_to] == [Decimal("290.00")]
    assert company.customer_balance("Smith, John") == Decimal("-158.05")
    assert company.ar_balance() == Decimal("-158.05")


def test_a_mod_naming_the_ar_account_is_applied_and_can_move_the_balance(
    company: Company, assert_valid: Validate
) -> None:
    """InvoiceMod's schema has ARAccountRef (qbxml130.xsd, after ClassRef): the mapper sends
    the whole header, AR account included, and QuickBooks applies it. Naming the account the
    invoice has changes nothing; another A/R account takes the balance over; an account that
    is not there is 3140, as in the Add."""
    company.add_account("Accounts Receivable - Retail", "AccountsReceivable")
    txn_id, seq, _ = _setup(company, assert_valid)
    same = run(
        company,
        message(
            mod(
                "Invoice",
                "same",
                txn_id,
                seq,
                ref("CustomerRef", "Smith, John")
                + ref("ARAccountRef", "Accounts Receivable")
                + "<Memo>edited in ServiceTitan</Memo>",
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert statuses(same) == [("same", "0")]
    assert text(same[0][0], "ARAccountRef/FullName") == "Accounts Receivable"
    assert company.account_balance("Accounts Receivable") == Decimal("448.05")
    moved = run(
        company,
        message(
            mod(
                "Invoice",
                "moved",
                txn_id,
                text(same[0][0], "EditSequence"),
                ref("ARAccountRef", "Accounts Receivable - Retail"),
                id_tag="TxnID",
            ),
            mod(
                "Invoice",
                "missing",
                txn_id,
                text(same[0][0], "EditSequence"),
                ref("ARAccountRef", "No Such Account"),
                id_tag="TxnID",
            ),
        ),
        assert_valid,
    )
    assert statuses(moved) == [("moved", "0"), ("missing", "3200")]
    assert company.account_balance("Accounts Receivable") == Decimal("0.00")
    assert company.account_balance("Accounts Receivable - Retail") == Decimal("448.05")
    invoice = company.invoice(txn_id)
    missing = run(
        company,
        message(
            mod(
                "Invoice",
                "missing",
                txn_id,
                invoice.edit_sequence,
                ref("ARAccountRef", "No Such Account"),
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert statuses(missing) == [("missing", "3140")]
    assert company.invoice(txn_id).ar_account.full_name == "Accounts Receivable - Retail"
