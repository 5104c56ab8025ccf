"""qbXML request document in, qbXML response document out, as QuickBooks Desktop answers.

What QuickBooks does, and this module does too:

- The whole message is refused (the Web Connector reports HRESULT 0x80040400, "QuickBooks found
  an error when parsing the provided XML text stream") when it is not well-formed, lacks the
  `<?qbxml version?>` instruction, asks for a qbXML version newer than 13.0, or breaks the
  schema (element order, unknown elements, bad values). Raised here as `QbxmlParseError`.
- A string longer than its field allows is not a parse error: that one request fails with
  status 3070 and the others are processed.
- Every `*Rs` carries statusCode, statusSeverity and statusMessage and echoes requestID.
- `onError="stopOnError"` stops at the first request whose status is an Error; the requests
  after it are neither processed nor answered. `continueOnError` answers every request.
- Queries: nothing found -> status 1 (Info); a ListID/FullName/TxnID asked for by name that
  does not exist -> status 500 (Warn), with whatever else was found.

Request types this simulator does not implement are refused like a request the QuickBooks
version does not support (0x80040400), naming the request, so a test never passes silently.
New types: `QbxmlProcessor.register("XxxRq", handler)`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from lxml import etree

from mlconnector.common.qbxml.schema import load_schema
from mlconnector.common.qbxml.status import severity_of
from mlconnector.common.xmlsafe import UnsafeXMLError, parse_untrusted
from mlconnector.qbsim.company import (
    MSG_NO_MATCH,
    MSG_OK,
    Account,
    Address,
    Company,
    CustomerDraft,
    Entity,
    Invoice,
    InvoiceDraft,
    InvoiceFilter,
    InvoiceLineDraft,
    Item,
    ListFilter,
    MatchCriterion,
    QbError,
    Ref,
    RefSpec,
    invalid_reference,
    round_cents,
)

SUPPORTED_VERSION = (13, 0)
HRESULT_PARSE_ERROR = "0x80040400"
PARSE_ERROR_MESSAGE = "QuickBooks found an error when parsing the provided XML text stream."

# What HostQueryRs reports: QuickBooks 2014 (internal version 24) is the release that shipped
# qbXML 13.0, the schema this simulator validates against.
PRODUCT_NAME = "Intuit QuickBooks Premier Edition: Contractor 2014"
PRODUCT_MAJOR_VERSION = "24"
PRODUCT_MINOR_VERSION = "0"
SUPPORTED_QBXML_VERSIONS = (
    "1.0",
    "1.1",
    "2.0",
    "2.1",
    "3.0",
    "4.0",
    "4.1",
    "5.0",
    "6.0",
    "7.0",
    "8.0",
    "9.0",
    "10.0",
    "11.0",
    "12.0",
    "13.0",
)

_LIST_ID = re.compile(r"^[0-9A-Fa-f]{1,8}-\d{1,10}$")


class QbxmlParseError(Exception):
    """QuickBooks refused the whole message; the Web Connector reports hresult + message."""

    def __init__(self, detail: str) -> None:
        super().__init__(f"{PARSE_ERROR_MESSAGE} ({detail})")
        self.hresult = HRESULT_PARSE_ERROR
        self.message = PARSE_ERROR_MESSAGE
        self.detail = detail


@dataclass
class Outcome:
    """What a handler produced for one request: its Ret elements and status."""

    rets: list[etree._Element] = field(default_factory=list)
    code: int = 0
    message: str = MSG_OK


Handler = Callable[[Company, etree._Element], Outcome]


# -- small helpers ----------------------------------------------------------------------------


def _sub(parent: etree._Element, tag: str, text: str | None) -> etree._Element | None:
    if text is None:
        return None
    child = etree.SubElement(parent, tag)
    child.text = text
    return child


def _bool(value: bool) -> str:
    return "true" if value else "false"


def _amt(value: Decimal) -> str:
    return f"{round_cents(value):.2f}"


def _price(value: Decimal) -> str:
    # PRICETYPE/PERCENTTYPE: up to 5 decimals; QuickBooks shows at least cents for prices.
    value = value.quantize(Decimal("0.00001")).normalize()
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and exponent > -2:
        value = value.quantize(Decimal("0.01"))
    return format(value, "f")


def _quantity(value: Decimal) -> str:
    value = value.quantize(Decimal("0.00001")).normalize()
    return format(value, "f")


def _percent(value: Decimal) -> str:
    return _price(value)


def _ref(parent: etree._Element, tag: str, ref: Ref | None) -> None:
    if ref is None:
        return
    element = etree.SubElement(parent, tag)
    _sub(element, "ListID", ref.list_id)
    _sub(element, "FullName", ref.full_name)


def _address(parent: etree._Element, tag: str, address: Address | None) -> None:
    if address is None or address.is_empty():
        return
    element = etree.SubElement(parent, tag)
    for name, attr in Address.FIELDS:
        _sub(element, name, getattr(address, attr))


def _address_block(parent: etree._Element, tag: str, address: Address | None) -> None:
    """The address as QuickBooks prints it: street lines, then "City, State PostalCode"."""
    if address is None or address.is_empty():
        return
    lines = [
        line
        for line in (address.addr1, address.addr2, address.addr3, address.addr4, address.addr5)
        if line
    ]
    city_line = " ".join(
        part
        for part in (
            f"{address.city},"
            if address.city and (address.state or address.postal_code)
            else address.city,
            address.state,
            address.postal_code,
        )
        if part
    )
    if city_line:
        lines.append(city_line)
    if address.country:
        lines.append(address.country)
    element = etree.SubElement(parent, tag)
    for index, line in enumerate(lines[:5], start=1):
        _sub(element, f"Addr{index}", line[:41])


def _core(
    parent: etree._Element,
    list_id: str,
    created: datetime,
    modified: datetime,
    edit_sequence: str,
    id_tag: str = "ListID",
) -> None:
    _sub(parent, id_tag, list_id)
    _sub(parent, "TimeCreated", created.isoformat())
    _sub(parent, "TimeModified", modified.isoformat())
    _sub(parent, "EditSequence", edit_sequence)


def _text(element: etree._Element, tag: str) -> str | None:
    found = element.find(tag)
    if found is None:
        return None
    return found.text or ""


def _texts(element: etree._Element, tag: str) -> list[str]:
    return [child.text or "" for child in element.findall(tag)]


def _decimal(element: etree._Element, tag: str) -> Decimal | None:
    raw = _text(element, tag)
    if raw is None or raw == "":
        return None
    try:
        return Decimal(raw)
    except InvalidOperation as exc:  # the schema's patterns make this unreachable
        raise QbxmlParseError(f"<{tag}> {raw!r} is not a number") from exc


def _boolean(element: etree._Element, tag: str) -> bool | None:
    raw = _text(element, tag)
    if raw is None or raw == "":
        return None
    return raw.strip() in ("true", "1")


def _date(element: etree._Element, tag: str) -> date | None:
    raw = _text(element, tag)
    if raw is None or raw == "":
        return None
    return date.fromisoformat(raw.strip())


def _datetime(company: Company, raw: str | None) -> datetime | None:
    """DATETIMETYPE. Without an offset it is the QuickBooks PC's local time (FACTS: qbXML)."""
    if raw is None or raw.strip() == "":
        return None
    match = re.fullmatch(
        r"(\d{4})-(\d{1,2})-(\d{1,2})(?:T(\d{1,2})(?::(\d{1,2})(?::(\d{1,2})"
        r"([+-]\d{1,2}:\d{1,2})?)?)?)?",
        raw.strip(),
    )
    if match is None:
        raise QbxmlParseError(f"{raw!r} is not a date-time")
    year, month, day, hour, minute, second, offset = match.groups()
    text = (
        f"{int(year):04d}-{int(month):02d}-{int(day):02d}T{int(hour or 0):02d}:"
        f"{int(minute or 0):02d}:{int(second or 0):02d}"
    )
    if offset:
        sign, hh_mm = offset[0], offset[1:].split(":")
        text += f"{sign}{int(hh_mm[0]):02d}:{int(hh_mm[1]):02d}"
        return datetime.fromisoformat(text)
    return datetime.fromisoformat(text).replace(tzinfo=company.now().tzinfo)


