"""The company's closing date (Preferences > Accounting > Company Preferences > Closing Date).

QuickBooks refuses, with 3171, to add, modify, void or delete a transaction dated on or before
the closing date when a closing-date password is set (Intuit's TxnVoid reference: "If you try to
void or delete a transaction that was created before the company's closing date, you might or
might not get an error, depending on the permissions and passwords that are set"). The
simulated company has the password set whenever a closing date is: the date alone decides.
"""

from __future__ import annotations

from datetime import date

from mlconnector.qbsim.statuses import closed_period
from mlconnector.qbsim.store import Store

_META_KEY = "closing_date"


def closing_date(store: Store) -> date | None:
    """The closing date, or None when the books are not closed."""
    raw = store.get_meta(_META_KEY)
    return date.fromisoformat(raw) if raw else None


def set_closing_date(store: Store, value: date | None) -> None:
    """Close the books through `value` (None opens them again)."""
    with store.transaction():
        store.set_meta(_META_KEY, value.isoformat() if value is not None else "")


def check_open(store: Store, txn_date: date, verb: str, kind: str) -> None:
    """3171 when `txn_date` is on or before the closing date; `verb` is add/modify/void/delete
    and `kind` the qbXML object name (Invoice, CreditMemo, ...) for the message."""
    closed = closing_date(store)
    if closed is not None and txn_date <= closed:
        raise closed_period(verb, kind)
