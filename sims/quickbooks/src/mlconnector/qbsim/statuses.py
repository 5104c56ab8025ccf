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