def _ref_spec(element: etree._Element, tag: str) -> RefSpec | None:
    found = element.find(tag)
    if found is None:
        return None
    return RefSpec(list_id=_text(found, "ListID"), full_name=_text(found, "FullName"))


def _address_of(element: etree._Element, tag: str) -> Address | None:
    found = element.find(tag)
    if found is None:
        return None
    return Address(**{attr: _text(found, name) for name, attr in Address.FIELDS})


def _refuse_unmodelled_refs(element: etree._Element, tags: Iterable[str], where: str) -> None:
    """References to lists this company file has no entries in (classes, terms, sales reps...).

    QuickBooks answers 3140 for a reference to a record that is not in its list; in the
    simulated company those lists are empty, so any such reference is invalid.
    """
    for tag in tags:
        spec = _ref_spec(element, tag)
        if spec is not None:
            kind = tag.removesuffix("Ref")
            raise invalid_reference(kind, spec.shown, where)


def _check_list_ids(values: Sequence[str], field_name: str = "list id") -> None:
    for value in values:
        if not _LIST_ID.match(value):
            # QuickBooks' 3000, for an id that cannot be a QuickBooks id at all.
            raise QbError(
                3000, f'The given object ID "{value}" in the field "{field_name}" is invalid.'
            )


def _not_found(missing: Sequence[str]) -> tuple[int, str]:
    return 500, (
        "The query request has not been fully completed. There was a required element "
        f'("{missing[0]}") that could not be found in QuickBooks.'
    )


