"""qbXML status codes with QuickBooks' own statusMessage wording.

As returned by QuickBooks 2014+; the same texts are quoted in consolibyte/quickbooks-php issues
and the Intuit developer forums.
"""

from __future__ import annotations

from collections.abc import Sequence

from mlconnector.qbsim.errors import QbError

MSG_OK = "Status OK"
MSG_NO_MATCH = "A query request did not find a matching object in QuickBooks"
MSG_INVALID_ARGUMENT = (
    "QuickBooks error message: Invalid argument.  The specified record does not exist in the list."
)


def not_found(missing: Sequence[str]) -> tuple[int, str]:
    """500 (Warn): a query named records that do not exist; the first one is reported."""
    return 500, (
        "The query request has not been fully completed. There was a required element "
        f'("{missing[0]}") that could not be found in QuickBooks.'
    )


def invalid_object_id(value: str, field_name: str) -> QbError:
    # For an id that cannot be a QuickBooks id at all.
    return QbError(3000, f'The given object ID "{value}" in the field "{field_name}" is invalid.')


def string_too_long(value: str, field_name: str) -> QbError:
    return QbError(3070, f'The string "{value}" in the field "{field_name}" is too long.')


def name_in_use(name: str) -> QbError:
    return QbError(3100, f'The name "{name}" of the list element is already in use.')


def invalid_reference(kind: str, value: str, where: str) -> QbError:
    return QbError(
        3140,
        f'There is an invalid reference to QuickBooks {kind} "{value}" in the {where}.  '
        + MSG_INVALID_ARGUMENT,
    )


def no_ar_account() -> QbError:
    return QbError(3140, "There is no Accounts Receivable account in QuickBooks.")


def account_required(where: str) -> QbError:
    """3180: a sales item (`where` is e.g. "ItemService") saved without an income account."""
    return QbError(
        3180,
        "There was an error when saving a "
        f"{where.replace('Item', '').lower()} item.  QuickBooks error message: "
        "An account must be specified.",
    )


def object_not_found(value: str) -> QbError:
    """3120: a Mod names a ListID/TxnID that is not (or no longer) in the company file.

    The code is from FACTS (3120/3140: invalid reference); the wording is modelled, not quoted.
    """
    return QbError(3120, f'Object "{value}" specified in the request cannot be found.')


def edit_sequence_out_of_date(given: str) -> QbError:
    """3200: the Mod was built from a stale copy (someone changed the record since)."""
    return QbError(3200, f'The provided edit sequence "{given}" is out-of-date.')


def amount_exceeds_balance(amount: str, txn: str, balance: str) -> QbError:
    """3210: a payment applied to an invoice for more than it still owes (FACTS: qbXML).

    The code is FACTS'; the wording is modelled on QuickBooks' "cannot pay more than the amount
    due", not quoted from a captured response.
    """
    return QbError(
        3210,
        f'The payment amount {amount} applied to transaction "{txn}" is more than its '
        f"balance due ({balance}).  QuickBooks error message: "
        "You cannot pay more than the amount due.",
    )


def applied_exceeds_total(applied: str, total: str) -> QbError:
    return QbError(
        3210,
        f"The amounts applied ({applied}) are more than the payment amount ({total}).  "
        "QuickBooks error message: You cannot pay more than the amount due.",
    )


def invalid_iterator(iterator_id: str) -> QbError:
    # Wording as QuickBooks reports it (consolibyte/quickbooks-php issue 183:
    # '3391: The iteratorID "{dbd52aaa-...}" is not valid.').
    return QbError(3391, f'The iteratorID "{iterator_id}" is not valid.')


# QuickBooks' closing-date message, as At Your Service's export-error guide quotes a 3171 for an
# InvoiceMod (https://ayssoftware.com/aysguide/resolvingquickbooksexporterrors.htm): "An attempt
# was made to modify a Invoice with a date that is on or before the closing date of the
# company. If you are sure you really want to do this, please ask a user with Admin privileges
# to remove the password for editing transactions on or before to closing date (this setting
# is in the Accounting Company Preferences), then try again." The verb ("add", "void",
# "delete") and the object name follow the same template for the other operations (modelled).
def closed_period(verb: str, kind: str) -> QbError:
    """3171: the transaction is dated on or before the company's closing date."""
    return QbError(
        3171,
        f"An attempt was made to {verb} a {kind} with a date that is on or before the closing "
        "date of the company. If you are sure you really want to do this, please ask a user "
        "with Admin privileges to remove the password for editing transactions on or before "
        "to closing date (this setting is in the Accounting Company Preferences), then try "
        "again.",
    )


def credit_limit_exceeded(kind: str) -> QbError:
    """3180, a business rule (not "record in use"): the sale takes the customer over its
    CreditLimit. Wording as At Your Service's export-error guide quotes QuickBooks ("Error
    3180: There was an error when saving a Invoice. QuickBooks error message: The credit limit
    for the name on this transaction has been exceeded."), with QuickBooks' two spaces before
    "QuickBooks error message" as in its other 3180 texts."""
    return QbError(
        3180,
        f"There was an error when saving a {kind}.  QuickBooks error message: "
        "The credit limit for the name on this transaction has been exceeded.",
    )


def credit_exceeds_remaining(applied: str, credit: str, remaining: str) -> QbError:
    """3210: more of a credit memo set against invoices than it has left.

    The code is the one FACTS gives for over-applying ("cannot pay more than the amount due");
    the wording is modelled, not quoted from a captured response.
    """
    return QbError(
        3210,
        f'The credit amount {applied} set from credit memo "{credit}" is more than its '
        f"remaining credit ({remaining}).  QuickBooks error message: "
        "You cannot apply more than the available credit.",
    )
