"""The filters of transaction queries (TxnQuery and TxnFilter in qbxml130.xsd)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.queries import MatchCriterion
from mlconnector.qbsim.request_fields import (
    check_ids,
    date_of,
    parse_datetime,
    text_of,
    texts_of,
)
from mlconnector.qbsim.txn_query import TxnFilter


def txn_filter(company: Company, request: etree._Element) -> TxnFilter:
    """The filters of InvoiceQuery, ReceivePaymentQuery and BillQuery (TxnQuery/TxnFilter)."""
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
    return TxnFilter(
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