def _query_outcome(rets: list[etree._Element], missing: Sequence[str]) -> Outcome:
    if missing:
        code, message = _not_found(missing)
        return Outcome(rets, code, message)
    if not rets:
        return Outcome([], 1, MSG_NO_MATCH)
    return Outcome(rets)


def _list_filter(company: Company, request: etree._Element) -> ListFilter:
    for unsupported in ("TotalBalanceFilter", "CurrencyFilter", "ClassFilter"):
        if request.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    list_ids = _texts(request, "ListID")
    _check_list_ids(list_ids)
    name_match: tuple[MatchCriterion, str] | None = None
    name_filter = request.find("NameFilter")
    if name_filter is not None:
        criterion = _text(name_filter, "MatchCriterion") or "StartsWith"
        if criterion not in ("StartsWith", "Contains", "EndsWith"):
            raise QbxmlParseError(f"MatchCriterion {criterion!r}")
        name_match = (criterion, _text(name_filter, "Name") or "")  # type: ignore[assignment]
    name_range: tuple[str | None, str | None] | None = None
    range_filter = request.find("NameRangeFilter")
    if range_filter is not None:
        name_range = (_text(range_filter, "FromName"), _text(range_filter, "ToName"))
    active = _text(request, "ActiveStatus") or "ActiveOnly"
    max_returned = _text(request, "MaxReturned")
    return ListFilter(
        list_ids=list_ids,
        full_names=_texts(request, "FullName"),
        max_returned=int(max_returned) if max_returned else None,
        active_status=active,  # type: ignore[arg-type]
        from_modified=_datetime(company, _text(request, "FromModifiedDate")),
        to_modified=_datetime(company, _text(request, "ToModifiedDate")),
        name_match=name_match,
        name_range=name_range,
        account_types=_texts(request, "AccountType"),
    )


# -- Ret builders (element order follows qbxml130.xsd / the annotated qbxmlops130.xml) ----------


def host_ret() -> etree._Element:
    ret = etree.Element("HostRet")
    _sub(ret, "ProductName", PRODUCT_NAME)
    _sub(ret, "MajorVersion", PRODUCT_MAJOR_VERSION)
    _sub(ret, "MinorVersion", PRODUCT_MINOR_VERSION)
    _sub(ret, "Country", "US")
    for version in SUPPORTED_QBXML_VERSIONS:
        _sub(ret, "SupportedQBXMLVersion", version)
    _sub(ret, "IsAutomaticLogin", "false")
    _sub(ret, "QBFileMode", "SingleUser")
    return ret


def customer_ret(customer: Entity) -> etree._Element:
    ret = etree.Element("CustomerRet")
    core = customer.core
    _core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    _sub(ret, "Name", customer.name)
    _sub(ret, "FullName", customer.full_name)
    _sub(ret, "IsActive", _bool(customer.is_active))
    _ref(ret, "ParentRef", customer.parent)
    _sub(ret, "Sublevel", str(customer.sublevel))
    _sub(ret, "CompanyName", customer.company_name)
    _sub(ret, "FirstName", customer.first_name)
    _sub(ret, "LastName", customer.last_name)
    _address(ret, "BillAddress", customer.bill_address)
    _address_block(ret, "BillAddressBlock", customer.bill_address)
    _address(ret, "ShipAddress", customer.ship_address)
    _address_block(ret, "ShipAddressBlock", customer.ship_address)
    _sub(ret, "Phone", customer.phone)
    _sub(ret, "Email", customer.email)
    _sub(ret, "Balance", _amt(customer.balance))
    _sub(ret, "TotalBalance", _amt(customer.total_balance))
    _ref(ret, "SalesTaxCodeRef", customer.sales_tax_code)
    _ref(ret, "ItemSalesTaxRef", customer.item_sales_tax)
    _sub(ret, "AccountNumber", customer.account_number)
    _sub(ret, "JobStatus", "None")
    _sub(ret, "Notes", customer.notes)
    _sub(ret, "PreferredDeliveryMethod", "None")
    _sub(ret, "ExternalGUID", customer.external_guid)
    return ret


