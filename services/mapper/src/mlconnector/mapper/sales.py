"""The body shared by invoices and credit memos: header, lines with stable keys, Add and Mod.

A ServiceTitan invoice becomes an InvoiceAdd, or, when its total is negative, a CreditMemoAdd
whose lines are the invoice's with the sign turned (a credit memo's amounts are positive in
QuickBooks). Both are planned once (`SalesDocument`) and rendered either as the Add or as the
Mod the gateway sends when QuickBooks already has the transaction:

- the Mod names the transaction by `SELF_ID` with `FRESH_EDIT_SEQUENCE` (the gateway fills in
  the TxnID and the EditSequence it has just queried);
- every line is a *LineMod whose TxnLineID is `LINE_ID_PREFIX` + the line's key: the gateway
  puts the TxnLineID QuickBooks gave that line, or -1 for a new line; lines QuickBooks has that
  the Mod leaves out are removed by QuickBooks (qbXML: a Mod that names lines replaces them);
- the keys are ServiceTitan's invoice item ids (stable across versions), "sales-tax" for the
  tax line of tax mode 'line'; `line_keys` lists them in the Add's line order, so the gateway
  can record each TxnLineID from the Add's response by position.

Element order and the elements each request has follow qbxml130.xsd: InvoiceMod has a ClassRef,
CreditMemoMod has none; InvoiceLineMod has SalesTaxCodeRef, CreditMemoLineMod has none. A Mod
sends what the Add sends; a header field ServiceTitan cleared stays as QuickBooks has it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from xml.sax.saxutils import escape

from lxml import etree

from mlconnector.common.envelopes import FRESH_EDIT_SEQUENCE, LINE_ID_PREFIX, SELF_ID, LateRef
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import Address, Invoice, InvoiceLine
from mlconnector.common.money import cents, qb_amount
from mlconnector.common.qbxml import sub
from mlconnector.mapper.elements import add_address, add_ref, qb_date
from mlconnector.mapper.fingerprints import amount, line_label, line_value
from mlconnector.mapper.naming import DESC_MAX, qb_quantity, qb_rate
from mlconnector.mapper.text import TextNotes

ZERO = Decimal("0.00")
TAX_LINE_KEY = "sales-tax"


@dataclass(frozen=True)
class SalesKind:
    """Invoice or credit memo: the qbXML object and what its requests allow."""

    obj: str  # "Invoice" or "CreditMemo"
    label: str  # how the summary and errors name it
    sign: Decimal  # 1: ServiceTitan's amounts as they are; -1: turned (credit memo)
    class_in_mod: bool
    tax_code_in_line_mod: bool

    @property
    def add_request(self) -> str:
        return f"{self.obj}AddRq"

    @property
    def mod_request(self) -> str:
        return f"{self.obj}ModRq"


INVOICE = SalesKind("Invoice", "invoice", Decimal(1), class_in_mod=True, tax_code_in_line_mod=True)
CREDIT_MEMO = SalesKind(
    "CreditMemo", "credit memo", Decimal(-1), class_in_mod=False, tax_code_in_line_mod=False
)


@dataclass(frozen=True)
class SalesLine:
    """One line as QuickBooks will hold it (amounts already signed for the kind)."""

    key: str
    item: str
    desc: str
    quantity: Decimal | None  # None: not sent (a manual charge: QuickBooks takes the Amount)
    rate: Decimal | None  # None: not sent (QuickBooks derives it from Amount / Quantity)
    class_name: str | None
    amount: Decimal
    tax_code: str
    fingerprint: str | None  # None: the tax line, fingerprinted as "sales tax"


@dataclass(frozen=True)
class SalesHeader:
    customer: LateRef
    job_full_name: str | None
    class_name: str | None
    ar_account: str
    date: str
    ref_number: str
    customer_name: str
    bill_to: Address | None
    ship_to: Address | None
    terms: str | None
    due_date: str | None
    tax_item: str | None  # ItemSalesTaxRef (tax mode 'quickbooks')
    memo: str


@dataclass(frozen=True)
class SalesDocument:
    kind: SalesKind
    header: SalesHeader
    lines: tuple[SalesLine, ...]
    fingerprint: dict[str, str] = field(default_factory=dict)

    @property
    def line_keys(self) -> tuple[str, ...]:
        return tuple(line.key for line in self.lines)


def line_keys_for(lines: tuple[InvoiceLine, ...]) -> list[str]:
    """ServiceTitan's item id per line; a repeated id gets '#2', '#3'... (deterministic)."""
    seen: dict[str, int] = {}
    keys = []
    for line in lines:
        base = str(line.st_id)
        seen[base] = seen.get(base, 0) + 1
        keys.append(base if seen[base] == 1 else f"{base}#{seen[base]}")
    return keys


