"""List requests: classes, terms, payment methods, sales tax codes, accounts, items; and the
seeded contractor's lists. Every response is checked against the qbXML 13.0 schema."""

from __future__ import annotations

from decimal import Decimal

from qbsim_messages import Validate, add, message, mod, ref, rq, run, statuses, text

from mlconnector.qbsim.company import Company, ListFilter


def test_seeded_contractor_books(company: Company) -> None:
    accounts = {a.full_name: (a.account_type, a.special_account_type) for a in company.accounts()}
    assert accounts["Undeposited Funds"] == ("OtherCurrentAsset", "UndepositedFunds")
    assert accounts["Accounts Payable"] == ("AccountsPayable", "AccountsPayable")
    assert accounts["Inventory Asset"] == ("OtherCurrentAsset", "InventoryAssets")
    assert accounts["Cost of Goods Sold"] == ("CostOfGoodsSold", "CostOfGoodsSold")
    assert accounts["Freight and Shipping"] == ("Expense", None)
    assert accounts["Sales Tax Payable"] == ("OtherCurrentLiability", "SalesTaxPayable")
    assert accounts["Job Materials"] == ("CostOfGoodsSold", None)
    assert [c.full_name for c in company.classes()] == [
        "HVAC",
        "HVAC - Service",
        "HVAC:Install",
        "Plumbing",
        "Plumbing - Service",
    ]
    assert [(t.name, t.std_due_days) for t in company.terms()] == [
        ("1% 10 Net 30", 30),
        ("Due on receipt", 0),
        ("Net 15", 15),
        ("Net 30", 30),
    ]
    assert {m.name for m in company.payment_methods()} >= {"Cash", "Check", "Visa", "MasterCard"}
    vendors = {v.name: v for v in company.vendors()}
    assert set(vendors) >= {"Ferguson Supply", "Johnstone Supply", "State Board of Equalization"}
    ferguson_terms = vendors["Ferguson Supply"].terms
    assert ferguson_terms is not None
    assert ferguson_terms.full_name == "Net 30"
    # The demo's items and codes are still there.
    items = {i.full_name: i.item_type for i in company.query_items(ListFilter())[0]}
    assert items["ST Sales Tax"] == "SalesTax"
    assert items["WH-50G"] == "NonInventory"
    assert items["Member Discount"] == "OtherCharge"
    codes = {c.name for c in company.query_sales_tax_codes(ListFilter())[0]}
    assert codes == {"Tax", "Non"}


