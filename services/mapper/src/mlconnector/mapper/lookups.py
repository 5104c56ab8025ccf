"""Lookups for transactions: find an Add an earlier attempt may already have posted.

The gateway picks our transaction among the answers by ExternalGUID (the record's, the same
for every version: `naming.transaction_guid`), so the query only needs to be narrow, never
exact. These lookups carry no late references (the gateway sends them as they are): by
RefNumber when there is one, else by transaction date. (A credit memo's application looks up
the credit memo by its TxnID, a late reference: `credit_memos`.)
"""

from __future__ import annotations

import datetime as dt

from lxml import etree

from mlconnector.common.qbxml import sub
from mlconnector.mapper.elements import qb_date


def txn_query(request_type: str, ref_number: str, date: dt.date) -> etree._Element:
    request = etree.Element(request_type)
    if ref_number:
        sub(request, "RefNumber", ref_number)
        return request
    dates = sub(request, "TxnDateRangeFilter")
    sub(dates, "FromTxnDate", qb_date(date))
    sub(dates, "ToTxnDate", qb_date(date))
    return request
