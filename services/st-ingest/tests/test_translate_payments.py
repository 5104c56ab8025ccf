"""ServiceTitan payments (accounting export/payments) -> canonical `Payment`."""

from __future__ import annotations

import copy
import datetime as dt
import json
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from mlconnector.common.models import Payment, PaymentApplication
from mlconnector.ingest.translate import TranslationError, translate_payment
from mlconnector.stsandbox.openapi import schema_errors

SAMPLE = json.loads((Path(__file__).parent / "samples" / "payment.json").read_text())
SCHEMA = "Accounting.V2.ExportPaymentResponse"


def accounting(st_documents: Path) -> Path:
    return st_documents / "tenant-accounting-v2.json"


def test_sample_is_what_the_export_documents(st_documents: Path) -> None:
    assert schema_errors(accounting(st_documents), SCHEMA, SAMPLE) == []
    page = {"hasMore": False, "continueFrom": "abc", "data": [SAMPLE]}
    assert schema_errors(accounting(st_documents), f"ExportResponse_Of_{SCHEMA}", page) == []


def test_check_payment_of_the_demo_invoice() -> None:
    assert translate_payment(SAMPLE) == Payment(
        st_id=9001,
        customer_st_id=1001,
        customer_name="Hernandez, Maria",
        payment_date=dt.date(2025, 3, 14),
        reference="1042",
        payment_type="Check",
        total=Decimal("408.05"),
        unapplied=Decimal("0.00"),
        memo="Paid by check on site",
        applications=(PaymentApplication(invoice_st_id=5001, amount=Decimal("408.05")),),
        modified_on=dt.datetime(2025, 3, 14, 22, 10, tzinfo=dt.UTC),
    )


def test_card_payment_split_over_two_invoices_with_credit_left(st_documents: Path) -> None:
    raw = copy.deepcopy(SAMPLE)
    raw.update(
        referenceNumber=None,
        checkNumber=None,
        authCode="A1B2C3",
        type="Credit Card",
        typeId="1",
        memo=None,
        total="700.00",
        unappliedAmount="50.00",
    )
    raw["appliedTo"][0]["appliedAmount"] = "408.05"
    raw["appliedTo"].append({**raw["appliedTo"][0], "appliedId": 91002, "appliedTo": 5004})
    raw["appliedTo"][1]["appliedAmount"] = "241.95"
    assert schema_errors(accounting(st_documents), SCHEMA, raw) == []
    payment = translate_payment(raw)
    assert (payment.reference, payment.payment_type, payment.memo) == ("A1B2C3", "Credit Card", "")
    assert (payment.total, payment.unapplied) == (Decimal("700.00"), Decimal("50.00"))
    assert payment.applications == (
        PaymentApplication(invoice_st_id=5001, amount=Decimal("408.05")),
        PaymentApplication(invoice_st_id=5004, amount=Decimal("241.95")),
    )


def test_unapplied_amount_absent_is_what_is_left() -> None:
    raw = {**copy.deepcopy(SAMPLE), "total": "500.00", "unappliedAmount": None}
    assert translate_payment(raw).unapplied == Decimal("91.95")


def test_amounts_are_kept_as_sent_for_the_mapper_to_check() -> None:
    # Duplicate applications, a refund: the mapper merges or refuses them, explaining why.
    raw = copy.deepcopy(SAMPLE)
    raw["appliedTo"].append({**raw["appliedTo"][0], "appliedId": 91002, "appliedAmount": "1.00"})
    raw.update(total="-25.00", unappliedAmount="10.00", refundedPaymentId=8999)
    payment = translate_payment(raw)
    assert (payment.total, payment.unapplied) == (Decimal("-25.00"), Decimal("10.00"))
    assert [(a.invoice_st_id, a.amount) for a in payment.applications] == [
        (5001, Decimal("408.05")),
        (5001, Decimal("1.00")),
    ]


def test_unapplied_payment_has_no_applications() -> None:
    raw = {**copy.deepcopy(SAMPLE), "appliedTo": None, "unappliedAmount": "408.05"}
    payment = translate_payment(raw)
    assert payment.applications == ()
    assert payment.unapplied == Decimal("408.05")


Change = Callable[[dict[str, Any]], object]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (lambda r: r.pop("customer"), "field 'customer' is missing"),
        (lambda r: r["customer"].update(name=None), "field 'customer.name' is missing"),
        (
            lambda r: r["customer"].update(id="1001"),
            "field 'customer.id' must be an integer id, got '1001'",
        ),
        (lambda r: r.update(date=None), "field 'date' is missing (and so is paidOn)"),
        (
            lambda r: r.update(date="03/14/2025"),
            "field 'date' is not an ISO 8601 date-time: '03/14/2025'",
        ),
        (lambda r: r.update(total="408,05"), "field 'total' is not an amount: '408,05'"),
        (lambda r: r.update(total=None), "field 'total' is missing"),
        (
            lambda r: r["appliedTo"][0].update(appliedAmount="four hundred"),
            "field 'appliedTo[0].appliedAmount' is not an amount: 'four hundred'",
        ),
        (
            lambda r: r["appliedTo"][0].update(appliedTo="5001"),
            "field 'appliedTo[0].appliedTo' must be an integer id, got '5001'",
        ),
        (
            lambda r: r["appliedTo"][0].pop("appliedTo"),
            "field 'appliedTo[0].appliedTo' is missing",
        ),
        (lambda r: r.update(appliedTo={"appliedTo": 5001}), "field 'appliedTo' must be a list"),
        (lambda r: r.update(appliedTo=[5001]), "field 'appliedTo[0]' must be an object, got 5001"),
        (lambda r: r.update(type=3), "field 'type' must be text, got 3"),
        (lambda r: r.update(memo=["x"]), "field 'memo' must be text, got ['x']"),
        (
            lambda r: r.update(unappliedAmount=False),
            "field 'unappliedAmount' is not an amount: False",
        ),
    ],
)
def test_bad_payment_names_record_and_field(change: Change, message: str) -> None:
    raw = copy.deepcopy(SAMPLE)
    change(raw)
    with pytest.raises(TranslationError) as caught:
        translate_payment(raw)
    assert str(caught.value).startswith(f"ServiceTitan payment 9001: {message}")


def test_payment_that_is_not_an_object() -> None:
    with pytest.raises(TranslationError) as caught:
        translate_payment("9001")
    assert str(caught.value) == (
        "ServiceTitan payment ?: field '(record)' is not a JSON object: '9001'"
    )


def test_deleted_payment_is_read_inactive() -> None:
    assert translate_payment(SAMPLE).active is True
    assert translate_payment({**SAMPLE, "active": False}).active is False
