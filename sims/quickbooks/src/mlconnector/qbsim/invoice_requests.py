"""InvoiceAdd, InvoiceMod and InvoiceQuery, and InvoiceRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.invoice_lines import InvoiceLineDraft
from mlconnector.qbsim.invoice_mods import InvoiceChanges, InvoiceLineChange
from mlconnector.qbsim.invoices import Invoice, InvoiceDraft
from mlconnector.qbsim.outcomes import Outcome, query_outcome
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.request_fields import (
    address_of,
    boolean_of,
    date_of,
    decimal_of,
    mod_keys,
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
from mlconnector.qbsim.txn_filters import txn_filter

# Lists the simulated company file has no entries in: any reference to them is invalid.
_INVOICE_UNMODELLED_REFS = (
    "TemplateRef",
    "SalesRepRef",
    "ShipMethodRef",
    "CustomerMsgRef",
    "CurrencyRef",
)
_LINE_UNMODELLED_REFS = (
    "PriceLevelRef",
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
    add_ref(ret, "ClassRef", invoice.class_ref)
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
    add_ref(ret, "TermsRef", invoice.terms)
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
            add_ref(element, "ClassRef", line.class_ref)
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
        lines.append(_line_draft(child))
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
        class_ref=ref_spec_of(add, "ClassRef"),
        terms=ref_spec_of(add, "TermsRef"),
    )
    # An Add answers with the whole transaction, lines included.
    return Outcome([invoice_ret(company.add_invoice(draft), include_lines=True)])


def _line_draft(element: etree._Element) -> InvoiceLineDraft:
    """An InvoiceLineAdd or InvoiceLineMod's fields."""
    refuse_unmodelled_refs(element, _LINE_UNMODELLED_REFS, "Invoice line")
    if element.find("LinkToTxn") is not None:
        raise invalid_reference(
            "Transaction", text_of(element, "LinkToTxn/TxnID") or "", "Invoice line"
        )
    return InvoiceLineDraft(
        item=ref_spec_of(element, "ItemRef"),
        description=text_of(element, "Desc"),
        quantity=decimal_of(element, "Quantity"),
        rate=decimal_of(element, "Rate"),
        rate_percent=decimal_of(element, "RatePercent"),
        amount=decimal_of(element, "Amount"),
        service_date=date_of(element, "ServiceDate"),
        sales_tax_code=ref_spec_of(element, "SalesTaxCodeRef"),
        class_ref=ref_spec_of(element, "ClassRef"),
    )


def handle_invoice_mod(company: Company, request: etree._Element) -> Outcome:
    mod = request.find("InvoiceMod")
    assert mod is not None
    refuse_unmodelled_refs(mod, _INVOICE_UNMODELLED_REFS, "Invoice")
    if mod.find("SetCredit") is not None:
        raise invalid_reference(
            "Credit Memo", text_of(mod, "SetCredit/CreditTxnID") or "", "Invoice"
        )
    txn_id, edit_sequence = mod_keys(mod, "TxnID")
    lines: list[InvoiceLineChange] | None = None
    for child in mod:
        if child.tag == "InvoiceLineGroupMod":
            raise QbxmlParseError("the simulator does not implement <InvoiceLineGroupMod>")
        if child.tag == "InvoiceLineMod":
            lines = lines if lines is not None else []
            lines.append(InvoiceLineChange(text_of(child, "TxnLineID") or "", _line_draft(child)))
    changes = InvoiceChanges(
        customer=ref_spec_of(mod, "CustomerRef"),
        class_ref=ref_spec_of(mod, "ClassRef"),
        txn_date=date_of(mod, "TxnDate"),
        ref_number=text_of(mod, "RefNumber"),
        bill_address=address_of(mod, "BillAddress"),
        ship_address=address_of(mod, "ShipAddress"),
        is_pending=boolean_of(mod, "IsPending"),
        po_number=text_of(mod, "PONumber"),
        terms=ref_spec_of(mod, "TermsRef"),
        due_date=date_of(mod, "DueDate"),
        ship_date=date_of(mod, "ShipDate"),
        item_sales_tax=ref_spec_of(mod, "ItemSalesTaxRef"),
        memo=text_of(mod, "Memo"),
        is_to_be_printed=boolean_of(mod, "IsToBePrinted"),
        is_to_be_emailed=boolean_of(mod, "IsToBeEmailed"),
        customer_sales_tax_code=ref_spec_of(mod, "CustomerSalesTaxCodeRef"),
        other=text_of(mod, "Other"),
    )
    if mod.find("ARAccountRef") is not None:
        raise QbxmlParseError("the simulator does not implement <InvoiceMod><ARAccountRef>")
    changed = company.mod_invoice(txn_id, edit_sequence, changes, lines)
    return Outcome([invoice_ret(changed, include_lines=True)])


def handle_invoice_query(company: Company, request: etree._Element) -> Outcome:
    flt = txn_filter(company, request)
    include_lines = boolean_of(request, "IncludeLineItems") is True
    invoices, missing = company.query_invoices(flt, with_lines=include_lines)
    return query_outcome([invoice_ret(i, include_lines=include_lines) for i in invoices], missing)
