"""AccountAdd and AccountQuery, and AccountRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.accounts import Account
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.list_filters import list_filter
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.request_fields import boolean_of, ref_spec_of, text_of
from mlconnector.qbsim.ret_fields import add_core, add_ref, amount_text, bool_text, sub


def account_ret(account: Account) -> etree._Element:
    ret = etree.Element("AccountRet")
    core = account.core
    add_core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    sub(ret, "Name", account.name)
    sub(ret, "FullName", account.full_name)
    sub(ret, "IsActive", bool_text(account.is_active))
    add_ref(ret, "ParentRef", account.parent)
    sub(ret, "Sublevel", str(account.sublevel))
    sub(ret, "AccountType", account.account_type)
    sub(ret, "SpecialAccountType", account.special_account_type)
    sub(ret, "AccountNumber", account.account_number)
    sub(ret, "Desc", account.description)
    sub(ret, "Balance", amount_text(account.balance))
    sub(ret, "TotalBalance", amount_text(account.balance))
    return ret


def handle_account_query(company: Company, request: etree._Element) -> Outcome:
    accounts, missing = company.query_accounts(list_filter(company, request))
    return query_outcome([account_ret(a) for a in accounts], missing)


def handle_account_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("AccountAdd")
    assert add is not None
    for unsupported in ("DetailAccountType", "OpenBalance", "SalesTaxCodeRef", "CurrencyRef"):
        if add.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <AccountAdd><{unsupported}>")
    added = company.add_account(
        text_of(add, "Name") or "",
        text_of(add, "AccountType") or "",
        account_number=text_of(add, "AccountNumber"),
        description=text_of(add, "Desc"),
        parent=ref_spec_of(add, "ParentRef"),
        is_active=boolean_of(add, "IsActive") is not False,
    )
    return Outcome([account_ret(added)])
