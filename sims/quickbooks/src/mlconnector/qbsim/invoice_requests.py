"""InvoiceAdd, InvoiceMod and InvoiceQuery, and InvoiceRet (element order follows qbxml130.xsd)."""

from __future__ import annotations

from collections.abc import Sequence

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.credits import LinkedTxn
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.invoice_lines import InvoiceLine, InvoiceLineDraft
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
    set_credits_of,
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


def add_linked_txns(ret: etree._Element, links: Sequence[LinkedTxn]) -> None:
    """LinkedTxn elements (IncludeLinkedTxns): the payments and credits on a sales form."""
    for link in links:
        element = etree.SubElement(ret, "LinkedTxn")
        sub(element, "TxnID", link.txn_id)
        sub(element, "TxnType", link.txn_type)
        sub(element, "TxnDate", link.txn_date.isoformat())
        sub(element, "RefNumber", link.ref_number)
        sub(element, "LinkType", "AMTTYPE")
        sub(element, "Amount", amount_text(link.amount))


def add_sales_lines(ret: etree._Element, tag: str, lines: Sequence[InvoiceLine]) -> None:
    """InvoiceLineRet / CreditMemoLineRet elements (the same shape in qbxml130.xsd)."""
    for line in lines:
        element = etree.SubElement(ret, tag)
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


def invoice_ret(
    invoice: Invoice, *, include_lines: bool, links: Sequence[LinkedTxn] = ()
) -> etree._Element:
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
    add_linked_txns(ret, links)
    if include_lines:
        add_sales_lines(ret, "InvoiceLineRet", invoice.lines)
    return ret


def handle_invoice_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("InvoiceAdd")
    assert add is not None
    refuse_unmodelled_refs(add, _INVOICE_UNMODELLED_REFS, "Invoice")
    links = texts_of(add, "LinkToTxnID")
    if links:
        raise invalid_reference("Transaction", links[0], "Invoice")
    lines: list[InvoiceLineDraft] = []
    for child in add:
        if child.tag == "InvoiceLineGroupAdd":
            group = ref_spec_of(child, "ItemGroupRef") or RefSpec()
            raise invalid_reference("ItemGroup", group.shown, "Invoice line")
        if child.tag != "InvoiceLineAdd":
            continue
        lines.append(line_draft(child))
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
    added = company.add_invoice(draft)
    credits = set_credits_of(add)
    if credits:
        added = company.set_invoice_credits(added.txn_id, credits)
    # An Add answers with the whole transaction, lines included.
    return Outcome([invoice_ret(added, include_lines=True)])


def line_draft(element: etree._Element, where: str = "Invoice line") -> InvoiceLineDraft:
    """An InvoiceLineAdd/Mod's (or CreditMemoLineAdd/Mod's) fields."""
    refuse_unmodelled_refs(element, _LINE_UNMODELLED_REFS, where)
    if element.find("LinkToTxn") is not None:
        raise invalid_reference("Transaction", text_of(element, "LinkToTxn/TxnID") or "", where)
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
    txn_id, edit_sequence = mod_keys(mod, "TxnID")
    lines = line_changes(mod, "Invoice")
    changed = company.mod_invoice(txn_id, edit_sequence, sales_changes(mod), lines)
    credits = set_credits_of(mod)
    if credits:
        changed = company.set_invoice_credits(txn_id, credits)
    return Outcome([invoice_ret(changed, include_lines=True)])


def line_changes(mod: etree._Element, kind: str) -> list[InvoiceLineChange] | None:
    """The <kind>LineMod elements of an InvoiceMod/CreditMemoMod; None when there are none
    (the lines are then left as they are)."""
    lines: list[InvoiceLineChange] | None = None
    for child in mod:
        if child.tag == f"{kind}LineGroupMod":
            raise QbxmlParseError(f"the simulator does not implement <{kind}LineGroupMod>")
        if child.tag == f"{kind}LineMod":
            lines = lines if lines is not None else []
            lines.append(
                InvoiceLineChange(
                    text_of(child, "TxnLineID") or "", line_draft(child, f"{kind} line")
                )
            )
    return lines


def sales_changes(mod: etree._Element) -> InvoiceChanges:
    """The header fields an InvoiceMod/CreditMemoMod sets (absent elements: unchanged)."""
    return InvoiceChanges(
        customer=ref_spec_of(mod, "CustomerRef"),
        class_ref=ref_spec_of(mod, "ClassRef"),
        ar_account=ref_spec_of(mod, "ARAccountRef"),
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


def handle_invoice_query(company: Company, request: etree._Element) -> Outcome:
    flt = txn_filter(company, request)
    include_lines = boolean_of(request, "IncludeLineItems") is True
    include_links = boolean_of(request, "IncludeLinkedTxns") is True
    invoices, missing = company.query_invoices(flt, with_lines=include_lines)
    return query_outcome(
        [
            invoice_ret(
                i,
                include_lines=include_lines,
                links=company.linked_txns("Invoice", i.txn_id) if include_links else (),
            )
            for i in invoices
        ],
        missing,
    )
