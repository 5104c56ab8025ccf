"""The filters of a list query request (AccountQuery, CustomerQuery, ItemQuery)."""

from __future__ import annotations

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.errors import QbxmlParseError
from mlconnector.qbsim.queries import ListFilter, MatchCriterion
from mlconnector.qbsim.request_fields import check_ids, parse_datetime, text_of, texts_of


def list_filter(company: Company, request: etree._Element) -> ListFilter:
    for unsupported in ("TotalBalanceFilter", "CurrencyFilter", "ClassFilter"):
        if request.find(unsupported) is not None:
            raise QbxmlParseError(f"the simulator does not implement <{unsupported}>")
    list_ids = texts_of(request, "ListID")
    check_ids(list_ids)
    name_match: tuple[MatchCriterion, str] | None = None
    name_filter = request.find("NameFilter")
    if name_filter is not None:
        criterion = text_of(name_filter, "MatchCriterion") or "StartsWith"
        if criterion not in ("StartsWith", "Contains", "EndsWith"):
            raise QbxmlParseError(f"MatchCriterion {criterion!r}")
        name_match = (criterion, text_of(name_filter, "Name") or "")  # type: ignore[assignment]
    name_range: tuple[str | None, str | None] | None = None
    range_filter = request.find("NameRangeFilter")
    if range_filter is not None:
        name_range = (text_of(range_filter, "FromName"), text_of(range_filter, "ToName"))
    active = text_of(request, "ActiveStatus") or "ActiveOnly"
    max_returned = text_of(request, "MaxReturned")
    return ListFilter(
        list_ids=list_ids,
        full_names=texts_of(request, "FullName"),
        max_returned=int(max_returned) if max_returned else None,
        active_status=active,  # type: ignore[arg-type]
        from_modified=parse_datetime(company, text_of(request, "FromModifiedDate")),
        to_modified=parse_datetime(company, text_of(request, "ToModifiedDate")),
        name_match=name_match,
        name_range=name_range,
        account_types=texts_of(request, "AccountType"),
        payment_method_types=texts_of(request, "PaymentMethodType"),
    )
