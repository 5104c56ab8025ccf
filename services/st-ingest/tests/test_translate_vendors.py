"""ServiceTitan vendors (inventory API) -> canonical `Party`, and telling records apart."""

from __future__ import annotations

import copy
import datetime as dt
import json
from pathlib import Path

import pytest

from mlconnector.common.models import Address, Party
from mlconnector.ingest.translate import (
    TRANSLATORS,
    TranslationError,
    guess_entity,
    translate_vendor,
)
from mlconnector.stsandbox.openapi import schema_errors
from mlconnector.stsandbox.seed import seed_records

SAMPLES = Path(__file__).parent / "samples"
SAMPLE = json.loads((SAMPLES / "vendor.json").read_text())


def test_sample_is_what_the_inventory_api_documents(st_documents: Path) -> None:
    inventory = st_documents / "tenant-inventory-v2.json"
    assert schema_errors(inventory, "Inventory.V2.VendorResponse", SAMPLE) == []
    page = {"page": 1, "pageSize": 50, "hasMore": False, "totalCount": 1, "data": [SAMPLE]}
    errors = schema_errors(inventory, "PaginatedResponse_Of_Inventory.V2.VendorResponse", page)
    assert errors == []


def test_vendor() -> None:
    assert translate_vendor(SAMPLE) == Party(
        kind="vendor",
        st_id=7101,
        name="Ferguson Plumbing Supply",
        active=True,
        email="austin.counter@ferguson.example",
        phone="512-555-0142",
        address=Address(
            street="2401 E Ben White Blvd", city="Austin", state="TX", zip="78741", country="USA"
        ),
        modified_on=dt.datetime(2025, 3, 14, 12, 30, tzinfo=dt.UTC),
    )


def test_inactive_vendor_without_contact() -> None:
    raw = {**copy.deepcopy(SAMPLE), "active": False, "contactInfo": None, "address": None}
    party = translate_vendor(raw)
    assert (party.active, party.email, party.phone, party.address) == (False, None, None, None)
    blank = copy.deepcopy(SAMPLE)
    blank["contactInfo"].update(email="", phone="  ")
    assert (translate_vendor(blank).email, translate_vendor(blank).phone) == (None, None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ({**SAMPLE, "name": ""}, "ServiceTitan vendor 7101: field 'name' is empty"),
        ({**SAMPLE, "id": "7101"}, "ServiceTitan vendor 7101: field 'id' must be an integer id"),
        ({**SAMPLE, "active": "yes"}, "ServiceTitan vendor 7101: field 'active' must be true"),
        (
            {**SAMPLE, "contactInfo": {**SAMPLE["contactInfo"], "email": 42}},
            "ServiceTitan vendor 7101: field 'contactInfo.email' must be text, got 42",
        ),
        (
            {**SAMPLE, "address": "2401 E Ben White Blvd"},
            "ServiceTitan vendor 7101: field 'address' must be an object",
        ),
    ],
)
def test_bad_vendor_names_record_and_field(raw: object, message: str) -> None:
    with pytest.raises(TranslationError) as caught:
        translate_vendor(raw)
    assert str(caught.value).startswith(message)


def test_each_record_shape_names_its_entity() -> None:
    customers, invoices = seed_records("demo")
    assert guess_entity(customers[0]) == ["customer"]
    assert guess_entity(invoices[0]) == ["invoice"]
    assert guess_entity(json.loads((SAMPLES / "payment.json").read_text())) == ["payment"]
    assert guess_entity(json.loads((SAMPLES / "inventory-bill.json").read_text())) == ["bill"]
    assert guess_entity(SAMPLE) == ["vendor"]
    assert guess_entity({"id": 1, "name": "x"}) == []
    assert guess_entity([1, 2]) == []
    assert guess_entity({"id": 1, "billAmount": "1.00", "appliedTo": []}) == ["payment", "bill"]
    assert set(TRANSLATORS) == {"customer", "vendor", "invoice", "payment", "bill"}
