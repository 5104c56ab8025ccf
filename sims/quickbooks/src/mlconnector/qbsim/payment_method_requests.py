"""PaymentMethodAdd and PaymentMethodQuery, and PaymentMethodRet."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.payment_methods import PaymentMethod
from mlconnector.qbsim.request_fields import boolean_of, text_of
from mlconnector.qbsim.ret_fields import add_core, bool_text, sub


def payment_method_ret(method: PaymentMethod) -> etree._Element:
    ret = etree.Element("PaymentMethodRet")
    core = method.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", method.name)
    sub(ret, "IsActive", bool_text(method.is_active))
    sub(ret, "PaymentMethodType", method.payment_method_type)
    return ret


def handle_payment_method_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("PaymentMethodAdd")
    assert add is not None
    is_active = boolean_of(add, "IsActive")
    added = company.add_payment_method(
        text_of(add, "Name") or "",
        payment_method_type=text_of(add, "PaymentMethodType"),
        is_active=True if is_active is None else is_active,
    )
    return Outcome([payment_method_ret(added)])


def handle_payment_method_query(company: Company, request: etree._Element) -> Outcome:
    found, missing = company.query_payment_methods(list_filter(company, request))
    return query_outcome([payment_method_ret(m) for m in found], missing)
