"""VendorAdd, VendorMod and VendorQuery, and VendorRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.customer_requests import party_changes
from mlconnector.qbsim.entities import Entity
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.request_fields import (
    address_of,
    boolean_of,
    mod_keys,
    ref_spec_of,
    refuse_unmodelled_refs,
    text_of,
)
from mlconnector.qbsim.ret_fields import (
    add_address,
    add_address_block,
    add_core,
    add_ref,
    amount_text,
    bool_text,
    sub,
)

# Lists the simulated company file has no entries in: any reference to them is invalid.
_VENDOR_UNMODELLED_REFS = (
    "VendorTypeRef",
    "BillingRateRef",
    "SalesTaxCodeRef",
    "SalesTaxReturnRef",
    "TaxOnPurchasesAccountRef",
    "TaxOnSalesAccountRef",
    "PrefillAccountRef",
    "CurrencyRef",
)


def vendor_ret(vendor: Entity) -> etree._Element:
    ret = etree.Element("VendorRet")
    core = vendor.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", vendor.name)
    sub(ret, "IsActive", bool_text(vendor.is_active))
    add_ref(ret, "ClassRef", vendor.class_ref)
    sub(ret, "CompanyName", vendor.company_name)
    sub(ret, "FirstName", vendor.first_name)
    sub(ret, "LastName", vendor.last_name)
    add_address(ret, "VendorAddress", vendor.bill_address)
    add_address_block(ret, "VendorAddressBlock", vendor.bill_address)
    sub(ret, "Phone", vendor.phone)
    sub(ret, "Email", vendor.email)
    sub(ret, "AccountNumber", vendor.account_number)
    sub(ret, "Notes", vendor.notes)
    add_ref(ret, "TermsRef", vendor.terms)
    sub(ret, "Balance", amount_text(vendor.balance))
    sub(ret, "ExternalGUID", vendor.external_guid)
    return ret


def handle_vendor_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("VendorAdd")
    assert add is not None
    refuse_unmodelled_refs(add, _VENDOR_UNMODELLED_REFS, "Vendor")
    vendor = company.add_vendor(
        text_of(add, "Name") or "",
        company_name=text_of(add, "CompanyName"),
        address=address_of(add, "VendorAddress"),
        phone=text_of(add, "Phone"),
        email=text_of(add, "Email"),
        account_number=text_of(add, "AccountNumber"),
        first_name=text_of(add, "FirstName"),
        last_name=text_of(add, "LastName"),
        notes=text_of(add, "Notes"),
        terms=ref_spec_of(add, "TermsRef"),
        class_ref=ref_spec_of(add, "ClassRef"),
        external_guid=text_of(add, "ExternalGUID"),
        is_active=boolean_of(add, "IsActive") is not False,
    )
    return Outcome([vendor_ret(vendor)])


def handle_vendor_mod(company: Company, request: etree._Element) -> Outcome:
    mod = request.find("VendorMod")
    assert mod is not None
    refuse_unmodelled_refs(mod, _VENDOR_UNMODELLED_REFS, "Vendor")
    list_id, edit_sequence = mod_keys(mod)
    changed = company.mod_vendor(list_id, edit_sequence, party_changes(mod, "VendorAddress"))
    return Outcome([vendor_ret(changed)])


def handle_vendor_query(company: Company, request: etree._Element) -> Outcome:
    found, missing = company.query_vendors(list_filter(company, request))
    return query_outcome([vendor_ret(v) for v in found], missing)
