"""ServiceTitan payment (accounting export/payments) -> canonical `Payment`.

Fields follow `Accounting.V2.ExportPaymentResponse` (the export feed; the paginated
`DetailedPaymentResponse` has the same shape): `customer {id, name}`, `date`, `total`,
`unappliedAmount`, `appliedTo[] {appliedId, appliedTo (the invoice id), appliedAmount, ...}`,
`type` / `typeId`, `referenceNumber`, `checkNumber`, `authCode`, `memo`.

Applications are kept as ServiceTitan lists them (the mapper merges two to the same invoice).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import ValidationError

from mlconnector.common.models import Payment, PaymentApplication
from mlconnector.ingest.translate_base import Reader


def _application(r: Reader, path: str, item: dict[str, Any]) -> PaymentApplication:
    return PaymentApplication(
        invoice_st_id=r.integer(item, "appliedTo", f"{path}.appliedTo"),
        amount=r.money(item, "appliedAmount", f"{path}.appliedAmount"),
    )


def _reference(r: Reader, data: dict[str, Any]) -> str:
    """The payment's own number: reference, else the check number, else the card auth code."""
    for key in ("referenceNumber", "checkNumber", "authCode"):
        found = r.text(data, key, key, required=False)
        if found:
            return found
    return ""


def translate_payment(raw: Any) -> Payment:
    r = Reader("payment", raw)
    data = r.raw
    customer = r.required_obj(data, "customer", "customer")
    # The export documents `date`; the payments list variant calls it `paidOn`.
    paid = r.first_timestamp(data, "date", "paidOn")
    applications = tuple(
        _application(r, path, item) for path, item in r.items(data, "appliedTo", "appliedTo")
    )
    total = r.money(data, "total", "total")
    applied = sum((a.amount for a in applications), Decimal(0))
    # Absent: whatever is not applied. Whether the parts add up (and whether the payment is one
    # QuickBooks can receive at all: refunds are negative) is the mapper's check, to the cent.
    unapplied = r.money(data, "unappliedAmount", "unappliedAmount", default=total - applied)
    try:
        return Payment(
            st_id=r.integer(data, "id", "id"),
            customer_st_id=r.integer(customer, "id", "customer.id"),
            customer_name=r.text(customer, "name", "customer.name"),
            payment_date=paid.date(),
            reference=_reference(r, data),
            payment_type=r.text(data, "type", "type", required=False),
            total=total,
            unapplied=unapplied,
            memo=r.text(data, "memo", "memo", required=False),
            applications=applications,
            active=r.boolean(data, "active", "active", default=True),
            modified_on=r.timestamp(data, "modifiedOn", "modifiedOn", required=False),
        )
    except ValidationError as exc:
        raise r.invalid(exc) from exc