def account_ret(account: Account) -> etree._Element:
    ret = etree.Element("AccountRet")
    core = account.core
    _core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    _sub(ret, "Name", account.name)
    _sub(ret, "FullName", account.full_name)
    _sub(ret, "IsActive", _bool(account.is_active))
    _ref(ret, "ParentRef", account.parent)
    _sub(ret, "Sublevel", str(account.sublevel))
    _sub(ret, "AccountType", account.account_type)
    _sub(ret, "SpecialAccountType", account.special_account_type)
    _sub(ret, "AccountNumber", account.account_number)
    _sub(ret, "Desc", account.description)
    _sub(ret, "Balance", _amt(account.balance))
    _sub(ret, "TotalBalance", _amt(account.balance))
    return ret


def item_ret(item: Item) -> etree._Element:
    ret = etree.Element(f"Item{item.item_type}Ret")
    core = item.core
    _core(ret, core.list_id, core.time_created, core.time_modified, core.edit_sequence)
    _sub(ret, "Name", item.name)
    if item.item_type == "SalesTax":
        # ItemSalesTaxRet has no FullName/ParentRef/Sublevel (sales tax items have no parent).
        _sub(ret, "IsActive", _bool(item.is_active))
        _sub(ret, "ItemDesc", item.description)
        if item.tax_rate is not None:
            _sub(ret, "TaxRate", _percent(item.tax_rate))
        _ref(ret, "TaxVendorRef", item.tax_vendor)
        return ret
    _sub(ret, "FullName", item.full_name)
    _sub(ret, "IsActive", _bool(item.is_active))
    _ref(ret, "ParentRef", item.parent)
    _sub(ret, "Sublevel", str(item.sublevel))
    _ref(ret, "SalesTaxCodeRef", item.sales_tax_code)
    sales = etree.SubElement(ret, "SalesOrPurchase")
    _sub(sales, "Desc", item.description)
    if item.price is not None:
        _sub(sales, "Price", _price(item.price))
    elif item.price_percent is not None:
        _sub(sales, "PricePercent", _percent(item.price_percent))
    _ref(sales, "AccountRef", item.account)
    return ret


