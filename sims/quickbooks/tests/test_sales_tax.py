"""Sales tax as QuickBooks computes it: the sales tax item's rate on the taxable lines, rounded
once, half up; two tax zones (ST Sales Tax 8.25%, Round Rock Tax 6.25%)."""

from __future__ import annotations

from decimal import Decimal

from qbsim_messages import Validate, add, invoice, line, message, ref, run, statuses, text

from mlconnector.qbsim.company import Company

# Issue 9, item 4: 250.00 of labor (not taxed) + 146.00 of parts (taxed).
LINES_396 = line("Labor", "2", "125.00") + line("WH-50G", amount="146.00")


def _add_customer(company: Company, assert_valid: Validate, name: str, extra: str = "") -> None:
    msgs = run(company, message(add("Customer", "c", f"<Name>{name}</Name>{extra}")), assert_valid)
    assert statuses(msgs) == [("c", "0")]


def _totals(ret: object) -> tuple[str, ...]:
    return tuple(
        text(ret, tag)  # type: ignore[arg-type]
        for tag in (
            "Subtotal",
            "ItemSalesTaxRef/FullName",
            "SalesTaxPercentage",
            "SalesTaxTotal",
            "AppliedAmount",
            "BalanceRemaining",
        )
    )


def test_the_tax_items_rate_decides_the_total(company: Company, assert_valid: Validate) -> None:
    _add_customer(company, assert_valid, "Nguyen, Linh")
    msgs = run(
        company,
        message(
            # QuickBooks' default tax item (the customer's: the company's most common one).
            invoice("a", "Nguyen, Linh", LINES_396, "2001"),
            # The 6.25% zone's item named on the invoice.
            invoice(
                "b", "Nguyen, Linh", LINES_396, "2002", ref("ItemSalesTaxRef", "Round Rock Tax")
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("a", "0"), ("b", "0")]
    # 146.00 x 8.25% = 12.045 -> 12.05 (half up; to-even would give 12.04): 408.05, not the
    # 405.13 ServiceTitan computed at 6.25%.
    assert _totals(msgs[0][0]) == ("396.00", "ST Sales Tax", "8.25", "12.05", "0.00", "408.05")
    # 146.00 x 6.25% = 9.125 -> 9.13: ServiceTitan's 405.13.
    assert _totals(msgs[1][0]) == ("396.00", "Round Rock Tax", "6.25", "9.13", "0.00", "405.13")
    assert company.customer_balance("Nguyen, Linh") == Decimal("813.18")
    assert company.ar_balance() == Decimal("813.18")
    assert company.account_balance("Sales Tax Payable") == Decimal("21.18")
    assert company.account_balance("Service Income") == Decimal("500.00")
    assert company.account_balance("Materials Income") == Decimal("292.00")


def test_paying_the_servicetitan_total_leaves_the_tax_difference_open(
    company: Company, assert_valid: Validate
) -> None:
    _add_customer(company, assert_valid, "Nguyen, Linh")
    inv = run(company, message(invoice("a", "Nguyen, Linh", LINES_396, "2001")), assert_valid)[0][0]
    msgs = run(
        company,
        message(
            add(
                "ReceivePayment",
                "p",
                ref("CustomerRef", "Nguyen, Linh")
                + "<TotalAmount>405.13</TotalAmount>"
                + f"<AppliedToTxnAdd><TxnID>{text(inv, 'TxnID')}</TxnID>"
                "<PaymentAmount>405.13</PaymentAmount></AppliedToTxnAdd>",
            ),
            '<InvoiceQueryRq requestID="q"><RefNumber>2001</RefNumber></InvoiceQueryRq>',
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("p", "0"), ("q", "0")]
    assert _totals(msgs[1][0]) == ("396.00", "ST Sales Tax", "8.25", "12.05", "-405.13", "2.92")
    assert text(msgs[1][0], "IsPaid") == "false"
    assert company.customer_balance("Nguyen, Linh") == Decimal("2.92")
    assert company.ar_balance() == Decimal("2.92")


def test_the_customers_tax_item_and_code_are_the_defaults(
    company: Company, assert_valid: Validate
) -> None:
    _add_customer(
        company, assert_valid, "Round Rock Dental", ref("ItemSalesTaxRef", "Round Rock Tax")
    )
    _add_customer(company, assert_valid, "City of Austin", ref("SalesTaxCodeRef", "Non"))
    msgs = run(
        company,
        message(
            invoice("a", "Round Rock Dental", LINES_396, "2001"),
            invoice("b", "City of Austin", LINES_396, "2002"),
            # A line marked non-taxable on a taxable customer's invoice is not taxed.
            invoice(
                "c",
                "Round Rock Dental",
                "<InvoiceLineAdd>"
                + ref("ItemRef", "WH-50G")
                + "<Amount>146.00</Amount>"
                + ref("SalesTaxCodeRef", "Non")
                + "</InvoiceLineAdd>",
                "2003",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("a", "0"), ("b", "0"), ("c", "0")]
    assert _totals(msgs[0][0]) == ("396.00", "Round Rock Tax", "6.25", "9.13", "0.00", "405.13")
    # A non-taxable customer pays no tax on taxable items (the rate still shows).
    assert _totals(msgs[1][0]) == ("396.00", "ST Sales Tax", "8.25", "0.00", "0.00", "396.00")
    assert _totals(msgs[2][0]) == ("146.00", "Round Rock Tax", "6.25", "0.00", "0.00", "146.00")


def test_tax_is_rounded_once_on_the_taxable_subtotal(
    company: Company, assert_valid: Validate
) -> None:
    _add_customer(company, assert_valid, "Lee, Ann")
    # Three taxable lines of 1.30: per line 0.10725 -> 0.11 each = 0.33; QuickBooks taxes
    # the 3.90 subtotal once: 0.32175 -> 0.32. And 35.50 x 8.25% = 2.92875 -> 2.93
    # (Acctivate's QuickBooks Desktop example).
    msgs = run(
        company,
        message(
            invoice("a", "Lee, Ann", line("PVC-075", amount="1.30") * 3, "3001"),
            invoice("b", "Lee, Ann", line("PVC-075", amount="35.50"), "3002"),
            invoice(
                "c",
                "Lee, Ann",
                line("PVC-075", amount="0.20") * 3,
                "3003",
                ref("ItemSalesTaxRef", "Round Rock Tax"),
            ),
        ),
        assert_valid,
    )
    # 0.60 x 6.25% = 0.0375 -> 0.04 (per line: 3 x 0.0125 -> 3 x 0.01 = 0.03).
    assert [text(m[0], "SalesTaxTotal") for m in msgs] == ["0.32", "2.93", "0.04"]
    assert [text(m[0], "BalanceRemaining") for m in msgs] == ["4.22", "38.43", "0.64"]