def test_class_add_query_mod_hierarchy(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add("Class", "1", "<Name>Drains</Name>"),
            add("Class", "2", "<Name>Jetting</Name>" + ref("ParentRef", "Drains")),
            add("Class", "3", "<Name>drains</Name>"),
            add("Class", "4", "<Name>X</Name>" + ref("ParentRef", "Nope")),
            rq(
                "ClassQuery",
                "5",
                "<NameFilter><MatchCriterion>StartsWith</MatchCriterion><Name>Drains</Name>"
                "</NameFilter>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "0"), ("3", "3100"), ("4", "3140"), ("5", "0")]
    job = msgs[1][0]
    assert (text(job, "FullName"), text(job, "ParentRef/FullName"), text(job, "Sublevel")) == (
        "Drains:Jetting",
        "Drains",
        "1",
    )
    assert [text(r, "FullName") for r in msgs[4]] == ["Drains", "Drains:Jetting"]
    drains = msgs[0][0]
    # Renaming the parent renames the child's FullName too.
    msgs = run(
        company,
        message(
            mod(
                "Class",
                "6",
                text(drains, "ListID"),
                text(drains, "EditSequence"),
                "<Name>Drain Service</Name>",
            ),
            rq("ClassQuery", "7", "<FullName>Drain Service:Jetting</FullName>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("6", "0"), ("7", "0")]
    assert text(msgs[0][0], "FullName") == "Drain Service"
    assert text(msgs[0][0], "EditSequence") != text(drains, "EditSequence")
    assert text(msgs[1][0], "Sublevel") == "1"


def test_terms_and_payment_methods(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "StandardTerms",
                "1",
                "<Name>2% 10 Net 45</Name><StdDueDays>45</StdDueDays>"
                "<StdDiscountDays>10</StdDiscountDays><DiscountPct>2</DiscountPct>",
            ),
            add("StandardTerms", "2", "<Name>Net 30</Name><StdDueDays>30</StdDueDays>"),
            rq("TermsQuery", "3", "<FullName>2% 10 Net 45</FullName>"),
            rq("StandardTermsQuery", "4", "<MaxReturned>2</MaxReturned>"),
            add(
                "PaymentMethod",
                "5",
                "<Name>Zelle</Name><PaymentMethodType>Other</PaymentMethodType>",
            ),
            rq("PaymentMethodQuery", "6", "<PaymentMethodType>Check</PaymentMethodType>"),
            rq("PaymentMethodQuery", "7", "<FullName>Zelle</FullName>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("1", "0"),
        ("2", "3100"),
        ("3", "0"),
        ("4", "0"),
        ("5", "0"),
        ("6", "0"),
        ("7", "0"),
    ]
    terms = msgs[2][0]
    assert terms.tag == "StandardTermsRet"
    assert [(c.tag, c.text) for c in terms][4:] == [
        ("Name", "2% 10 Net 45"),
        ("IsActive", "true"),
        ("StdDueDays", "45"),
        ("StdDiscountDays", "10"),
        ("DiscountPct", "2.00"),
    ]
    assert [text(r, "Name") for r in msgs[3]] == ["1% 10 Net 30", "2% 10 Net 45"]
    assert [text(r, "Name") for r in msgs[5]] == ["Check"]
    assert text(msgs[6][0], "PaymentMethodType") == "Other"


def test_sales_tax_code_add_query_mod(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "SalesTaxCode",
                "1",
                "<Name>Lab</Name><IsTaxable>false</IsTaxable><Desc>Labor</Desc>",
            ),
            add("SalesTaxCode", "2", "<Name>TAX</Name><IsTaxable>true</IsTaxable>"),
            rq("SalesTaxCodeQuery", "3"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "3100"), ("3", "0")]
    assert [text(r, "Name") for r in msgs[2]] == ["Lab", "Non", "Tax"]
    lab = msgs[0][0]
    msgs = run(
        company,
        message(
            mod(
                "SalesTaxCode",
                "4",
                text(lab, "ListID"),
                text(lab, "EditSequence"),
                "<IsTaxable>true</IsTaxable>",
            ),
            mod(
                "SalesTaxCode",
                "5",
                text(lab, "ListID"),
                text(lab, "EditSequence"),
                "<Desc>stale</Desc>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("4", "0"), ("5", "3200")]
    assert text(msgs[0][0], "IsTaxable") == "true"
    assert text(msgs[0][0], "Desc") == "Labor"


def test_account_add(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "Account",
                "1",
                "<Name>Truck Fuel</Name>"
                + ref("ParentRef", "Vehicle Expense")
                + "<AccountType>Expense</AccountType><AccountNumber>6110</AccountNumber>"
                "<Desc>Diesel for service trucks</Desc>",
            ),
            add("Account", "2", "<Name>Checking</Name><AccountType>Bank</AccountType>"),
            add(
                "Account",
                "3",
                "<Name>X</Name>" + ref("ParentRef", "Nope") + "<AccountType>Expense</AccountType>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "3100"), ("3", "3140")]
    account = msgs[0][0]
    assert [
        (c.tag, c.text)
        for c in account
        if c.tag not in ("ListID", "TimeCreated", "TimeModified", "EditSequence", "ParentRef")
    ] == [
        ("Name", "Truck Fuel"),
        ("FullName", "Vehicle Expense:Truck Fuel"),
        ("IsActive", "true"),
        ("Sublevel", "1"),
        ("AccountType", "Expense"),
        ("AccountNumber", "6110"),
        ("Desc", "Diesel for service trucks"),
        ("Balance", "0.00"),
        ("TotalBalance", "0.00"),
    ]


def _sales(price: str, account: str) -> str:
    return f"<SalesOrPurchase><Price>{price}</Price>{ref('AccountRef', account)}</SalesOrPurchase>"


def test_item_adds_mods_and_typed_queries(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "ItemOtherCharge",
                "1",
                "<Name>Fuel Surcharge</Name>" + _sales("12.50", "Service Income"),
            ),
            add(
                "ItemNonInventory",
                "2",
                "<Name>TSTAT-PRO</Name>"
                + ref("SalesTaxCodeRef", "Tax")
                + _sales("189.00", "Materials Income"),
            ),
            add(
                "ItemService",
                "3",
                "<Name>Drain Jetting</Name>" + _sales("275.00", "Service Income"),
            ),
            add(
                "ItemService",
                "4",
                "<Name>No Account</Name><SalesOrPurchase><Price>1.00</Price></SalesOrPurchase>",
            ),
            rq("ItemOtherChargeQuery", "5", "<FullName>Fuel Surcharge</FullName>"),
            rq(
                "ItemNonInventoryQuery",
                "6",
                "<NameFilter><MatchCriterion>StartsWith</MatchCriterion>"
                "<Name>TSTAT</Name></NameFilter>",
            ),
            rq("ItemServiceQuery", "7", "<FullName>TSTAT-PRO</FullName>"),
            rq("ItemSalesTaxQuery", "8"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("1", "0"),
        ("2", "0"),
        ("3", "0"),
        ("4", "3180"),
        ("5", "0"),
        ("6", "0"),
        ("7", "500"),
        ("8", "0"),
    ]
    assert msgs[0][0].tag == "ItemOtherChargeRet"
    assert text(msgs[0][0], "SalesTaxCodeRef/FullName") == "Non"  # the non-taxable default
    assert text(msgs[1][0], "SalesTaxCodeRef/FullName") == "Tax"
    assert [r.tag for r in msgs[5]] == ["ItemNonInventoryRet"]
    assert [text(r, "Name") for r in msgs[7]] == ["Round Rock Tax", "ST Sales Tax"]
    jetting = msgs[2][0]
    msgs = run(
        company,
        message(
            mod(
                "ItemService",
                "9",
                text(jetting, "ListID"),
                text(jetting, "EditSequence"),
                "<Name>Hydro Jetting</Name><SalesOrPurchaseMod><Price>295.00</Price>"
                "</SalesOrPurchaseMod>",
            ),
            mod(
                "ItemService",
                "10",
                text(jetting, "ListID"),
                text(jetting, "EditSequence"),
                "<IsActive>false</IsActive>",
            ),
            mod(
                "ItemNonInventory",
                "11",
                text(jetting, "ListID"),
                text(jetting, "EditSequence"),
                "<IsActive>false</IsActive>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("9", "0"), ("10", "3200"), ("11", "3120")]
    changed = msgs[0][0]
    assert (text(changed, "Name"), text(changed, "SalesOrPurchase/Price")) == (
        "Hydro Jetting",
        "295.00",
    )
    assert text(changed, "SalesOrPurchase/AccountRef/FullName") == "Service Income"
    assert msgs[1].get("statusMessage") == (
        f'The provided edit sequence "{text(jetting, "EditSequence")}" is out-of-date.'
    )
    item = company.item(text(changed, "ListID"))
    assert item.price == Decimal("295.00")


def test_item_class(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "ItemService",
                "1",
                "<Name>Duct Cleaning</Name>"
                + ref("ClassRef", "HVAC")
                + _sales("199.00", "Service Income"),
            ),
            add(
                "ItemService",
                "2",
                "<Name>Roof Work</Name>"
                + ref("ClassRef", "Roofing")
                + _sales("1.00", "Service Income"),
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "3140")]
    assert text(msgs[0][0], "ClassRef/FullName") == "HVAC"
    assert (
        msgs[1]
        .get("statusMessage", "")
        .startswith(
            'There is an invalid reference to QuickBooks Class "Roofing" in the ItemService.'
        )
    )