def invoice_ret(invoice: Invoice, *, include_lines: bool) -> etree._Element:
    ret = etree.Element("InvoiceRet")
    _core(
        ret,
        invoice.txn_id,
        invoice.time_created,
        invoice.time_modified,
        invoice.edit_sequence,
        id_tag="TxnID",
    )
    _sub(ret, "TxnNumber", str(invoice.txn_number))
    _ref(ret, "CustomerRef", invoice.customer)
    _ref(ret, "ARAccountRef", invoice.ar_account)
    _sub(ret, "TxnDate", invoice.txn_date.isoformat())
    _sub(ret, "RefNumber", invoice.ref_number)
    _address(ret, "BillAddress", invoice.bill_address)
    _address_block(ret, "BillAddressBlock", invoice.bill_address)
    _address(ret, "ShipAddress", invoice.ship_address)
    _address_block(ret, "ShipAddressBlock", invoice.ship_address)
    _sub(ret, "IsPending", _bool(invoice.is_pending))
    _sub(ret, "IsFinanceCharge", "false")
    _sub(ret, "PONumber", invoice.po_number)
    _sub(ret, "DueDate", invoice.due_date.isoformat())
    _sub(ret, "ShipDate", invoice.ship_date.isoformat())
    _sub(ret, "Subtotal", _amt(invoice.subtotal))
    _ref(ret, "ItemSalesTaxRef", invoice.item_sales_tax)
    _sub(ret, "SalesTaxPercentage", _percent(invoice.sales_tax_percentage))
    _sub(ret, "SalesTaxTotal", _amt(invoice.sales_tax_total))
    _sub(ret, "AppliedAmount", _amt(invoice.applied_amount))
    _sub(ret, "BalanceRemaining", _amt(invoice.balance_remaining))
    _sub(ret, "Memo", invoice.memo)
    _sub(ret, "IsPaid", _bool(invoice.is_paid))
    _sub(ret, "IsToBePrinted", _bool(invoice.is_to_be_printed))
    _sub(ret, "IsToBeEmailed", _bool(invoice.is_to_be_emailed))
    _ref(ret, "CustomerSalesTaxCodeRef", invoice.customer_sales_tax_code)
    _sub(ret, "Other", invoice.other)
    _sub(ret, "ExternalGUID", invoice.external_guid)
    if include_lines:
        for line in invoice.lines:
            element = etree.SubElement(ret, "InvoiceLineRet")
            _sub(element, "TxnLineID", line.txn_line_id)
            _ref(element, "ItemRef", line.item)
            _sub(element, "Desc", line.description)
            if line.quantity is not None:
                _sub(element, "Quantity", _quantity(line.quantity))
            if line.rate is not None:
                _sub(element, "Rate", _price(line.rate))
            elif line.rate_percent is not None:
                _sub(element, "RatePercent", _percent(line.rate_percent))
            _sub(element, "Amount", _amt(line.amount))
            if line.service_date is not None:
                _sub(element, "ServiceDate", line.service_date.isoformat())
            _ref(element, "SalesTaxCodeRef", line.sales_tax_code)
    return ret


# -- handlers ---------------------------------------------------------------------------------


def handle_host_query(company: Company, request: etree._Element) -> Outcome:
    return Outcome([host_ret()])


def handle_customer_query(company: Company, request: etree._Element) -> Outcome:
    customers, missing = company.query_customers(_list_filter(company, request))
    return _query_outcome([customer_ret(c) for c in customers], missing)


def handle_account_query(company: Company, request: etree._Element) -> Outcome:
    accounts, missing = company.query_accounts(_list_filter(company, request))
    return _query_outcome([account_ret(a) for a in accounts], missing)


def handle_item_query(company: Company, request: etree._Element) -> Outcome:
    items, missing = company.query_items(_list_filter(company, request))
    return _query_outcome([item_ret(i) for i in items], missing)


_CUSTOMER_UNMODELLED_REFS = (
    "ClassRef",
    "CustomerTypeRef",
    "TermsRef",
    "SalesRepRef",
    "PreferredPaymentMethodRef",
    "JobTypeRef",
    "PriceLevelRef",
    "CurrencyRef",
)


def handle_customer_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("CustomerAdd")
    assert add is not None  # the schema requires it
    _refuse_unmodelled_refs(add, _CUSTOMER_UNMODELLED_REFS, "Customer")
    is_active = _boolean(add, "IsActive")
    draft = CustomerDraft(
        name=_text(add, "Name") or "",
        is_active=True if is_active is None else is_active,
        parent=_ref_spec(add, "ParentRef"),
        company_name=_text(add, "CompanyName"),
        first_name=_text(add, "FirstName"),
        last_name=_text(add, "LastName"),
        bill_address=_address_of(add, "BillAddress"),
        ship_address=_address_of(add, "ShipAddress"),
        phone=_text(add, "Phone"),
        email=_text(add, "Email"),
        sales_tax_code=_ref_spec(add, "SalesTaxCodeRef"),
        item_sales_tax=_ref_spec(add, "ItemSalesTaxRef"),
        account_number=_text(add, "AccountNumber"),
        notes=_text(add, "Notes"),
        external_guid=_text(add, "ExternalGUID"),
    )
    return Outcome([customer_ret(company.add_customer(draft))])


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


