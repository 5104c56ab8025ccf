"""SalesTaxCodeAdd, SalesTaxCodeMod, SalesTaxCodeQuery, and SalesTaxCodeRet."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.request_fields import boolean_of, mod_keys, text_of
from mlconnector.qbsim.ret_fields import add_core, bool_text, sub
from mlconnector.qbsim.sales_tax_codes import SalesTaxCode


def sales_tax_code_ret(code: SalesTaxCode) -> etree._Element:
    ret = etree.Element("SalesTaxCodeRet")
    core = code.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", code.name)
    sub(ret, "IsActive", bool_text(code.is_active))
    sub(ret, "IsTaxable", bool_text(code.is_taxable))
    sub(ret, "Desc", code.description)
    return ret


def _refuse_vat_refs(element: etree._Element) -> None:
    # ItemPurchaseTaxRef/ItemSalesTaxRef on a code are for UK/Canadian editions only.
    for tag in ("ItemPurchaseTaxRef", "ItemSalesTaxRef"):
        if element.find(tag) is not None:
            raise QbxmlParseError(f"<{tag}> on a sales tax code is not in the US edition")


def handle_sales_tax_code_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("SalesTaxCodeAdd")
    assert add is not None
    _refuse_vat_refs(add)
    added = company.add_sales_tax_code(
        text_of(add, "Name") or "",
        is_taxable=boolean_of(add, "IsTaxable") is True,
        description=text_of(add, "Desc"),
    )
    if boolean_of(add, "IsActive") is False:
        added = company.mod_sales_tax_code(
            added.core.list_id, added.core.edit_sequence, is_active=False
        )
    return Outcome([sales_tax_code_ret(added)])


def handle_sales_tax_code_mod(company: Company, request: etree._Element) -> Outcome:
    mod = request.find("SalesTaxCodeMod")
    assert mod is not None
    _refuse_vat_refs(mod)
    list_id, edit_sequence = mod_keys(mod)
    changed = company.mod_sales_tax_code(
        list_id,
        edit_sequence,
        name=text_of(mod, "Name"),
        is_active=boolean_of(mod, "IsActive"),
        is_taxable=boolean_of(mod, "IsTaxable"),
        description=text_of(mod, "Desc"),
    )
    return Outcome([sales_tax_code_ret(changed)])


def handle_sales_tax_code_query(company: Company, request: etree._Element) -> Outcome:
    found, missing = company.query_sales_tax_codes(list_filter(company, request))
    return query_outcome([sales_tax_code_ret(c) for c in found], missing)
