"""StandardTermsAdd, StandardTermsQuery and TermsQuery, and StandardTermsRet.

The simulated company has standard terms only (no date-driven terms), so TermsQuery answers
with StandardTermsRet elements alone.
"""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.request_fields import boolean_of, decimal_of, int_of, text_of
from mlconnector.qbsim.ret_fields import add_core, bool_text, percent_text, sub
from mlconnector.qbsim.terms import StandardTerms


def standard_terms_ret(terms: StandardTerms) -> etree._Element:
    ret = etree.Element("StandardTermsRet")
    core = terms.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", terms.name)
    sub(ret, "IsActive", bool_text(terms.is_active))
    if terms.std_due_days is not None:
        sub(ret, "StdDueDays", str(terms.std_due_days))
    if terms.std_discount_days is not None:
        sub(ret, "StdDiscountDays", str(terms.std_discount_days))
    if terms.discount_pct is not None:
        sub(ret, "DiscountPct", percent_text(terms.discount_pct))
    return ret


def handle_standard_terms_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("StandardTermsAdd")
    assert add is not None
    is_active = boolean_of(add, "IsActive")
    added = company.add_standard_terms(
        text_of(add, "Name") or "",
        std_due_days=int_of(add, "StdDueDays"),
        std_discount_days=int_of(add, "StdDiscountDays"),
        discount_pct=decimal_of(add, "DiscountPct"),
        is_active=True if is_active is None else is_active,
    )
    return Outcome([standard_terms_ret(added)])


def handle_terms_query(company: Company, request: etree._Element) -> Outcome:
    found, missing = company.query_terms(list_filter(company, request))
    return query_outcome([standard_terms_ret(t) for t in found], missing)