def handle_invoice_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("InvoiceAdd")
    assert add is not None
    _refuse_unmodelled_refs(add, _INVOICE_UNMODELLED_REFS, "Invoice")
    links = _texts(add, "LinkToTxnID")
    if links:
        raise invalid_reference("Transaction", links[0], "Invoice")
    if add.find("SetCredit") is not None:
        raise invalid_reference("Credit Memo", _text(add, "SetCredit/CreditTxnID") or "", "Invoice")
    lines: list[InvoiceLineDraft] = []
    for child in add:
        if child.tag == "InvoiceLineGroupAdd":
            group = _ref_spec(child, "ItemGroupRef") or RefSpec()
            raise invalid_reference("ItemGroup", group.shown, "Invoice line")
        if child.tag != "InvoiceLineAdd":
            continue
        _refuse_unmodelled_refs(child, _LINE_UNMODELLED_REFS, "Invoice line")
        if child.find("LinkToTxn") is not None:
            raise invalid_reference(
                "Transaction", _text(child, "LinkToTxn/TxnID") or "", "Invoice line"
            )
        lines.append(
            InvoiceLineDraft(
                item=_ref_spec(child, "ItemRef"),
                description=_text(child, "Desc"),
                quantity=_decimal(child, "Quantity"),
                rate=_decimal(child, "Rate"),
                rate_percent=_decimal(child, "RatePercent"),
                amount=_decimal(child, "Amount"),
                service_date=_date(child, "ServiceDate"),
                sales_tax_code=_ref_spec(child, "SalesTaxCodeRef"),
            )
        )
    customer = _ref_spec(add, "CustomerRef")
    assert customer is not None
    draft = InvoiceDraft(
        customer=customer,
        lines=lines,
        ar_account=_ref_spec(add, "ARAccountRef"),
        txn_date=_date(add, "TxnDate"),
        ref_number=_text(add, "RefNumber"),
        bill_address=_address_of(add, "BillAddress"),
        ship_address=_address_of(add, "ShipAddress"),
        is_pending=_boolean(add, "IsPending"),
        po_number=_text(add, "PONumber"),
        due_date=_date(add, "DueDate"),
        item_sales_tax=_ref_spec(add, "ItemSalesTaxRef"),
        memo=_text(add, "Memo"),
        is_to_be_printed=_boolean(add, "IsToBePrinted"),
        is_to_be_emailed=_boolean(add, "IsToBeEmailed"),
        customer_sales_tax_code=_ref_spec(add, "CustomerSalesTaxCodeRef"),
        other=_text(add, "Other"),
        external_guid=_text(add, "ExternalGUID"),
    )
    # An Add answers with the whole transaction, lines included.
    return Outcome([invoice_ret(company.add_invoice(draft), include_lines=True)])


def handle_invoice_query(company: Company, request: etree._Element) -> Outcome:
    for unsupported in ("AccountFilter", "CurrencyFilter"):
        if request.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    txn_ids = _texts(request, "TxnID")
    _check_list_ids(txn_ids, "txn id")
    modified = request.find("ModifiedDateRangeFilter")
    txn_dates = request.find("TxnDateRangeFilter")
    from_txn_date = to_txn_date = None
    if txn_dates is not None:
        macro = _text(txn_dates, "DateMacro")
        if macro == "Today":
            from_txn_date = to_txn_date = company.now().date()
        elif macro not in (None, "All"):
            raise QbxmlParseError(f"the simulator does not implement DateMacro {macro}")
        else:
            from_txn_date = _date(txn_dates, "FromTxnDate")
            to_txn_date = _date(txn_dates, "ToTxnDate")
    entity_ids: list[str] = []
    entity_names: list[str] = []
    with_children = False
    entity = request.find("EntityFilter")
    if entity is not None:
        entity_ids = _texts(entity, "ListID") + _texts(entity, "ListIDWithChildren")
        entity_names = _texts(entity, "FullName") + _texts(entity, "FullNameWithChildren")
        with_children = (
            entity.find("ListIDWithChildren") is not None
            or entity.find("FullNameWithChildren") is not None
        )
    ref_match: tuple[MatchCriterion, str] | None = None
    ref_filter = request.find("RefNumberFilter")
    if ref_filter is not None:
        criterion = _text(ref_filter, "MatchCriterion") or "StartsWith"
        ref_match = (criterion, _text(ref_filter, "RefNumber") or "")  # type: ignore[assignment]
    ref_range = request.find("RefNumberRangeFilter")
    max_returned = _text(request, "MaxReturned")
    flt = InvoiceFilter(
        txn_ids=txn_ids,
        ref_numbers=_texts(request, "RefNumber"),
        ref_numbers_case_sensitive=_texts(request, "RefNumberCaseSensitive"),
        max_returned=int(max_returned) if max_returned else None,
        from_modified=_datetime(company, _text(modified, "FromModifiedDate"))
        if modified is not None
        else None,
        to_modified=_datetime(company, _text(modified, "ToModifiedDate"))
        if modified is not None
        else None,
        from_txn_date=from_txn_date,
        to_txn_date=to_txn_date,
        entity_list_ids=entity_ids,
        entity_full_names=entity_names,
        entity_with_children=with_children,
        ref_number_match=ref_match,
        ref_number_range=(
            (_text(ref_range, "FromRefNumber"), _text(ref_range, "ToRefNumber"))
            if ref_range is not None
            else None
        ),
        paid_status=(_text(request, "PaidStatus") or "All"),  # type: ignore[arg-type]
    )
    include_lines = _boolean(request, "IncludeLineItems") is True
    invoices, missing = company.query_invoices(flt, with_lines=include_lines)
    return _query_outcome([invoice_ret(i, include_lines=include_lines) for i in invoices], missing)


