"""Lookups for transactions: find an Add an earlier attempt may already have posted.

The gateway picks our transaction among the answers by ExternalGUID (the command id), so the
query only needs to be narrow, never exact. Lookups carry no late references (the gateway
sends them as they are): by RefNumber when there is one, else by transaction date.
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
