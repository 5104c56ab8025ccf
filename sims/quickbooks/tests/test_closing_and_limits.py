"""A closing date (3171) and a customer's credit limit (3180), with QuickBooks' own messages,
set from the company API and from the simulator's command line."""

from __future__ import annotations

import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from qbsim_messages import Validate, add, invoice, line, message, mod, ref, rq, run, statuses, text

from mlconnector.qbsim.company import Company, seed_contractor
from mlconnector.qbsim.main import run as cli

LINES_408_05 = line("Labor", "2", "125.00") + line("WH-50G", amount="146.00")
CLOSED_INVOICE_ADD = (
    "An attempt was made to add a Invoice with a date that is on or before the closing date "
    "of the company. If you are sure you really want to do this, please ask a user with Admin "
    "privileges to remove the password for editing transactions on or before to closing date "
    "(this setting is in the Accounting Company Preferences), then try again."
)
CREDIT_LIMIT = (
    "There was an error when saving a Invoice.  QuickBooks error message: "
    "The credit limit for the name on this transaction has been exceeded."
)


def _dated_invoice(rid: str, ref_number: str, txn_date: str, customer: str = "Smith, John") -> str:
    return add(
        "Invoice",
        rid,
        f"{ref('CustomerRef', customer)}<TxnDate>{txn_date}</TxnDate>"
        f"<RefNumber>{ref_number}</RefNumber>{line('Service Call', '1')}",
    )