def handle_item_service_add(company: Company, request: etree._Element) -> Outcome:
    add = request.find("ItemServiceAdd")
    assert add is not None
    _refuse_unmodelled_refs(add, ("ClassRef", "UnitOfMeasureSetRef"), "ItemService")
    sales = add.find("SalesOrPurchase")
    description: str | None = None
    price: Decimal | None = None
    price_percent: Decimal | None = None
    account: RefSpec | None = None
    if sales is not None:
        description = _text(sales, "Desc")
        price = _decimal(sales, "Price")
        price_percent = _decimal(sales, "PricePercent")
        account = _ref_spec(sales, "AccountRef")
    both = add.find("SalesAndPurchase")
    if both is not None:
        _refuse_unmodelled_refs(both, ("PrefVendorRef",), "ItemService")
        description = _text(both, "SalesDesc")
        price = _decimal(both, "SalesPrice")
        account = _ref_spec(both, "IncomeAccountRef")
    is_active = _boolean(add, "IsActive")
    item = company.add_item(
        "Service",
        _text(add, "Name") or "",
        description=description,
        price=price,
        price_percent=price_percent,
        account=account,
        sales_tax_code=_ref_spec(add, "SalesTaxCodeRef"),
        parent=_ref_spec(add, "ParentRef"),
        is_active=True if is_active is None else is_active,
    )
    return Outcome([item_ret(item)])


DEFAULT_HANDLERS: dict[str, Handler] = {
    "HostQueryRq": handle_host_query,
    "AccountQueryRq": handle_account_query,
    "CustomerAddRq": handle_customer_add,
    "CustomerQueryRq": handle_customer_query,
    "ItemQueryRq": handle_item_query,
    "ItemServiceAddRq": handle_item_service_add,
    "InvoiceAddRq": handle_invoice_add,
    "InvoiceQueryRq": handle_invoice_query,
}


# -- the message loop -------------------------------------------------------------------------


def _qbxml_version(root: etree._Element) -> tuple[int, int]:
    for node in root.itersiblings(preceding=True):
        if isinstance(node, etree._ProcessingInstruction) and node.target == "qbxml":
            raw = node.get("version") or ""
            match = re.fullmatch(r"(\d+)\.(\d+)", raw.strip())
            if match is None:
                raise QbxmlParseError(f"qbxml version {raw!r} is not a version")
            return int(match.group(1)), int(match.group(2))
    raise QbxmlParseError('the <?qbxml version="..."?> processing instruction is missing')


def _encode(request_xml: str | bytes) -> bytes:
    """Bytes in the encoding the XML declaration names (ISO-8859-1 requests exist)."""
    if isinstance(request_xml, bytes):
        return request_xml
    match = re.match(r"""\s*<\?xml[^>]*encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""", request_xml)
    encoding = match.group(1) if match else "utf-8"
    try:
        return request_xml.encode(encoding)
    except (LookupError, UnicodeEncodeError) as exc:
        raise QbxmlParseError(f"text cannot be encoded as {encoding}: {exc}") from exc


