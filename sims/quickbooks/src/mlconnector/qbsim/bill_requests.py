"""BillAdd and BillQuery, and BillRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.bills import Bill, BillDraft, BillLineDraft
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.request_fields import (
    address_of,
    boolean_of,
    date_of,
    decimal_of,
    ref_spec_of,
    refuse_unmodelled_refs,
    text_of,
)
from mlconnector.qbsim.ret_fields import (
    add_address,
    add_core,
    add_ref,
    amount_text,
    bool_text,
    price_text,
    quantity_text,
    sub,
)
from mlconnector.qbsim.txn_filters import txn_filter

_LINE_UNMODELLED_REFS = (
    "SalesTaxCodeRef",
    "SalesRepRef",
    "InventorySiteRef",
    "InventorySiteLocationRef",
    "OverrideUOMSetRef",
)


def bill_ret(bill: Bill, *, include_lines: bool) -> etree._Element:
    ret = etree.Element("BillRet")
    add_core(
        ret, bill.txn_id, bill.time_created, bill.time_modified, bill.edit_sequence, id_tag="TxnID"
    )
    sub(ret, "TxnNumber", str(bill.txn_number))
    add_ref(ret, "VendorRef", bill.vendor)
    add_address(ret, "VendorAddress", bill.vendor_address)
    add_ref(ret, "APAccountRef", bill.ap_account)
    sub(ret, "TxnDate", bill.txn_date.isoformat())
    sub(ret, "DueDate", bill.due_date.isoformat())
    sub(ret, "AmountDue", amount_text(bill.amount_due))
    sub(ret, "RefNumber", bill.ref_number)
    add_ref(ret, "TermsRef", bill.terms)
    sub(ret, "Memo", bill.memo)
    sub(ret, "IsPaid", bool_text(bill.is_paid))
    sub(ret, "ExternalGUID", bill.external_guid)
    if include_lines:
        for line in (ln for ln in bill.lines if ln.kind == "Expense"):
            element = etree.SubElement(ret, "ExpenseLineRet")
            sub(element, "TxnLineID", line.txn_line_id)
            add_ref(element, "AccountRef", line.account)
            sub(element, "Amount", amount_text(line.amount))
            sub(element, "Memo", line.memo)
            add_ref(element, "CustomerRef", line.customer)
            add_ref(element, "ClassRef", line.class_ref)
        for line in (ln for ln in bill.lines if ln.kind == "Item"):
            element = etree.SubElement(ret, "ItemLineRet")
            sub(element, "TxnLineID", line.txn_line_id)
            add_ref(element, "ItemRef", line.item)
            sub(element, "Desc", line.description)
            if line.quantity is not None:
                sub(element, "Quantity", quantity_text(line.quantity))
            if line.cost is not None:
                sub(element, "Cost", price_text(line.cost))
            sub(element, "Amount", amount_text(line.amount))
            add_ref(element, "CustomerRef", line.customer)
            add_ref(element, "ClassRef", line.class_ref)
    sub(ret, "OpenAmount", amount_text(bill.open_amount))
    return ret


def _line_draft(element: etree._Element) -> BillLineDraft:
    refuse_unmodelled_refs(element, _LINE_UNMODELLED_REFS, "Bill line")
    for unsupported in ("TaxAmount", "BillableStatus", "SerialNumber", "LotNumber"):
        if element.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    return BillLineDraft(
        kind="Expense" if element.tag == "ExpenseLineAdd" else "Item",
        account=ref_spec_of(element, "AccountRef"),
        item=ref_spec_of(element, "ItemRef"),
        description=text_of(element, "Desc"),
        quantity=decimal_of(element, "Quantity"),
        cost=decimal_of(element, "Cost"),
        amount=decimal_of(element, "Amount"),
        memo=text_of(element, "Memo"),
        customer=ref_spec_of(element, "CustomerRef"),
        class_ref=ref_spec_of(element, "ClassRef"),
    )


def handle_bill_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("BillAdd")
    assert add is not None
    refuse_unmodelled_refs(add, ("SalesTaxCodeRef",), "Bill")
    for unsupported in ("LinkToTxnID", "ItemGroupLineAdd", "ExchangeRate", "IsTaxIncluded"):
        if add.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    vendor = ref_spec_of(add, "VendorRef")
    assert vendor is not None
    draft = BillDraft(
        vendor=vendor,
        lines=[
            _line_draft(child) for child in add if child.tag in ("ExpenseLineAdd", "ItemLineAdd")
        ],
        vendor_address=address_of(add, "VendorAddress"),
        ap_account=ref_spec_of(add, "APAccountRef"),
        txn_date=date_of(add, "TxnDate"),
        due_date=date_of(add, "DueDate"),
        ref_number=text_of(add, "RefNumber"),
        terms=ref_spec_of(add, "TermsRef"),
        memo=text_of(add, "Memo"),
        external_guid=text_of(add, "ExternalGUID"),
    )
    # An Add answers with the whole transaction, lines included.
    return Outcome([bill_ret(company.add_bill(draft), include_lines=True)])


def handle_bill_query(company: Company, request: etree._Element) -> Outcome:
    include_lines = boolean_of(request, "IncludeLineItems") is True
    bills, missing = company.query_bills(txn_filter(company, request), with_lines=include_lines)
    return query_outcome([bill_ret(b, include_lines=include_lines) for b in bills], missing)
