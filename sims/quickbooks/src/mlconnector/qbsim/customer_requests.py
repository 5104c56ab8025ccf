"""CustomerAdd, CustomerMod, CustomerQuery, and CustomerRet (order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.customers import CustomerDraft
from mlconnector.qbsim.entities import Entity
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.parties import PartyChanges
from mlconnector.qbsim.request_fields import (
    address_of,
    boolean_of,
    decimal_of,
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
_CUSTOMER_UNMODELLED_REFS = (
    "CustomerTypeRef",
    "SalesRepRef",
    "JobTypeRef",
    "PriceLevelRef",
    "CurrencyRef",
)


def customer_ret(customer: Entity) -> etree._Element:
    ret = etree.Element("CustomerRet")
    core = customer.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", customer.name)
    sub(ret, "FullName", customer.full_name)
    sub(ret, "IsActive", bool_text(customer.is_active))
    add_ref(ret, "ClassRef", customer.class_ref)
    add_ref(ret, "ParentRef", customer.parent)
    sub(ret, "Sublevel", str(customer.sublevel))
    sub(ret, "CompanyName", customer.company_name)
    sub(ret, "FirstName", customer.first_name)
    sub(ret, "LastName", customer.last_name)
    add_address(ret, "BillAddress", customer.bill_address)
    add_address_block(ret, "BillAddressBlock", customer.bill_address)
    add_address(ret, "ShipAddress", customer.ship_address)
    add_address_block(ret, "ShipAddressBlock", customer.ship_address)
    sub(ret, "Phone", customer.phone)
    sub(ret, "Email", customer.email)
    add_ref(ret, "TermsRef", customer.terms)
    sub(ret, "Balance", amount_text(customer.balance))
    sub(ret, "TotalBalance", amount_text(customer.total_balance))
    add_ref(ret, "SalesTaxCodeRef", customer.sales_tax_code)
    add_ref(ret, "ItemSalesTaxRef", customer.item_sales_tax)
    sub(ret, "AccountNumber", customer.account_number)
    if customer.credit_limit is not None:
        sub(ret, "CreditLimit", amount_text(customer.credit_limit))
    add_ref(ret, "PreferredPaymentMethodRef", customer.preferred_payment_method)
    sub(ret, "JobStatus", "None")
    sub(ret, "Notes", customer.notes)
    sub(ret, "PreferredDeliveryMethod", "None")
    sub(ret, "ExternalGUID", customer.external_guid)
    return ret


def handle_customer_query(company: Company, request: etree._Element) -> Outcome:
    customers, missing = company.query_customers(list_filter(company, request))
    return query_outcome([customer_ret(c) for c in customers], missing)


def handle_customer_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("CustomerAdd")
    assert add is not None  # the schema requires it
    refuse_unmodelled_refs(add, _CUSTOMER_UNMODELLED_REFS, "Customer")
    is_active = boolean_of(add, "IsActive")
    draft = CustomerDraft(
        name=text_of(add, "Name") or "",
        is_active=True if is_active is None else is_active,
        parent=ref_spec_of(add, "ParentRef"),
        company_name=text_of(add, "CompanyName"),
        first_name=text_of(add, "FirstName"),
        last_name=text_of(add, "LastName"),
        bill_address=address_of(add, "BillAddress"),
        ship_address=address_of(add, "ShipAddress"),
        phone=text_of(add, "Phone"),
        email=text_of(add, "Email"),
        sales_tax_code=ref_spec_of(add, "SalesTaxCodeRef"),
        item_sales_tax=ref_spec_of(add, "ItemSalesTaxRef"),
        account_number=text_of(add, "AccountNumber"),
        notes=text_of(add, "Notes"),
        external_guid=text_of(add, "ExternalGUID"),
        class_ref=ref_spec_of(add, "ClassRef"),
        terms=ref_spec_of(add, "TermsRef"),
        preferred_payment_method=ref_spec_of(add, "PreferredPaymentMethodRef"),
        credit_limit=decimal_of(add, "CreditLimit"),
    )
    return Outcome([customer_ret(company.add_customer(draft))])


def party_changes(mod: etree._Element, address_tag: str) -> PartyChanges:
    """The fields a CustomerMod or VendorMod sets (absent elements are left unchanged)."""
    return PartyChanges(
        name=text_of(mod, "Name"),
        is_active=boolean_of(mod, "IsActive"),
        parent=ref_spec_of(mod, "ParentRef"),
        company_name=text_of(mod, "CompanyName"),
        first_name=text_of(mod, "FirstName"),
        last_name=text_of(mod, "LastName"),
        bill_address=address_of(mod, address_tag),
        ship_address=address_of(mod, "ShipAddress"),
        phone=text_of(mod, "Phone"),
        email=text_of(mod, "Email"),
        account_number=text_of(mod, "AccountNumber"),
        notes=text_of(mod, "Notes"),
        class_ref=ref_spec_of(mod, "ClassRef"),
        terms=ref_spec_of(mod, "TermsRef"),
        sales_tax_code=ref_spec_of(mod, "SalesTaxCodeRef"),
        item_sales_tax=ref_spec_of(mod, "ItemSalesTaxRef"),
        preferred_payment_method=ref_spec_of(mod, "PreferredPaymentMethodRef"),
        credit_limit=decimal_of(mod, "CreditLimit"),
    )


def handle_customer_mod(company: Company, request: etree._Element) -> Outcome:
    mod = request.find("CustomerMod")
    assert mod is not None
    refuse_unmodelled_refs(mod, _CUSTOMER_UNMODELLED_REFS, "Customer")
    list_id, edit_sequence = mod_keys(mod)
    changed = company.mod_customer(list_id, edit_sequence, party_changes(mod, "BillAddress"))
    return Outcome([customer_ret(changed)])
