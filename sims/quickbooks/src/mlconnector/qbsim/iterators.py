"""Query iterators: a big query answered MaxReturned records at a time.

`iterator="Start"` runs the query and returns the first MaxReturned records; the response
carries iteratorRemainingCount and an iteratorID ("{guid}", lower-case hex in braces, as
QuickBooks writes it: consolibyte/quickbooks-php issue 92 quotes
`iteratorRemainingCount="0" iteratorID="{84ff5521-205d-46b6-9d44-7b6b9acb7165}"`).
`iterator="Continue"` with that iteratorID returns the next MaxReturned records (the filters of
a Continue request are not read again). Once nothing remains the iterator is gone, and any
further Continue, like one with an iteratorID never issued, is refused with 3391
(consolibyte/quickbooks-php issue 183). `iterator="Stop"` ends it early.

The records left are kept as the Start saw them (a snapshot): the simulator's iterators live in
memory for as long as the company is open, as QuickBooks' live for the session.
"""

from __future__ import annotations

import copy
import uuid

from lxml import etree

from mlconnector.qbsim.company import Company
from mlconnector.qbsim.outcomes import Handler, Outcome
from mlconnector.qbsim.request_fields import text_of
from mlconnector.qbsim.statuses import MSG_NO_MATCH, invalid_iterator


def run_iterator(company: Company, handler: Handler, request: etree._Element) -> Outcome:
    mode = request.get("iterator")
    max_returned = _max_returned(request)
    if mode == "Start":
        whole = copy.deepcopy(request)
        for limit in whole.findall("MaxReturned"):
            whole.remove(limit)
        with company.transaction():
            outcome = handler(company, whole)
        if outcome.code != 0 and outcome.code != 1:
            return outcome
        iterator_id = "{" + str(uuid.uuid4()) + "}"
        company.iterators[iterator_id] = outcome.rets
        return _page(company, iterator_id, max_returned, outcome)
    iterator_id = request.get("iteratorID") or ""
    if iterator_id not in company.iterators:
        raise invalid_iterator(iterator_id)
    if mode == "Stop":
        del company.iterators[iterator_id]
        return Outcome(iterator=(0, iterator_id))
    return _page(company, iterator_id, max_returned, Outcome())


def _page(company: Company, iterator_id: str, limit: int | None, base: Outcome) -> Outcome:
    left = company.iterators[iterator_id]
    count = len(left) if limit is None else limit
    page, rest = left[:count], left[count:]
    if rest:
        company.iterators[iterator_id] = rest
    else:
        del company.iterators[iterator_id]
    if not page:
        return Outcome([], 1, MSG_NO_MATCH, iterator=(0, iterator_id))
    return Outcome(page, base.code or 0, base.message, iterator=(len(rest), iterator_id))


def _max_returned(request: etree._Element) -> int | None:
    raw = text_of(request, "MaxReturned")
    return int(raw) if raw else None
