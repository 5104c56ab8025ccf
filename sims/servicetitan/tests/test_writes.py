"""The sandbox's write endpoints, tenants, rate limit and stuck feeds over real HTTP; every
exchange checked against ServiceTitan's OpenAPI documents."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mlconnector.stsandbox.openapi import exchange_errors
from mlconnector.stsandbox.seed import BULK_INVOICE_BASE_ID
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

ACC = "/accounting/v2/tenant/1234567"
CRM = "/crm/v2/tenant/1234567"
INV = "/inventory/v2/tenant/1234567"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(SandboxSettings(page_size=2, record_exchanges=True)) as running:
        yield running
        problems = [
            problem
            for x in running.exchanges
            # Requests refused with 400 were sent wrong on purpose; their answers count.
            for problem in exchange_errors(
                x.method, x.path, x.query, x.request, x.status, x.response, x.status != 400
            )
        ]
        assert problems == []


def token(
    http: httpx.Client, client_id: str = "sandbox-client", secret: str = "sandbox-secret"
) -> str:
    answer = http.post(
        "/connect/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


@pytest.fixture
def http(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        client.headers.update(
            {"Authorization": f"Bearer {token(client)}", "ST-App-Key": "sandbox-app-key"}
        )
        yield client


def test_mark_invoices_exported_answers_per_item(
    sandbox: RunningSandbox, http: httpx.Client
) -> None:
    before = sandbox.store.get("invoices", 5001)
    assert before is not None
    assert before["syncStatus"] == "Posted"
    sandbox.store.refuse("invoices", 5002, "Invoice is in an open batch")
    answer = http.post(
        f"{ACC}/invoices/markasexported",
        json=[
            {"invoiceId": 5001, "externalId": "1A2B-1234567890", "externalMessage": "QuickBooks"},
            {"invoiceId": 5002, "externalId": "1A2C-1234567890", "externalMessage": None},
            {"invoiceId": 999, "externalId": "x", "externalMessage": None},
        ],
    )
    assert answer.status_code == 200
    assert answer.json() == [
        {"invoiceId": 5001, "success": True, "errorMessage": None},
        {"invoiceId": 5002, "success": False, "errorMessage": "Invoice is in an open batch"},
        {"invoiceId": 999, "success": False, "errorMessage": "Invoice 999 was not found."},
    ]
    after = sandbox.store.get("invoices", 5001)
    assert after is not None
    assert after["syncStatus"] == "Exported"
    assert after["modifiedOn"] > before["modifiedOn"]
    assert sandbox.store.exported == {5001: ("1A2B-1234567890", "QuickBooks")}
    # The refusal was for one attempt: the retry succeeds.
    again = http.post(f"{ACC}/invoices/markasexported", json=[{"invoiceId": 5002}])
    assert again.json() == [{"invoiceId": 5002, "success": True, "errorMessage": None}]
    # The exported invoice comes again at the end of the export feed, as Exported.
    token_ = None
    last = []
    while True:
        page = http.get(f"{ACC}/export/invoices", params={"from": token_} if token_ else {}).json()
        last = page["data"] or last
        token_ = page["continueFrom"]
        if not page["hasMore"]:
            break
    assert [(r["id"], r["syncStatus"]) for r in last][-1] == (5002, "Exported")


def test_mark_bills_exported_and_payment_status(
    sandbox: RunningSandbox, http: httpx.Client
) -> None:
    answer = http.post(
        f"{ACC}/inventory-bills/markasexported", json={"inventoryBillIds": [6001, 7]}
    )
    assert answer.json() == [
        {"inventoryBillId": 6001, "success": True, "errorMessage": None},
        {"inventoryBillId": 7, "success": False, "errorMessage": "Inventory bill 7 was not found."},
    ]
    bill = sandbox.store.get("inventory-bills", 6001)
    assert bill is not None
    assert bill["syncStatus"] == "PostedAndExported"
    ok = http.post(
        f"{ACC}/payments/status", json={"paymentIds": [9001, 9002], "status": "Exported"}
    )
    assert (ok.status_code, ok.content) == (200, b"")
    statuses = [sandbox.store.get("payments", i)["syncStatus"] for i in (9001, 9002, 9003)]  # type: ignore[index]
    assert statuses == ["Exported", "Exported", "Posted"]
    bad = http.post(f"{ACC}/payments/status", json={"paymentIds": [9003, 1], "status": "Exported"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"paymentIds": ["Payment 1 was not found."]}
    assert sandbox.store.get("payments", 9003)["syncStatus"] == "Posted"  # type: ignore[index]
    wrong = http.post(f"{ACC}/payments/status", json={"paymentIds": [9003], "status": "Done"})
    assert wrong.status_code == 400
    assert wrong.json()["errors"] == {"status": ["'Done' is not one of Pending, Posted, Exported."]}


def test_customer_get_patch_and_create(sandbox: RunningSandbox, http: httpx.Client) -> None:
    got = http.get(f"{CRM}/customers/1001").json()
    assert (got["id"], got["name"]) == (1001, "Hernandez, Maria")
    # UpdateCustomerAddress wants every field, the unit as text (the record has null).
    address = {**got["address"], "street": "12 New Street", "unit": got["address"]["unit"] or ""}
    patched = http.patch(
        f"{CRM}/customers/1001", json={"name": "Hernandez, María", "address": address}
    )
    assert patched.status_code == 200
    assert patched.json()["name"] == "Hernandez, María"
    assert sandbox.store.get("customers", 1001)["address"]["street"] == "12 New Street"  # type: ignore[index]
    missing_coordinates = {k: v for k, v in address.items() if k != "latitude"}
    refused = http.patch(f"{CRM}/customers/1001", json={"address": missing_coordinates})
    assert refused.status_code == 400
    assert refused.json()["errors"] == {"address.latitude": ["The latitude field is required."]}
    unknown = http.patch(f"{CRM}/customers/1001", json={"email": "x@y.z"})
    assert unknown.json()["errors"] == {"email": ["'email' is not a field of this request."]}
    assert http.patch(f"{CRM}/customers/42", json={"active": False}).status_code == 404

    new_address = {
        "street": "1 Elm",
        "city": "Austin",
        "state": "TX",
        "zip": "78701",
        "country": "USA",
    }
    created = http.post(
        f"{CRM}/customers",
        json={
            "name": "Okafor, Chidi",
            "address": new_address,
            "locations": [{"name": "Okafor, Chidi", "address": new_address}],
        },
    )
    assert created.status_code == 200
    body = created.json()
    assert body["id"] > 2**32
    assert body["locations"][0]["customerId"] == body["id"]
    assert sandbox.store.get("customers", body["id"])["name"] == "Okafor, Chidi"  # type: ignore[index]


def test_vendor_get_patch_and_create(sandbox: RunningSandbox, http: httpx.Client) -> None:
    got = http.get(f"{INV}/vendors/7101").json()
    patched = http.patch(
        f"{INV}/vendors/7101",
        json={"name": "Ferguson Supply", "email": "ap@ferguson.example", "active": False},
    )
    assert patched.json() == {"id": 7101}
    now = sandbox.store.get("vendors", 7101)
    assert now is not None
    assert (now["name"], now["active"], now["contactInfo"]["email"]) == (
        "Ferguson Supply",
        False,
        "ap@ferguson.example",
    )
    assert now["contactInfo"]["phone"] == got["contactInfo"]["phone"]
    address = {
        "street": "5 Main",
        "unit": "",
        "city": "Austin",
        "state": "TX",
        "zip": "78702",
        "country": "USA",
    }
    created = http.post(
        f"{INV}/vendors",
        json={
            "name": "Hill Country Pipe",
            "active": True,
            "isTruckReplenishment": False,
            "taxRate": 0,
            "restrictedMobileCreation": False,
            "address": address,
            "phone": "512-555-0100",
        },
    )
    vendor_id = created.json()["id"]
    stored = sandbox.store.get("vendors", vendor_id)
    assert stored is not None
    assert stored["contactInfo"]["phone"] == "512-555-0100"
    incomplete = http.post(f"{INV}/vendors", json={"name": "X", "address": address})
    assert set(incomplete.json()["errors"]) == {
        "active",
        "isTruckReplenishment",
        "taxRate",
        "restrictedMobileCreation",
    }


def test_tokens_are_per_tenant(sandbox: RunningSandbox) -> None:
    other = sandbox.add_tenant("7654321", "other-client", "other-secret", seed="empty")
    with httpx.Client(base_url=sandbox.url, timeout=10) as http:
        mine = token(http, "other-client", "other-secret")
        headers = {"Authorization": f"Bearer {mine}", "ST-App-Key": "sandbox-app-key"}
        own = http.get("/crm/v2/tenant/7654321/export/customers", headers=headers)
        assert (own.status_code, own.json()["data"]) == (200, [])
        foreign = http.get("/crm/v2/tenant/1234567/export/customers", headers=headers)
        assert foreign.status_code == 403
        assert foreign.json()["title"] == (
            "Forbidden: the application is not connected to tenant 1234567"
        )
    assert other.api_requests["/crm/v2/tenant/7654321/export/customers"] == 1


def test_rate_limit_refuses_the_61st_call_in_a_second() -> None:
    clock = [100.0]
    with RunningSandbox(SandboxSettings(rate_limit_per_second=60)) as sandbox:
        sandbox.store._clock = lambda: clock[0]
        with httpx.Client(base_url=sandbox.url, timeout=10) as http:
            headers = {"Authorization": f"Bearer {token(http)}", "ST-App-Key": "sandbox-app-key"}
            answers = [http.get(f"{CRM}/customers/1001", headers=headers) for _ in range(61)]
            assert [a.status_code for a in answers].count(200) == 60
            assert answers[-1].status_code == 429
            assert answers[-1].headers["Retry-After"] == "1"
            clock[0] += 1.0
            assert http.get(f"{CRM}/customers/1001", headers=headers).status_code == 200
        assert sandbox.store.max_calls_in_any_second() == 61


def test_stuck_export_repeats_its_token(sandbox: RunningSandbox, http: httpx.Client) -> None:
    first = http.get(f"{CRM}/export/customers").json()
    sandbox.store.stick("customers", times=2)
    for _ in range(2):
        again = http.get(f"{CRM}/export/customers", params={"from": first["continueFrom"]}).json()
        assert (again["hasMore"], again["continueFrom"]) == (True, first["continueFrom"])
        assert [c["id"] for c in again["data"]] == [1003, 1004]
    moved = http.get(f"{CRM}/export/customers", params={"from": first["continueFrom"]}).json()
    assert moved["hasMore"] is False
    assert moved["continueFrom"] != first["continueFrom"]


def test_bulk_seed_has_int64_ids() -> None:
    with RunningSandbox(SandboxSettings(seed="bulk:3", page_size=500)) as sandbox:
        ids = [r["id"] for r in sandbox.store.all("invoices")]
        assert ids == [BULK_INVOICE_BASE_ID + n for n in (1, 2, 3)]
        with httpx.Client(base_url=sandbox.url, timeout=10) as http:
            headers = {"Authorization": f"Bearer {token(http)}", "ST-App-Key": "sandbox-app-key"}
            page = http.get(f"{ACC}/export/invoices", headers=headers).json()
        assert [r["id"] for r in page["data"]] == ids
        assert page["data"][0]["invoiceDate"] == "2024-01-01T00:00:00Z"
