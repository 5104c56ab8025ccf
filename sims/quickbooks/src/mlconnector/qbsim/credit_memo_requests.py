"""CreditMemoAdd, CreditMemoMod and CreditMemoQuery, and CreditMemoRet (element order follows
qbxml130.xsd)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.credit_memos import CreditMemo, CreditMemoDraft
from mlconnector.qbsim.credits import LinkedTxn
from mlconnector.qbsim.invoice_requests import (
    add_linked_txns,
    add_sales_lines,
    line_changes,
    line_draft,
    sales_changes,
)
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.request_fields import (
    address_of,
    boolean_of,
    date_of,
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
    percent_text,
    sub,
)
from mlconnector.qbsim.statuses import invalid_reference
from mlconnector.qbsim.txn_filters import txn_filter

# Lists the simulated company file has no entries in: any reference to them is invalid.
_UNMODELLED_REFS = ("TemplateRef", "SalesRepRef", "ShipMethodRef", "CustomerMsgRef")


def credit_memo_ret(
    memo: CreditMemo, *, include_lines: bool, links: Sequence[LinkedTxn] = ()
) -> etree._Element:
    ret = etree.Element("CreditMemoRet")
    add_core(ret, memo.txn_id, memo.time_created, memo.time_modified, memo.edit_sequence, "TxnID")
    sub(ret, "TxnNumber", str(memo.txn_number))
    add_ref(ret, "CustomerRef", memo.customer)
    add_ref(ret, "ClassRef", memo.class_ref)
    add_ref(ret, "ARAccountRef", memo.ar_account)
    sub(ret, "TxnDate", memo.txn_date.isoformat())
    sub(ret, "RefNumber", memo.ref_number)
    add_address(ret, "BillAddress", memo.bill_address)
    add_address_block(ret, "BillAddressBlock", memo.bill_address)
    add_address(ret, "ShipAddress", memo.ship_address)
    add_address_block(ret, "ShipAddressBlock", memo.ship_address)
    sub(ret, "IsPending", bool_text(memo.is_pending))
    sub(ret, "PONumber", memo.po_number)
    add_ref(ret, "TermsRef", memo.terms)
    sub(ret, "DueDate", memo.due_date.isoformat())
    sub(ret, "ShipDate", memo.ship_date.isoformat())
    sub(ret, "Subtotal", amount_text(memo.subtotal))
    add_ref(ret, "ItemSalesTaxRef", memo.item_sales_tax)
    sub(ret, "SalesTaxPercentage", percent_text(memo.sales_tax_percentage))
    sub(ret, "SalesTaxTotal", amount_text(memo.sales_tax_total))
    sub(ret, "TotalAmount", amount_text(memo.total_amount))
    sub(ret, "CreditRemaining", amount_text(memo.credit_remaining))
    sub(ret, "Memo", memo.memo)
    sub(ret, "IsToBePrinted", bool_text(memo.is_to_be_printed))
    sub(ret, "IsToBeEmailed", bool_text(memo.is_to_be_emailed))
    add_ref(ret, "CustomerSalesTaxCodeRef", memo.customer_sales_tax_code)
    sub(ret, "Other", memo.other)
    sub(ret, "ExternalGUID", memo.external_guid)
    add_linked_txns(ret, links)
    if include_lines:
        add_sales_lines(ret, "CreditMemoLineRet", memo.lines)
    return ret


def handle_credit_memo_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("CreditMemoAdd")
    assert add is not None  # the schema requires it
    refuse_unmodelled_refs(add, _UNMODELLED_REFS, "CreditMemo")
    lines = []
    for child in add:
        if child.tag == "CreditMemoLineGroupAdd":
            group = ref_spec_of(child, "ItemGroupRef") or RefSpec()
            raise invalid_reference("ItemGroup", group.shown, "CreditMemo line")
        if child.tag == "CreditMemoLineAdd":
            lines.append(line_draft(child, "CreditMemo line"))
    customer = ref_spec_of(add, "CustomerRef")
    assert customer is not None
    draft = CreditMemoDraft(
        customer=customer,
        lines=lines,
        ar_account=ref_spec_of(add, "ARAccountRef"),
        txn_date=date_of(add, "TxnDate"),
        ref_number=text_of(add, "RefNumber"),
        bill_address=address_of(add, "BillAddress"),
        ship_address=address_of(add, "ShipAddress"),
        is_pending=boolean_of(add, "IsPending"),
        po_number=text_of(add, "PONumber"),
        due_date=date_of(add, "DueDate"),
        item_sales_tax=ref_spec_of(add, "ItemSalesTaxRef"),
        memo=text_of(add, "Memo"),
        is_to_be_printed=boolean_of(add, "IsToBePrinted"),
        is_to_be_emailed=boolean_of(add, "IsToBeEmailed"),
        customer_sales_tax_code=ref_spec_of(add, "CustomerSalesTaxCodeRef"),
        other=text_of(add, "Other"),
        external_guid=text_of(add, "ExternalGUID"),
        class_ref=ref_spec_of(add, "ClassRef"),
        terms=ref_spec_of(add, "TermsRef"),
    )
    # An Add answers with the whole transaction, lines included.
    return Outcome([credit_memo_ret(company.add_credit_memo(draft), include_lines=True)])


def handle_credit_memo_mod(company: Company, request: etree._Element) -> Outcome:
    mod = request.find("CreditMemoMod")
    assert mod is not None
    refuse_unmodelled_refs(mod, _UNMODELLED_REFS, "CreditMemo")
    txn_id, edit_sequence = mod_keys(mod, "TxnID")
    lines = line_changes(mod, "CreditMemo")
    changed = company.mod_credit_memo(txn_id, edit_sequence, sales_changes(mod), lines)
    return Outcome([credit_memo_ret(changed, include_lines=True)])


def handle_credit_memo_query(company: Company, request: etree._Element) -> Outcome:
    include_lines = boolean_of(request, "IncludeLineItems") is True
    include_links = boolean_of(request, "IncludeLinkedTxns") is True
    memos, missing = company.query_credit_memos(
        txn_filter(company, request), with_lines=include_lines
    )
    return query_outcome(
        [
            credit_memo_ret(
                m,
                include_lines=include_lines,
                links=company.linked_txns("CreditMemo", m.txn_id) if include_links else (),
            )
            for m in memos
        ],
        missing,
    )
