"""The sandbox over real HTTP: auth, paging, runtime changes, faults, schema conformance."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from mlconnector.stsandbox.openapi import schema_errors
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

TENANT = "1234567"
CUSTOMERS = "/crm/v2/tenant/1234567/export/customers"
INVOICES = "/accounting/v2/tenant/1234567/export/invoices"
INVOICE_LIST = "/accounting/v2/tenant/1234567/invoices"
PAYMENTS = "/accounting/v2/tenant/1234567/export/payments"
BILLS = "/accounting/v2/tenant/1234567/export/inventory-bills"
VENDORS = "/inventory/v2/tenant/1234567/vendors"


@pytest.fixture
def crm(st_documents: Path) -> Path:
    return st_documents / "tenant-crm-v2.json"


@pytest.fixture
def accounting(st_documents: Path) -> Path:
    return st_documents / "tenant-accounting-v2.json"


@pytest.fixture
def inventory(st_documents: Path) -> Path:
    return st_documents / "tenant-inventory-v2.json"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(SandboxSettings(page_size=2)) as running:
        yield running


@pytest.fixture
def http(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        yield client


def get_token(http: httpx.Client) -> str:
    answer = http.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["expires_in"] == 900
    assert body["token_type"] == "Bearer"
    assert "tn.acc.invoices:r" in body["scope"].split()
    token: str = body["access_token"]
    return token


@pytest.fixture
def headers(http: httpx.Client) -> dict[str, str]:
    return {"Authorization": f"Bearer {get_token(http)}", "ST-App-Key": "sandbox-app-key"}


def test_token_wrong_secret_is_invalid_client(http: httpx.Client) -> None:
    answer = http.post(
        "/connect/token",
        data={
            "grant_type": "client_credentials",
            "client_id": "sandbox-client",
            "client_secret": "nope",
        },
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "invalid_client"}


def test_token_wrong_grant_type(http: httpx.Client) -> None:
    answer = http.post(
        "/connect/token",
        data={
            "grant_type": "password",
            "client_id": "sandbox-client",
            "client_secret": "sandbox-secret",
        },
    )
    assert answer.status_code == 400
    assert answer.json() == {"error": "unsupported_grant_type"}


@pytest.mark.parametrize(
    ("auth", "app_key", "status"),
    [
        (None, "sandbox-app-key", 401),
        ("Bearer not-a-token", "sandbox-app-key", 401),
        ("Basic c2FuZGJveA==", "sandbox-app-key", 401),
        ("GOOD", None, 401),
        ("GOOD", "someone-elses-key", 403),
    ],
)
def test_api_calls_need_token_and_app_key(
    http: httpx.Client, accounting: Path, auth: str | None, app_key: str | None, status: int
) -> None:
    headers: dict[str, str] = {}
    if auth is not None:
        headers["Authorization"] = f"Bearer {get_token(http)}" if auth == "GOOD" else auth
    if app_key is not None:
        headers["ST-App-Key"] = app_key
    answer = http.get(INVOICES, headers=headers)
    assert answer.status_code == status
    assert answer.json()["status"] == status
    assert schema_errors(accounting, "ApiErrorResponse", answer.json()) == []


def test_expired_token_is_refused(
    http: httpx.Client, sandbox: RunningSandbox, headers: dict[str, str]
) -> None:
    assert http.get(INVOICES, headers=headers).status_code == 200
    sandbox.store.expire_tokens()
    answer = http.get(INVOICES, headers=headers)
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'


def test_other_tenant_is_not_found(http: httpx.Client, headers: dict[str, str]) -> None:
    answer = http.get("/accounting/v2/tenant/999/export/invoices", headers=headers)
    assert answer.status_code == 404
    assert answer.json()["title"] == "Tenant 999 not found"


def drain(
    http: httpx.Client, path: str, headers: dict[str, str], start: str | None = None
) -> tuple[list[dict[str, Any]], str]:
    pages: list[dict[str, Any]] = []
    token = start
    while True:
        params = {"from": token} if token else {}
        page = http.get(path, headers=headers, params=params).json()
        pages.append(page)
        token = page["continueFrom"]
        if not page["hasMore"]:
            return pages, token


def test_customer_export_pages_and_matches_schema(
    http: httpx.Client, headers: dict[str, str], crm: Path
) -> None:
    pages, _ = drain(http, CUSTOMERS, headers)
    assert [[c["id"] for c in page["data"]] for page in pages] == [[1001, 1002], [1003, 1004]]
    assert [page["hasMore"] for page in pages] == [True, False]
    for page in pages:
        assert schema_errors(crm, "ExportResponse_Of_Crm.V2.ExportCustomerResponse", page) == []
    first = pages[0]["data"][0]
    assert first["name"] == "Hernandez, Maria"
    assert first["address"]["street"] == "1418 Maple Ridge Dr"


def test_invoice_export_pages_and_matches_schema(
    http: httpx.Client, headers: dict[str, str], accounting: Path
) -> None:
    pages, token = drain(http, INVOICES, headers)
    assert [[i["id"] for i in page["data"]] for page in pages] == [
        [5001, 5002],
        [5003, 5004],
        [5006, 5005],
    ]
    for page in pages:
        errors = schema_errors(
            accounting, "ExportResponse_Of_Accounting.V2.ExportInvoiceResponse", page
        )
        assert errors == []
    demo = pages[0]["data"][0]
    assert (demo["subTotal"], demo["salesTax"], demo["total"]) == ("396.00", "12.05", "408.05")
    # Payment 9001 paid it in full on site.
    assert demo["balance"] == "0.00"
    assert demo["items"][1]["generalLedgerAccount"] == {
        "id": 4020,
        "name": "Materials Income",
        "number": "4020",
        "type": "Income",
        "detailType": "SalesOfProductIncome",
    }
    # Caught up: the same token answers an empty page and keeps its place.
    again = http.get(INVOICES, headers=headers, params={"from": token}).json()
    assert again == {"hasMore": False, "continueFrom": token, "data": []}


def test_changed_record_comes_again_later_in_the_feed(
    http: httpx.Client, sandbox: RunningSandbox, headers: dict[str, str]
) -> None:
    _, token = drain(http, INVOICES, headers)
    changed = sandbox.store.update("invoices", 5002, summary="Tune-up; customer called back.")
    assert changed["modifiedOn"] > "2025-03-14T22:00:02Z"
    added = http.post("/_sandbox/invoices", json={**changed, "id": 5010, "referenceNumber": "5010"})
    assert added.status_code == 200
    page = http.get(INVOICES, headers=headers, params={"from": token}).json()
    assert [i["id"] for i in page["data"]] == [5002, 5010]
    assert page["data"][0]["summary"] == "Tune-up; customer called back."
    assert page["hasMore"] is False


def test_from_date_and_bad_token(
    http: httpx.Client, headers: dict[str, str], accounting: Path
) -> None:
    page = http.get(INVOICES, headers=headers, params={"from": "2025-03-14T22:00:03Z"}).json()
    assert [i["id"] for i in page["data"]] == [5003, 5004]
    assert page["hasMore"] is True
    later = http.get(INVOICES, headers=headers, params={"from": "2030-01-01"}).json()
    assert later["data"] == []
    bad = http.get(INVOICES, headers=headers, params={"from": "garbage!"})
    assert bad.status_code == 400
    assert schema_errors(accounting, "ApiErrorResponse", bad.json()) == []
    cross = http.get(
        INVOICES,
        headers=headers,
        params={"from": http.get(CUSTOMERS, headers=headers).json()["continueFrom"]},
    )
    assert cross.status_code == 400
    assert cross.json()["errors"]["from"] == ["continuation token belongs to the customers export"]


def test_invoice_list_pages_with_total(
    http: httpx.Client, headers: dict[str, str], accounting: Path
) -> None:
    page = http.get(
        INVOICE_LIST, headers=headers, params={"page": 2, "pageSize": 2, "includeTotal": "true"}
    ).json()
    assert (
        schema_errors(accounting, "PaginatedResponse_Of_Accounting.V2.InvoiceResponse", page) == []
    )
    assert (page["page"], page["pageSize"], page["hasMore"], page["totalCount"]) == (2, 2, True, 6)
    assert [i["id"] for i in page["data"]] == [5003, 5004]
    posted = http.get(
        INVOICE_LIST, headers=headers, params={"statuses": "Pending", "ids": "5001,5005"}
    ).json()
    assert [i["id"] for i in posted["data"]] == [5005]
    assert posted["totalCount"] is None


def test_payment_export_pages_and_matches_schema(
    http: httpx.Client, sandbox: RunningSandbox, headers: dict[str, str], accounting: Path
) -> None:
    pages, token = drain(http, PAYMENTS, headers)
    assert [[p["id"] for p in page["data"]] for page in pages] == [
        [9005, 9001],
        [9002, 9003],
        [9004],
    ]
    for page in pages:
        errors = schema_errors(
            accounting, "ExportResponse_Of_Accounting.V2.ExportPaymentResponse", page
        )
        assert errors == []
    payments = {p["id"]: p for page in pages for p in page["data"]}
    assert {k: (p["syncStatus"], p["active"], p["total"]) for k, p in payments.items()} == {
        9001: ("Posted", True, "408.05"),
        9002: ("Posted", True, "200.00"),
        9003: ("Posted", True, "927.18"),
        9004: ("Pending", True, "216.05"),
        9005: ("Pending", False, "408.05"),
    }
    assert [(a["appliedTo"], a["appliedAmount"]) for a in payments[9003]["appliedTo"]] == [
        (5003, "640.40"),
        (5006, "286.78"),
    ]
    assert [(a["appliedTo"], a["appliedAmount"]) for a in payments[9002]["appliedTo"]] == [
        (5002, "200.00")
    ]
    # A payment recorded later (through the sandbox's control endpoint) comes after the token.
    late = {**payments[9004], "id": 9010, "syncStatus": "Posted"}
    assert http.post("/_sandbox/payments", json=late).status_code == 200
    page = http.get(PAYMENTS, headers=headers, params={"from": token}).json()
    assert [p["id"] for p in page["data"]] == [9010]
    assert (
        schema_errors(accounting, "ExportResponse_Of_Accounting.V2.ExportPaymentResponse", page)
        == []
    )
    assert sandbox.store.get("payments", 9010) == page["data"][0]


def test_inventory_bill_export_pages_and_matches_schema(
    http: httpx.Client, sandbox: RunningSandbox, headers: dict[str, str], accounting: Path
) -> None:
    pages, token = drain(http, BILLS, headers)
    assert [[b["id"] for b in page["data"]] for page in pages] == [[6003, 6001], [6002]]
    schema = "ExportResponse_Of_Accounting.V2.ExportInventoryBillResponse"
    for page in pages:
        assert schema_errors(accounting, schema, page) == []
    bills = {b["id"]: b for page in pages for b in page["data"]}
    assert {k: (b["syncStatus"], b["vendor"]["name"]) for k, b in bills.items()} == {
        6003: ("PostedAndExported", "Ferguson Plumbing Supply"),
        6001: ("Posted", "Ferguson Plumbing Supply"),
        6002: ("Posted", "Lone Star HVAC Supply"),
    }
    lone_star = bills[6002]
    assert (
        lone_star["billAmount"],
        lone_star["taxAmount"],
        lone_star["shippingAmount"],
        lone_star["otherAmount"],
    ) == ("226.67", "15.37", "25.00", "0.00")
    assert [
        (i["skuCode"], i["quantity"], i["cost"], i["generalLedgerAccount"]["name"])
        for i in lone_star["items"]
    ] == [
        ("MTR-CFM-025", "1", "148.50", "Job Materials"),
        ("CAP-45-5", "2", "18.90", "Job Materials"),
    ]
    # An edited bill comes again, still as the document describes it (bill items have no
    # modifiedOn of their own).
    sandbox.store.update("inventory-bills", 6003, syncStatus="Exported")
    page = http.get(BILLS, headers=headers, params={"from": token}).json()
    assert [(b["id"], b["syncStatus"]) for b in page["data"]] == [(6003, "Exported")]
    assert schema_errors(accounting, schema, page) == []


def test_vendor_list_follows_the_inventory_document(
    http: httpx.Client, headers: dict[str, str], inventory: Path
) -> None:
    schema = "PaginatedResponse_Of_Inventory.V2.VendorResponse"
    # Only active vendors unless asked otherwise, as the document says.
    default = http.get(VENDORS, headers=headers).json()
    assert schema_errors(inventory, schema, default) == []
    assert [v["id"] for v in default["data"]] == [7101, 7102]
    assert (default["page"], default["pageSize"], default["hasMore"]) == (1, 50, False)
    assert default["totalCount"] is None

    every = http.get(
        VENDORS,
        headers=headers,
        params={"active": "Any", "pageSize": 2, "includeTotal": "true", "sort": "+ModifiedOn"},
    ).json()
    assert schema_errors(inventory, schema, every) == []
    assert [v["id"] for v in every["data"]] == [7103, 7101]
    assert (every["hasMore"], every["totalCount"]) == (True, 3)
    second = http.get(
        VENDORS,
        headers=headers,
        params={"active": "Any", "pageSize": 2, "page": 2, "sort": "+ModifiedOn"},
    ).json()
    assert [v["id"] for v in second["data"]] == [7102]
    assert second["hasMore"] is False

    inactive = http.get(VENDORS, headers=headers, params={"active": "False"}).json()
    assert [(v["id"], v["active"]) for v in inactive["data"]] == [(7103, False)]
    since = http.get(
        VENDORS,
        headers=headers,
        params={"active": "Any", "modifiedOnOrAfter": "2025-03-14T12:35:00Z", "sort": "-Id"},
    ).json()
    assert [v["id"] for v in since["data"]] == [7102]
    newest_first = http.get(VENDORS, headers=headers, params={"sort": "-ModifiedOn"}).json()
    assert [v["id"] for v in newest_first["data"]] == [7102, 7101]
    chosen = http.get(VENDORS, headers=headers, params={"ids": "7101,7103", "active": "any"})
    assert [v["id"] for v in chosen.json()["data"]] == [7101, 7103]
    ferguson = default["data"][0]
    assert ferguson["name"] == "Ferguson Plumbing Supply"
    assert ferguson["contactInfo"]["email"] == "austin.counter@ferguson.example"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"modifiedOnOrAfter": "yesterday"}, "modifiedOnOrAfter"),
        ({"active": "Maybe"}, "active"),
        ({"sort": "+Name"}, "sort"),
        ({"ids": "7101,x"}, "ids"),
    ],
)
def test_vendor_list_bad_arguments(
    http: httpx.Client, headers: dict[str, str], inventory: Path, params: dict[str, str], field: str
) -> None:
    answer = http.get(VENDORS, headers=headers, params=params)
    assert answer.status_code == 400
    assert schema_errors(inventory, "ApiErrorResponse", answer.json()) == []
    assert list(answer.json()["errors"]) == [field]


def test_changed_vendor_moves_past_a_modified_since_mark(
    http: httpx.Client, sandbox: RunningSandbox, headers: dict[str, str], inventory: Path
) -> None:
    changed = sandbox.store.update("vendors", 7103, active=True, memo="Reopened")
    page = http.get(
        VENDORS,
        headers=headers,
        params={"modifiedOnOrAfter": "2025-03-15T00:00:00Z", "active": "Any"},
    ).json()
    assert page["data"] == [changed]
    assert schema_errors(inventory, "PaginatedResponse_Of_Inventory.V2.VendorResponse", page) == []


def test_injected_429_then_success(
    http: httpx.Client, sandbox: RunningSandbox, headers: dict[str, str]
) -> None:
    fault = {"status": 429, "times": 2, "retryAfter": "3", "pathContains": "/export/invoices"}
    assert http.post("/_sandbox/faults", json=fault).status_code == 204
    for _ in range(2):
        answer = http.get(INVOICES, headers=headers)
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "3"
    assert http.get(CUSTOMERS, headers=headers).status_code == 200
    assert http.get(INVOICES, headers=headers).status_code == 200
    notice = "Tenant is suspended for maintenance. Try again in 5 seconds"
    sandbox.store.inject_fault(409, body=notice)
    maintenance = http.get(CUSTOMERS, headers=headers)
    assert maintenance.status_code == 409
    assert maintenance.text == notice
    stats = http.get("/_sandbox/stats").json()
    assert stats["tokenRequests"] == 1
    assert stats["apiRequests"][INVOICES] == 3