def test_closing_date_refuses_every_change_on_or_before_it(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            add("Customer", "c", "<Name>Smith, John</Name>"),
            _dated_invoice("old", "1001", "2024-04-12"),
            add(
                "ReceivePayment",
                "p",
                ref("CustomerRef", "Smith, John")
                + "<TxnDate>2024-04-20</TxnDate><TotalAmount>10.00</TotalAmount>"
                "<IsAutoApply>true</IsAutoApply>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("c", "0"), ("old", "0"), ("p", "0")]
    old = msgs[1][0]
    payment_id = text(msgs[2][0], "TxnID")
    company.set_closing_date(date(2024, 4, 30))
    assert company.closing_date == date(2024, 4, 30)
    before = (company.ar_balance(), company.customer_balance("Smith, John"))

    msgs = run(
        company,
        message(
            _dated_invoice("on", "1002", "2024-04-30"),
            _dated_invoice("after", "1003", "2024-05-01"),
            mod(
                "Invoice",
                "mod-old",
                text(old, "TxnID"),
                company.invoice(text(old, "TxnID")).edit_sequence,  # the payment changed it
                "<Memo>x</Memo>",
                id_tag="TxnID",
            ),
            rq(
                "TxnVoid",
                "void-old",
                f"<TxnVoidType>Invoice</TxnVoidType><TxnID>{text(old, 'TxnID')}</TxnID>",
            ),
            rq(
                "TxnDel",
                "del-pay",
                f"<TxnDelType>ReceivePayment</TxnDelType><TxnID>{payment_id}</TxnID>",
            ),
            add(
                "CreditMemo",
                "cm",
                ref("CustomerRef", "Smith, John")
                + "<TxnDate>2024-04-01</TxnDate><CreditMemoLineAdd>"
                + ref("ItemRef", "Labor")
                + "<Quantity>1</Quantity></CreditMemoLineAdd>",
            ),
            add(
                "Bill",
                "b",
                ref("VendorRef", "Ferguson Supply")
                + "<TxnDate>2024-03-31</TxnDate><ExpenseLineAdd>"
                + ref("AccountRef", "Job Materials")
                + "<Amount>5.00</Amount></ExpenseLineAdd>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("on", "3171"),
        ("after", "0"),
        ("mod-old", "3171"),
        ("void-old", "3171"),
        ("del-pay", "3171"),
        ("cm", "3171"),
        ("b", "3171"),
    ]
    assert msgs[0].get("statusSeverity") == "Error"
    assert msgs[0].get("statusMessage") == CLOSED_INVOICE_ADD
    assert msgs[2].get("statusMessage") == CLOSED_INVOICE_ADD.replace(
        "add a Invoice", "modify a Invoice"
    )
    assert msgs[3].get("statusMessage", "").startswith("An attempt was made to void a Invoice ")
    # Moving an open invoice into the closed period is a change in it too.
    after = msgs[1][0]
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "back",
                text(after, "TxnID"),
                text(after, "EditSequence"),
                "<TxnDate>2024-04-29</TxnDate>",
                id_tag="TxnID",
            )
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("back", "3171")]
    # Only the invoice dated after the closing date went in.
    assert (company.ar_balance(), company.customer_balance("Smith, John")) == (
        before[0] + Decimal("89.00"),
        before[1] + Decimal("89.00"),
    )
    assert [i.ref_number for i in company.invoices()] == ["1001", "1003"]

    company.set_closing_date(None)
    msgs = run(company, message(_dated_invoice("reopened", "1004", "2024-04-30")), assert_valid)
    assert statuses(msgs) == [("reopened", "0")]


def test_closing_date_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = str(tmp_path / "c.sqlite")
    with Company(path) as company:  # the file a simulated Web Connector made
        seed_contractor(company)
    out = io.StringIO()
    assert cli(["company", "--company", path, "closing-date"], out=out) == 0
    assert cli(["company", "--company", path, "closing-date", "2024-03-31"], out=out) == 0
    assert cli(["company", "--company", path, "closing-date"], out=out) == 0
    assert cli(["company", "--company", path, "closing-date", "none"], out=out) == 0
    assert out.getvalue().splitlines() == [
        "closing date: none (the books are open)",
        "closing date: 2024-03-31",
        "closing date: 2024-03-31",
        "closing date: none (the books are open)",
    ]
    with Company(path) as company:
        assert company.closing_date is None
    with pytest.raises(SystemExit) as exited:
        cli(["company", "--company", path, "closing-date", "31/03/2024"], out=out)
    assert exited.value.code == 2
    assert "is not a date; use YYYY-MM-DD or none" in capsys.readouterr().err


def test_credit_limit_refuses_the_invoice_that_goes_over_it(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            add("Customer", "c", "<Name>Smith, John</Name><CreditLimit>500.00</CreditLimit>"),
            add("Customer", "job", "<Name>Attic</Name>" + ref("ParentRef", "Smith, John")),
            invoice("first", "Smith, John", LINES_408_05, "1001"),
            # 408.05 + 89.00 = 497.05: within the limit.
            _dated_invoice("second", "1002", "2024-05-01", "Smith, John:Attic"),
            # + 89.00 = 586.05 on the customer's TotalBalance (its job's invoice counts).
            _dated_invoice("third", "1003", "2024-05-01"),
            _dated_invoice("job", "1004", "2024-05-01", "Smith, John:Attic"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("c", "0"),
        ("job", "0"),
        ("first", "0"),
        ("second", "0"),
        ("third", "3180"),
        ("job", "3180"),
    ]
    assert text(msgs[0][0], "CreditLimit") == "500.00"
    assert msgs[4].get("statusMessage") == CREDIT_LIMIT
    assert msgs[4].get("statusSeverity") == "Error"
    assert company.customer_balance("Smith, John") == Decimal("497.05")
    assert [i.ref_number for i in company.invoices()] == ["1001", "1002"]

    # A payment makes room; growing an invoice past the limit is refused too.
    first = msgs[2][0]
    customer = msgs[0][0]
    msgs = run(
        company,
        message(
            mod(
                "Invoice",
                "grow",
                text(first, "TxnID"),
                text(first, "EditSequence"),
                # The lines it has (named, or QuickBooks deletes them) and a 35.00 one.
                "".join(
                    f"<InvoiceLineMod><TxnLineID>{text(kept, 'TxnLineID')}</TxnLineID>"
                    "</InvoiceLineMod>"
                    for kept in first.findall("InvoiceLineRet")
                )
                + f"<InvoiceLineMod><TxnLineID>-1</TxnLineID>{ref('ItemRef', 'Trip Charge')}"
                "<Quantity>1</Quantity></InvoiceLineMod>",
                id_tag="TxnID",
            ),
            mod(
                "Customer",
                "raise",
                text(customer, "ListID"),
                text(customer, "EditSequence"),
                "<CreditLimit>1000.00</CreditLimit>",
            ),
            _dated_invoice("fourth", "1005", "2024-05-01"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("grow", "3180"), ("raise", "0"), ("fourth", "0")]
    assert text(msgs[1][0], "CreditLimit") == "1000.00"
    assert company.customer_balance("Smith, John") == Decimal("586.05")
    assert company.invoice(text(first, "TxnID")).balance_remaining == Decimal("408.05")
