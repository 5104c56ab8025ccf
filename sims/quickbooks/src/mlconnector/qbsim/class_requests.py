"""ClassAdd, ClassMod, ClassQuery, and ClassRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.classes import QbClass
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.request_fields import boolean_of, mod_keys, ref_spec_of, text_of
from mlconnector.qbsim.ret_fields import add_core, add_ref, bool_text, sub


def class_ret(qb_class: QbClass) -> etree._Element:
    ret = etree.Element("ClassRet")
    core = qb_class.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", qb_class.name)
    sub(ret, "FullName", qb_class.full_name)
    sub(ret, "IsActive", bool_text(qb_class.is_active))
    add_ref(ret, "ParentRef", qb_class.parent)
    sub(ret, "Sublevel", str(qb_class.sublevel))
    return ret


def handle_class_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("ClassAdd")
    assert add is not None  # the schema requires it
    is_active = boolean_of(add, "IsActive")
    added = company.add_class(
        text_of(add, "Name") or "",
        parent=ref_spec_of(add, "ParentRef"),
        is_active=True if is_active is None else is_active,
    )
    return Outcome([class_ret(added)])


def handle_class_mod(company: Company, request: etree._Element) -> Outcome:
    mod = request.find("ClassMod")
    assert mod is not None
    list_id, edit_sequence = mod_keys(mod)
    changed = company.mod_class(
        list_id,
        edit_sequence,
        name=text_of(mod, "Name"),
        is_active=boolean_of(mod, "IsActive"),
        parent=ref_spec_of(mod, "ParentRef"),
    )
    return Outcome([class_ret(changed)])


def handle_class_query(company: Company, request: etree._Element) -> Outcome:
    found, missing = company.query_classes(list_filter(company, request))
    return query_outcome([class_ret(c) for c in found], missing)