def _signed(line: InvoiceLine, sign: Decimal) -> tuple[Decimal, Decimal, Decimal]:
    """(quantity, rate, amount) as the kind shows them: a credit memo turns the sign of the
    amount, on the price (or on a negative quantity, so that quantities read naturally)."""
    if sign > 0:
        return line.quantity, line.price, line.total
    if line.quantity < 0:
        return -line.quantity, line.price, -line.total
    return line.quantity, -line.price, -line.total


def taxable(line: InvoiceLine, invoice: Invoice, mapping: MappingSettings) -> bool:
    """Whether QuickBooks must tax the line: ServiceTitan taxed it, QuickBooks computes the
    tax (mode 'quickbooks') and ServiceTitan charged tax at all (else the totals differ)."""
    return line.taxable and mapping.tax_mode == "quickbooks" and cents(invoice.sales_tax) != 0


def plan_lines(
    invoice: Invoice,
    kind: SalesKind,
    items: tuple[str, ...],
    class_names: tuple[str | None, ...],
    tax_item: str,
    mapping: MappingSettings,
    notes: TextNotes,
) -> tuple[SalesLine, ...]:
    """Every line, in ServiceTitan's order, then ServiceTitan's tax as a line (mode 'line')."""
    lines: list[SalesLine] = []
    keys = line_keys_for(invoice.lines)
    for index, (line, item, key, class_name) in enumerate(
        zip(invoice.lines, items, keys, class_names, strict=True), start=1
    ):
        quantity, rate, total = _signed(line, kind.sign)
        desc = notes.text(f"Desc (line {index})", line.description or line.sku_name, DESC_MAX)
        is_taxable = taxable(line, invoice, mapping)
        code = mapping.taxable_code if is_taxable else mapping.non_taxable_code
        extra = "(taxable)" if is_taxable else ""
        if class_name:
            extra = f"{extra} class {class_name}".strip()
        lines.append(
            SalesLine(
                key=key,
                item=item,
                desc=desc,
                quantity=quantity if quantity != 0 or total == 0 else None,
                # QuickBooks recomputes Amount from Quantity x Rate when it has both: the Rate
                # goes only when that reproduces ServiceTitan's line total.
                rate=rate if cents(quantity * rate) == cents(total) else None,
                class_name=class_name,
                amount=cents(total),
                tax_code=code,
                fingerprint=line_value(item, quantity, rate, total, extra=extra),
            )
        )
    tax = cents(invoice.sales_tax) * kind.sign
    if mapping.tax_mode == "line" and tax != 0:
        lines.append(
            SalesLine(
                key=TAX_LINE_KEY,
                item=tax_item,
                desc="Sales tax (as charged in ServiceTitan)",
                quantity=None,
                rate=None,
                class_name=None,
                amount=tax,
                tax_code=mapping.non_taxable_code,
                fingerprint=None,
            )
        )
    return tuple(lines)


def _customer(parent: etree._Element, header: SalesHeader) -> None:
    if header.job_full_name is not None:
        add_ref(parent, "CustomerRef", full_name=header.job_full_name)
    else:
        add_ref(parent, "CustomerRef", list_id=header.customer.placeholder)


def _line(parent: etree._Element, line: SalesLine, *, tax_code: bool) -> None:
    add_ref(parent, "ItemRef", full_name=line.item)
    if line.desc:
        sub(parent, "Desc", line.desc)
    if line.quantity is not None:
        sub(parent, "Quantity", qb_quantity(line.quantity))
    if line.rate is not None:
        sub(parent, "Rate", qb_rate(line.rate))
    if line.class_name:
        add_ref(parent, "ClassRef", full_name=line.class_name)
    sub(parent, "Amount", qb_amount(line.amount))
    if tax_code:
        add_ref(parent, "SalesTaxCodeRef", full_name=line.tax_code)


def _header_middle(
    body: etree._Element, document: SalesDocument, notes: TextNotes, *, class_ref: bool
) -> None:
    """From ClassRef to Memo: the part Add and Mod share (same order in both)."""
    header = document.header
    if class_ref and header.class_name:
        add_ref(body, "ClassRef", full_name=header.class_name)
    add_ref(body, "ARAccountRef", full_name=header.ar_account)
    sub(body, "TxnDate", header.date)
    sub(body, "RefNumber", header.ref_number)
    add_address(body, "BillAddress", header.bill_to, addressee=header.customer_name, notes=notes)
    add_address(body, "ShipAddress", header.ship_to, addressee=header.customer_name, notes=notes)
    if header.terms:
        add_ref(body, "TermsRef", full_name=header.terms)
    if header.due_date is not None:
        sub(body, "DueDate", header.due_date)
    if header.tax_item is not None:
        add_ref(body, "ItemSalesTaxRef", full_name=header.tax_item)
    if header.memo:
        sub(body, "Memo", header.memo)