def _too_long_requests(document: etree._Element, msgs: etree._Element) -> dict[int, QbError]:
    """Validate; a string over its maxLength fails only its own request (3070)."""
    schema = load_schema()
    if schema.validate(document):
        return {}
    failed: dict[int, QbError] = {}
    tree = document.getroottree()
    requests = list(msgs)
    for error in schema.error_log:
        if error.type_name != "SCHEMAV_CVC_MAXLENGTH_VALID" or not error.path:
            raise QbxmlParseError(f"line {error.line}: {error.message}")
        nodes = tree.xpath(error.path)
        node = nodes[0] if isinstance(nodes, list) and nodes else None
        if not isinstance(node, etree._Element):
            raise QbxmlParseError(f"line {error.line}: {error.message}")
        request: etree._Element = node
        parent = request.getparent()
        while parent is not None and parent is not msgs:
            request, parent = parent, parent.getparent()
        if request not in requests:
            raise QbxmlParseError(f"line {error.line}: {error.message}")
        failed.setdefault(
            requests.index(request),
            QbError(3070, f'The string "{node.text or ""}" in the field "{node.tag}" is too long.'),
        )
    return failed


@dataclass(frozen=True)
class QbxmlProcessor:
    """Runs qbXML messages against one company file."""

    company: Company
    handlers: dict[str, Handler] = field(default_factory=lambda: dict(DEFAULT_HANDLERS))

    def register(self, request_tag: str, handler: Handler) -> None:
        self.handlers[request_tag] = handler

    def process(self, request_xml: str | bytes) -> str:
        try:
            root = parse_untrusted(_encode(request_xml))
        except UnsafeXMLError as exc:
            raise QbxmlParseError(str(exc)) from exc
        version = _qbxml_version(root)
        if version > SUPPORTED_VERSION:
            raise QbxmlParseError(
                f"qbXML {version[0]}.{version[1]} is not supported by {PRODUCT_NAME} (newest: 13.0)"
            )
        msgs = root.find("QBXMLMsgsRq")
        if root.tag != "QBXML" or msgs is None:
            raise QbxmlParseError("expected <QBXML><QBXMLMsgsRq>")
        too_long = _too_long_requests(root, msgs)
        requests = [r for r in msgs if isinstance(r.tag, str)]
        for request in requests:
            if request.tag not in self.handlers:
                raise QbxmlParseError(f"the simulator does not implement <{request.tag}>")
        # rollbackOnError: QuickBooks Desktop never rolls back requests it already committed
        # in a message; the simulator treats it as stopOnError.
        stop_on_error = msgs.get("onError") != "continueOnError"
        include_rets = msgs.get("responseData", "includeAll") != "includeNone"

        out_root = etree.Element("QBXML")
        out_msgs = etree.SubElement(out_root, "QBXMLMsgsRs")
        for index, request in enumerate(requests):
            outcome = self._run(request, too_long.get(index))
            response = etree.SubElement(out_msgs, request.tag.removesuffix("Rq") + "Rs")
            request_id = request.get("requestID")
            if request_id is not None:
                response.set("requestID", request_id)
            response.set("statusCode", str(outcome.code))
            response.set("statusSeverity", severity_of(outcome.code))
            response.set("statusMessage", outcome.message)
            if include_rets:
                wanted = set(_texts(request, "IncludeRetElement"))
                for ret in outcome.rets:
                    if wanted:
                        # IncludeRetElement: only the named top-level elements come back.
                        for child in list(ret):
                            if child.tag not in wanted:
                                ret.remove(child)
                    response.append(ret)
            if stop_on_error and severity_of(outcome.code) == "Error":
                break
        body: str = etree.tostring(out_root, encoding="unicode", pretty_print=True)
        return f'<?xml version="1.0" ?>\n{body}'

    def _run(self, request: etree._Element, too_long: QbError | None) -> Outcome:
        if too_long is not None:
            return Outcome([], too_long.code, too_long.message)
        handler = self.handlers[request.tag]
        try:
            with self.company.transaction():
                return handler(self.company, request)
        except QbError as error:
            return Outcome([], error.code, error.message)


def process(company: Company, request_xml: str | bytes) -> str:
    """One qbXML message against `company`; raises QbxmlParseError when QB would refuse it."""
    return QbxmlProcessor(company).process(request_xml)


def host_query_response(request_id: str | None = None) -> str:
    """The HostQueryRs document the Web Connector sends as strHCPResponse."""
    root = etree.Element("QBXML")
    msgs = etree.SubElement(root, "QBXMLMsgsRs")
    response = etree.SubElement(msgs, "HostQueryRs")
    if request_id is not None:
        response.set("requestID", request_id)
    response.set("statusCode", "0")
    response.set("statusSeverity", "Info")
    response.set("statusMessage", MSG_OK)
    response.append(host_ret())
    body: str = etree.tostring(root, encoding="unicode")
    return '<?xml version="1.0" ?>\n' + body
