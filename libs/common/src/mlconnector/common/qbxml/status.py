"""qbXML status codes: severity by range and what the operator can do.

Sources: Intuit's "status codes in response messages" table (qbXML SDK, developer.intuit.com
.../exploring-the-quickbooks-desktop-sdk/status-codes-in-response-messages), as also encoded
in consolibyte/quickbooks-php QuickBooks/Status.php; 3171's and 3180's business-rule texts as
QuickBooks words them (AYS Software, "Resolving QuickBooks export errors").
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Severity = Literal["Info", "Warn", "Error"]

OK = 0
NO_MATCH = 1  # a query that found nothing: not an error
OBJECTS_NOT_FOUND = 500
OBJECT_NOT_RETURNED = 510
INTERNAL_ERROR = 1000
SYSTEM_NOT_AVAILABLE = 1010
REQUEST_ID_TOO_LONG = 1060
INVALID_OBJECT_ID = 3000
NAME_IN_USE = 3100
INVALID_REFERENCE = 3120
INVALID_REFERENCE_2 = 3140
LIST_MODIFIED = 3170
RECORD_LOCKED_1 = 3175
RECORD_LOCKED_2 = 3176
CLOSED_PERIOD = 3171
RECORD_ERROR_OR_LOCKED = 3180
EDIT_SEQUENCE_STALE = 3200
OVERPAYMENT = 3210
FEATURE_DISABLED = 3250
PERMISSION_1 = 3260
PERMISSION_2 = 3261
INVALID_ITERATOR = 3391


def severity_of(code: int) -> Severity:
    if code < 500:
        return "Info"
    if code < 1000:
        return "Warn"
    return "Error"


@dataclass(frozen=True)
class StatusAdvice:
    retryable: bool
    hint: str


_ADVICE: dict[int, StatusAdvice] = {
    INTERNAL_ERROR: StatusAdvice(
        True, "QuickBooks reported an internal error; it will be retried."
    ),
    NAME_IN_USE: StatusAdvice(
        False,
        "That name is already used by another customer, vendor, employee or other name in "
        "QuickBooks (names are shared across those lists). Rename one of them, then replay.",
    ),
    INVALID_REFERENCE: StatusAdvice(
        False, "A referenced record (customer, item, account...) does not exist in QuickBooks."
    ),
    INVALID_REFERENCE_2: StatusAdvice(
        False,
        "A referenced record (customer, item, account, class...) does not exist in QuickBooks. "
        "Create it or fix the mapping, then replay.",
    ),
    SYSTEM_NOT_AVAILABLE: StatusAdvice(
        True, "QuickBooks was not available for this request; it will be retried."
    ),
    CLOSED_PERIOD: StatusAdvice(
        False,
        "The transaction is dated on or before the company's closing date (a closed period). "
        "An admin can lift the closing-date password in QuickBooks (Edit > Preferences > "
        "Accounting > Company Preferences), then retry this record; or enter the change in "
        "the open period by hand.",
    ),
    LIST_MODIFIED: StatusAdvice(
        True, "Someone was editing that list in QuickBooks; retried next cycle."
    ),
    RECORD_LOCKED_1: StatusAdvice(True, "The record is open in QuickBooks; retried next cycle."),
    RECORD_LOCKED_2: StatusAdvice(True, "The record is open in QuickBooks; retried next cycle."),
    RECORD_ERROR_OR_LOCKED: StatusAdvice(
        True,
        "QuickBooks could not save the record (locked, or an error in it); retried next cycle.",
    ),
    EDIT_SEQUENCE_STALE: StatusAdvice(
        True, "The record changed in QuickBooks; re-queried and retried."
    ),
    OVERPAYMENT: StatusAdvice(False, "The payment is larger than the invoice's open balance."),
    FEATURE_DISABLED: StatusAdvice(
        False, "A QuickBooks feature this record needs is turned off (Edit > Preferences)."
    ),
    PERMISSION_1: StatusAdvice(
        False, "The Web Connector's QuickBooks user lacks permission; check its access rights."
    ),
    PERMISSION_2: StatusAdvice(
        False, "The Web Connector's QuickBooks user lacks permission; check its access rights."
    ),
}


# 3180 is both "the record is in use" (retryable) and "this record has an error in it": a
# business rule such as an exceeded credit limit, which no retry can pass. QuickBooks says
# which in the text after "QuickBooks error message:".
_BUSY_WORDS = ("in use", "being used", "another user", "locked", "busy", "try again")
_CREDIT_LIMIT = "credit limit"


def advice_for(code: int, message: str = "") -> StatusAdvice:
    """Whether a request QuickBooks answered with `code` (and `message`, its statusMessage)
    can succeed if sent again unchanged, and what the operator can do."""
    if code == RECORD_ERROR_OR_LOCKED:
        text = message.lower()
        if _CREDIT_LIMIT in text:
            return StatusAdvice(
                False,
                "The customer's credit limit in QuickBooks would be exceeded. Raise the "
                "limit on the customer (or take a payment first), then retry this record.",
            )
        if not any(word in text for word in _BUSY_WORDS):
            return StatusAdvice(
                False,
                "QuickBooks refused the record for a rule of the company file (its message "
                "above). Correct what it names in QuickBooks or ServiceTitan, then retry.",
            )
    if code in _ADVICE:
        return _ADVICE[code]
    if code < 1000:
        return StatusAdvice(False, "")
    return StatusAdvice(False, "QuickBooks refused the request; read its message above.")
