"""Customers, jobs and vendors: Add/Mod/Query, EditSequence (3200), names (3100), references
(3140), and the office manager editing a record in QuickBooks while the integration works."""

from __future__ import annotations

import pytest
from qbsim_messages import Validate, add, message, mod, ref, rq, run, statuses, text

from mlconnector.qbsim.company import Address, Company, CustomerDraft, QbError, RefSpec


def test_vendor_add_query_mod(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add(
                "Vendor",
                "1",
                "<Name>Pacific Pipe Co</Name><CompanyName>Pacific Pipe Company</CompanyName>"
                "<VendorAddress><Addr1>9 Dock Rd</Addr1><City>Oakland</City><State>CA</State>"
                "<PostalCode>94607</PostalCode></VendorAddress><Phone>555-0199</Phone>"
                "<AccountNumber>C-7781</AccountNumber>"
                + ref("TermsRef", "Net 30")
                + "<ExternalGUID>{6B29FC40-CA47-1067-B31D-00DD010662DA}</ExternalGUID>",
            ),
            add("Vendor", "2", "<Name>Ferguson Supply</Name>"),
            add("Vendor", "3", "<Name>Bad Terms</Name>" + ref("TermsRef", "Net 99")),
            rq("VendorQuery", "4", "<FullName>Pacific Pipe Co</FullName>"),
            rq(
                "VendorQuery",
                "5",
                "<NameFilter><MatchCriterion>Contains</MatchCriterion>"
                "<Name>Supply</Name></NameFilter>",
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "3100"), ("3", "3140"), ("4", "0"), ("5", "0")]
    vendor = msgs[0][0]
    assert vendor.tag == "VendorRet"
    assert [c.tag for c in vendor] == [
        "ListID",
        "TimeCreated",
        "TimeModified",
        "EditSequence",
        "Name",
        "IsActive",
        "CompanyName",
        "VendorAddress",
        "VendorAddressBlock",
        "Phone",
        "AccountNumber",
        "TermsRef",
        "Balance",
        "ExternalGUID",
    ]
    assert text(vendor, "VendorAddressBlock/Addr2") == "Oakland, CA 94607"
    assert text(vendor, "ExternalGUID") == "{6B29FC40-CA47-1067-B31D-00DD010662DA}"
    assert (
        msgs[2]
        .get("statusMessage", "")
        .startswith('There is an invalid reference to QuickBooks Terms "Net 99" in the Vendor.')
    )
    assert [text(r, "Name") for r in msgs[4]] == ["Ferguson Supply", "Johnstone Supply"]
    list_id, seq = text(vendor, "ListID"), text(vendor, "EditSequence")
    msgs = run(
        company,
        message(
            mod("Vendor", "6", list_id, seq, "<Phone>555-0100</Phone>"),
            mod("Vendor", "7", list_id, seq, "<Phone>555-0111</Phone>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("6", "0"), ("7", "3200")]
    assert text(msgs[0][0], "Phone") == "555-0100"
    assert text(msgs[0][0], "CompanyName") == "Pacific Pipe Company"  # untouched
    fresh = text(msgs[0][0], "EditSequence")
    assert fresh != seq
    msgs = run(
        company,
        message(mod("Vendor", "8", list_id, fresh, "<Phone>555-0111</Phone>")),
        assert_valid,
    )
    assert statuses(msgs) == [("8", "0")]
    assert company.entity(list_id).phone == "555-0111"


def test_customer_mod_stale_then_fresh_edit_sequence(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(company, message(add("Customer", "1", "<Name>Adams, Kim</Name>")), assert_valid)
    customer = msgs[0][0]
    list_id, first = text(customer, "ListID"), text(customer, "EditSequence")
    msgs = run(
        company,
        message(
            mod("Customer", "2", list_id, first, "<Phone>555-0123</Phone>"),
            mod("Customer", "3", list_id, first, "<Email>kim@example.com</Email>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("2", "0"), ("3", "3200")]
    assert msgs[1].get("statusSeverity") == "Error"
    assert msgs[1].get("statusMessage") == f'The provided edit sequence "{first}" is out-of-date.'
    assert len(msgs[1]) == 0
    second = text(msgs[0][0], "EditSequence")
    assert int(second) > int(first)
    msgs = run(
        company,
        message(mod("Customer", "4", list_id, second, "<Email>kim@example.com</Email>")),
        assert_valid,
    )
    assert statuses(msgs) == [("4", "0")]
    kim = company.entity(list_id)
    assert (kim.phone, kim.email) == ("555-0123", "kim@example.com")


def test_customer_mod_refusals(company: Company, assert_valid: Validate) -> None:
    msgs = run(
        company,
        message(
            add("Customer", "1", "<Name>Adams, Kim</Name>"),
            add("Customer", "2", "<Name>Baker</Name>"),
        ),
        assert_valid,
    )
    kim = msgs[0][0]
    list_id, seq = text(kim, "ListID"), text(kim, "EditSequence")
    ferguson = next(v for v in company.vendors() if v.name == "Ferguson Supply")
    msgs = run(
        company,
        message(
            mod("Customer", "3", list_id, seq, "<Name>Baker</Name>"),
            mod("Customer", "4", list_id, seq, "<Name>Ferguson Supply</Name>"),
            mod("Customer", "5", list_id, seq, ref("TermsRef", "Net 99")),
            mod("Customer", "6", "80000FFF-1714581000", seq, "<Phone>1</Phone>"),
            mod(
                "Customer",
                "7",
                ferguson.core.list_id,
                ferguson.core.edit_sequence,
                "<Phone>1</Phone>",
            ),
            mod("Customer", "8", "not-an-id", seq, "<Phone>1</Phone>"),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [
        ("3", "3100"),
        ("4", "3100"),
        ("5", "3140"),
        ("6", "3120"),
        ("7", "3120"),
        ("8", "3000"),
    ]
    assert msgs[5].get("statusMessage") == (
        'The given object ID "not-an-id" in the field "list id" is invalid.'
    )
    assert msgs[3].get("statusMessage") == (
        'Object "80000FFF-1714581000" specified in the request cannot be found.'
    )
    # Nothing changed, not even the EditSequence.
    assert company.entity(list_id).core.edit_sequence == seq


def test_jobs_and_renaming_a_customer_renames_its_jobs(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            add("Customer", "1", "<Name>Smith, John</Name>" + ref("TermsRef", "Net 15")),
            add("Customer", "2", "<Name>Water Heater</Name>" + ref("ParentRef", "Smith, John")),
            add(
                "Customer",
                "3",
                "<Name>Attic Fan</Name>" + ref("ParentRef", "Smith, John:Water Heater"),
            ),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "0"), ("3", "0")]
    job = msgs[1][0]
    # A job takes its customer's terms.
    assert text(job, "TermsRef/FullName") == "Net 15"
    assert text(msgs[2][0], "Sublevel") == "2"
    smith = msgs[0][0]
    msgs = run(
        company,
        message(
            mod(
                "Customer",
                "4",
                text(smith, "ListID"),
                text(smith, "EditSequence"),
                "<Name>Smith, Jon</Name>",
            ),
            rq(
                "CustomerQuery",
                "5",
                "<NameFilter><MatchCriterion>StartsWith</MatchCriterion>"
                "<Name>Smith</Name></NameFilter>",
            ),
        ),
        assert_valid,
    )
    assert [text(r, "FullName") for r in msgs[1]] == [
        "Smith, Jon",
        "Smith, Jon:Water Heater",
        "Smith, Jon:Water Heater:Attic Fan",
    ]
    assert [text(r, "ParentRef/FullName") for r in msgs[1][1:]] == [
        "Smith, Jon",
        "Smith, Jon:Water Heater",
    ]


def test_customer_add_with_class_terms_and_payment_method(
    company: Company, assert_valid: Validate
) -> None:
    msgs = run(
        company,
        message(
            add(
                "Customer",
                "1",
                "<Name>Lopez Dental</Name>"
                + ref("ClassRef", "Plumbing")
                + ref("TermsRef", "Net 30")
                + ref("PreferredPaymentMethodRef", "Check"),
            ),
            add("Customer", "2", "<Name>Nope</Name>" + ref("PreferredPaymentMethodRef", "Bitcoin")),
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "0"), ("2", "3140")]
    customer = msgs[0][0]
    assert (
        text(customer, "ClassRef/FullName"),
        text(customer, "TermsRef/FullName"),
        text(customer, "PreferredPaymentMethodRef/FullName"),
    ) == ("Plumbing", "Net 30", "Check")


def test_edit_party_as_user_makes_the_integrations_copy_stale(
    company: Company, assert_valid: Validate
) -> None:
    customer = company.add_customer(CustomerDraft(name="Adams, Kim", phone="555-0001"))
    before = customer.core
    edited = company.edit_party_as_user(
        before.list_id, phone="555-0002", bill_address=Address(addr1="1 Elm St", city="Reno")
    )
    assert edited.phone == "555-0002"
    assert edited.bill_address == Address(addr1="1 Elm St", city="Reno")
    assert edited.core.edit_sequence != before.edit_sequence
    assert edited.core.time_modified > before.time_modified
    msgs = run(
        company,
        message(
            mod("Customer", "1", before.list_id, before.edit_sequence, "<Phone>555-0003</Phone>")
        ),
        assert_valid,
    )
    assert statuses(msgs) == [("1", "3200")]
    # The same for a vendor, and the name list stays unique.
    ferguson = next(v for v in company.vendors() if v.name == "Ferguson Supply")
    renamed = company.edit_party_as_user(ferguson.core.list_id, name="Ferguson Plumbing Supply")
    assert renamed.full_name == "Ferguson Plumbing Supply"
    with pytest.raises(QbError) as taken:
        company.edit_party_as_user(ferguson.core.list_id, name="Adams, Kim")
    assert taken.value.code == 3100
    with pytest.raises(KeyError):
        company.edit_party_as_user(ferguson.core.list_id, colour="red")
    with pytest.raises(QbError) as missing:
        company.edit_party_as_user("80000FFF-1714581000", phone="1")
    assert missing.value.code == 3120
    terms = company.edit_party_as_user(ferguson.core.list_id, terms=RefSpec(full_name="Net 15"))
    assert terms.terms is not None
    assert terms.terms.full_name == "Net 15"