def render_add(document: SalesDocument, guid: str, notes: TextNotes) -> etree._Element:
    """The InvoiceAddRq / CreditMemoAddRq; `guid` is the record's ExternalGUID."""
    kind = document.kind
    request = etree.Element(kind.add_request)
    add = sub(request, f"{kind.obj}Add")
    _customer(add, document.header)
    _header_middle(add, document, notes, class_ref=True)
    sub(add, "ExternalGUID", guid)
    for line in document.lines:
        _line(sub(add, f"{kind.obj}LineAdd"), line, tax_code=True)
    return request


_HEADER_CLASS = re.compile(r"^(<CustomerRef>.*?</CustomerRef>)<ClassRef>.*?</ClassRef>")
_LINE_TAX_CODE = re.compile(r"<SalesTaxCodeRef>.*?</SalesTaxCodeRef>")


def render_mod(document: SalesDocument, add_qbxml: str) -> str:
    """The InvoiceModRq / CreditMemoModRq: the Add's header and every line, by TxnLineID.

    Made from the Add's own serialized qbXML (`render_add`, rendered), so that the two can
    never disagree and the Mod costs a few string operations: every element of the Add's
    header but ExternalGUID, and each line's elements after its TxnLineID. The elements a
    credit memo's Mod does not have (the header's ClassRef, a line's SalesTaxCodeRef) are
    left out. Element text is escaped XML, so tags are found by plain search.
    """
    kind = document.kind
    add_open, line_open, line_close = (
        f"<{kind.obj}Add>",
        f"<{kind.obj}LineAdd>",
        f"</{kind.obj}LineAdd>",
    )
    body = add_qbxml[add_qbxml.index(add_open) + len(add_open) : add_qbxml.index("<ExternalGUID>")]
    if not kind.class_in_mod:
        body = _HEADER_CLASS.sub(r"\1", body, count=1)
    parts = [
        f"<{kind.mod_request}><{kind.obj}Mod><TxnID>{SELF_ID}</TxnID>",
        f"<EditSequence>{FRESH_EDIT_SEQUENCE}</EditSequence>",
        body,
    ]
    position = 0
    for line in document.lines:
        start = add_qbxml.index(line_open, position) + len(line_open)
        position = add_qbxml.index(line_close, start)
        content = add_qbxml[start:position]
        if not kind.tax_code_in_line_mod:
            content = _LINE_TAX_CODE.sub("", content)
        key = escape(f"{LINE_ID_PREFIX}{line.key}")
        parts.append(
            f"<{kind.obj}LineMod><TxnLineID>{key}</TxnLineID>{content}</{kind.obj}LineMod>"
        )
    parts.append(f"</{kind.obj}Mod></{kind.mod_request}>")
    return "".join(parts)


def fingerprint_of(document: SalesDocument, invoice: Invoice) -> dict[str, str]:
    """What an accountant compares between two posted versions (amounts as QuickBooks shows
    them: a credit memo's are positive)."""
    header = document.header
    sign = document.kind.sign
    fingerprint: dict[str, str] = {"number": invoice.number}
    if document.kind is CREDIT_MEMO:
        fingerprint["kind"] = "credit memo"
    fingerprint["date"] = header.date
    if header.due_date is not None:
        fingerprint["due date"] = header.due_date
    fingerprint["customer"] = f"{invoice.customer_name} (ServiceTitan {invoice.customer_st_id})"
    if header.job_full_name is not None:
        fingerprint["job"] = header.job_full_name
    if header.terms:
        fingerprint["terms"] = header.terms
    if header.class_name:
        fingerprint["class"] = header.class_name
    index = 0
    for line in document.lines:
        if line.fingerprint is not None:
            index += 1
            fingerprint[line_label(index)] = line.fingerprint
    fingerprint["subtotal"] = amount(invoice.subtotal * sign)
    fingerprint["sales tax"] = amount(invoice.sales_tax * sign)
    fingerprint["total"] = amount(invoice.total * sign)
    return fingerprint


def expected_amounts(document: SalesDocument, invoice: Invoice) -> dict[str, str]:
    """What QuickBooks must compute, decimal dollars (Command.expected).

    Tax mode 'quickbooks': ServiceTitan's subtotal, sales tax and total. Mode 'line':
    ServiceTitan's tax is a line of its own, so QuickBooks' subtotal includes it and its
    computed sales tax is 0. A credit memo's amounts are positive in QuickBooks.
    """
    sign = document.kind.sign
    tax_line = sum((line.amount for line in document.lines if line.key == TAX_LINE_KEY), ZERO)
    subtotal = cents(invoice.subtotal) * sign + tax_line
    sales_tax = cents(invoice.sales_tax) * sign - tax_line
    return {
        "subtotal": qb_amount(subtotal),
        "sales_tax": qb_amount(sales_tax),
        "total": qb_amount(cents(invoice.total) * sign),
    }


def document_date(invoice: Invoice) -> str:
    return qb_date(invoice.invoice_date)
