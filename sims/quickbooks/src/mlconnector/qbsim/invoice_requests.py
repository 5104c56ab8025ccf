"""InvoiceAdd and InvoiceQuery, and InvoiceRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.invoice_lines import InvoiceLineDraft
from mlconnector.qbsim.invoice_query import InvoiceFilter
from mlconnector.qbsim.invoices import Invoice, InvoiceDraft
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.queries import MatchCriterion
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.request_fields import (
    address_of,
    boolean_of,
    check_ids,
    date_of,
    decimal_of,
    parse_datetime,
    ref_spec_of,
    refuse_unmodelled_refs,
    text_of,
    texts_of,
)
from mlconnector.qbsim.ret_fields import (
    add_address,
    add_address_block,
    add_core,
    add_ref,
    amount_text,
    bool_text,
    percent_text,
    price_text,
    quantity_text,
    sub,
)
from mlconnector.qbsim.statuses import invalid_reference

# Lists the simulated company file has no entries in: any reference to them is invalid.
_INVOICE_UNMODELLED_REFS = (
    "ClassRef",
    "TemplateRef",
    "TermsRef",
    "SalesRepRef",
    "ShipMethodRef",
    "CustomerMsgRef",
    "CurrencyRef",
)
_LINE_UNMODELLED_REFS = (
    "PriceLevelRef",
    "ClassRef",
    "InventorySiteRef",
    "InventorySiteLocationRef",
    "OverrideItemAccountRef",
)


def invoice_ret(invoice: Invoice, *, include_lines: bool) -> etree._Element:
    ret = etree.Element("InvoiceRet")
    add_core(
        ret,
        invoice.txn_id,
        invoice.time_created,
        invoice.time_modified,
        invoice.edit_sequence,
        id_tag="TxnID",
    )
    sub(ret, "TxnNumber", str(invoice.txn_number))
    add_ref(ret, "CustomerRef", invoice.customer)
    add_ref(ret, "ARAccountRef", invoice.ar_account)
    sub(ret, "TxnDate", invoice.txn_date.isoformat())
    sub(ret, "RefNumber", invoice.ref_number)
    add_address(ret, "BillAddress", invoice.bill_address)
    add_address_block(ret, "BillAddressBlock", invoice.bill_address)
    add_address(ret, "ShipAddress", invoice.ship_address)
    add_address_block(ret, "ShipAddressBlock", invoice.ship_address)
    sub(ret, "IsPending", bool_text(invoice.is_pending))
    sub(ret, "IsFinanceCharge", "false")
    sub(ret, "PONumber", invoice.po_number)
    sub(ret, "DueDate", invoice.due_date.isoformat())
    sub(ret, "ShipDate", invoice.ship_date.isoformat())
    sub(ret, "Subtotal", amount_text(invoice.subtotal))
    add_ref(ret, "ItemSalesTaxRef", invoice.item_sales_tax)
    sub(ret, "SalesTaxPercentage", percent_text(invoice.sales_tax_percentage))
    sub(ret, "SalesTaxTotal", amount_text(invoice.sales_tax_total))
    sub(ret, "AppliedAmount", amount_text(invoice.applied_amount))
    sub(ret, "BalanceRemaining", amount_text(invoice.balance_remaining))
    sub(ret, "Memo", invoice.memo)
    sub(ret, "IsPaid", bool_text(invoice.is_paid))
    sub(ret, "IsToBePrinted", bool_text(invoice.is_to_be_printed))
    sub(ret, "IsToBeEmailed", bool_text(invoice.is_to_be_emailed))
    add_ref(ret, "CustomerSalesTaxCodeRef", invoice.customer_sales_tax_code)
    sub(ret, "Other", invoice.other)
    sub(ret, "ExternalGUID", invoice.external_guid)
    if include_lines:
        for line in invoice.lines:
            element = etree.SubElement(ret, "InvoiceLineRet")
            sub(element, "TxnLineID", line.txn_line_id)
            add_ref(element, "ItemRef", line.item)
            sub(element, "Desc", line.description)
            if line.quantity is not None:
                sub(element, "Quantity", quantity_text(line.quantity))
            if line.rate is not None:
                sub(element, "Rate", price_text(line.rate))
            elif line.rate_percent is not None:
                sub(element, "RatePercent", percent_text(line.rate_percent))
            sub(element, "Amount", amount_text(line.amount))
            if line.service_date is not None:
                sub(element, "ServiceDate", line.service_date.isoformat())
            add_ref(element, "SalesTaxCodeRef", line.sales_tax_code)
    return ret


def handle_invoice_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("InvoiceAdd")
    assert add is not None
    refuse_unmodelled_refs(add, _INVOICE_UNMODELLED_REFS, "Invoice")
    links = texts_of(add, "LinkToTxnID")
    if links:
        raise invalid_reference("Transaction", links[0], "Invoice")
    if add.find("SetCredit") is not None:
        raise invalid_reference(
            "Credit Memo", text_of(add, "SetCredit/CreditTxnID") or "", "Invoice"
        )
    lines: list[InvoiceLineDraft] = []
    for child in add:
        if child.tag == "InvoiceLineGroupAdd":
            group = ref_spec_of(child, "ItemGroupRef") or RefSpec()
            raise invalid_reference("ItemGroup", group.shown, "Invoice line")
        if child.tag != "InvoiceLineAdd":
            continue
        refuse_unmodelled_refs(child, _LINE_UNMODELLED_REFS, "Invoice line")
        if child.find("LinkToTxn") is not None:
            raise invalid_reference(
                "Transaction", text_of(child, "LinkToTxn/TxnID") or "", "Invoice line"
            )
        lines.append(
            InvoiceLineDraft(
                item=ref_spec_of(child, "ItemRef"),
                description=text_of(child, "Desc"),
                quantity=decimal_of(child, "Quantity"),
                rate=decimal_of(child, "Rate"),
                rate_percent=decimal_of(child, "RatePercent"),
                amount=decimal_of(child, "Amount"),
                service_date=date_of(child, "ServiceDate"),
                sales_tax_code=ref_spec_of(child, "SalesTaxCodeRef"),
            )
        )
    customer = ref_spec_of(add, "CustomerRef")
    assert customer is not None
    draft = InvoiceDraft(
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
    )
    # An Add answers with the whole transaction, lines included.
    return Outcome([invoice_ret(company.add_invoice(draft), include_lines=True)])


def handle_invoice_query(company: Company, request: etree._Element) -> Outcome:
    for unsupported in ("AccountFilter", "CurrencyFilter"):
        if request.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    txn_ids = texts_of(request, "TxnID")
    check_ids(txn_ids, "txn id")
    modified = request.find("ModifiedDateRangeFilter")
    txn_dates = request.find("TxnDateRangeFilter")
    from_txn_date = to_txn_date = None
    if txn_dates is not None:
        macro = text_of(txn_dates, "DateMacro")
        if macro == "Today":
            from_txn_date = to_txn_date = company.now().date()
        elif macro not in (None, "All"):
            raise QbxmlParseError(f"the simulator does not implement DateMacro {macro}")
        else:
            from_txn_date = date_of(txn_dates, "FromTxnDate")
            to_txn_date = date_of(txn_dates, "ToTxnDate")
    entity_ids: list[str] = []
    entity_names: list[str] = []
    with_children = False
    entity = request.find("EntityFilter")
    if entity is not None:
        entity_ids = texts_of(entity, "ListID") + texts_of(entity, "ListIDWithChildren")
        entity_names = texts_of(entity, "FullName") + texts_of(entity, "FullNameWithChildren")
        with_children = (
            entity.find("ListIDWithChildren") is not None
            or entity.find("FullNameWithChildren") is not None
        )
    ref_match: tuple[MatchCriterion, str] | None = None
    ref_filter = request.find("RefNumberFilter")
    if ref_filter is not None:
        criterion = text_of(ref_filter, "MatchCriterion") or "StartsWith"
        ref_match = (criterion, text_of(ref_filter, "RefNumber") or "")  # type: ignore[assignment]
    ref_range = request.find("RefNumberRangeFilter")
    max_returned = text_of(request, "MaxReturned")
    flt = InvoiceFilter(
        txn_ids=txn_ids,
        ref_numbers=texts_of(request, "RefNumber"),
        ref_numbers_case_sensitive=texts_of(request, "RefNumberCaseSensitive"),
        max_returned=int(max_returned) if max_returned else None,
        from_modified=parse_datetime(company, text_of(modified, "FromModifiedDate"))
        if modified is not None
        else None,
        to_modified=parse_datetime(company, text_of(modified, "ToModifiedDate"))
        if modified is not None
        else None,
        from_txn_date=from_txn_date,
        to_txn_date=to_txn_date,
        entity_list_ids=entity_ids,
        entity_full_names=entity_names,
        entity_with_children=with_children,
        ref_number_match=ref_match,
        ref_number_range=(
            (text_of(ref_range, "FromRefNumber"), text_of(ref_range, "ToRefNumber"))
            if ref_range is not None
            else None
        ),
        paid_status=(text_of(request, "PaidStatus") or "All"),  # type: ignore[arg-type]
    )
    include_lines = boolean_of(request, "IncludeLineItems") is True
    invoices, missing = company.query_invoices(flt, with_lines=include_lines)
    return query_outcome([invoice_ret(i, include_lines=include_lines) for i in invoices], missing)
