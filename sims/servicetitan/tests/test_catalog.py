"""The setup lists the onboarding review reads (pricebook, GL accounts, tax zones, business
units) over real HTTP, every call and answer checked against ServiceTitan's documents."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mlconnector.stsandbox.catalog import material_json
from mlconnector.stsandbox.openapi import exchange_errors
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

T = "/tenant/1234567"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(SandboxSettings(record_exchanges=True)) as running:
        yield running


@pytest.fixture
def http(sandbox: RunningSandbox) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=sandbox.url, timeout=10) as client:
        token = client.post(
            "/connect/token",
            data={
                "grant_type": "client_credentials",
                "client_id": "sandbox-client",
                "client_secret": "sandbox-secret",
            },
        ).json()["access_token"]
        client.headers.update({"Authorization": f"Bearer {token}", "ST-App-Key": "sandbox-app-key"})
        yield client


def _checked(sandbox: RunningSandbox) -> list[str]:
    return [
        problem
        for x in sandbox.exchanges
        for problem in exchange_errors(x.method, x.path, x.query, x.request, x.status, x.response)
    ]


def test_every_setup_list_follows_its_document(sandbox: RunningSandbox, http: httpx.Client) -> None:
    answers = {
        path: http.get(path, params={"includeTotal": "true"}).json()
        for path in (
            f"/pricebook/v2{T}/materials",
            f"/pricebook/v2{T}/equipment",
            f"/pricebook/v2{T}/services",
            f"/accounting/v2{T}/gl-accounts",
            f"/accounting/v2{T}/tax-zones",
            f"/settings/v2{T}/business-units",
        )
    }
    assert _checked(sandbox) == []
    services = answers[f"/pricebook/v2{T}/services"]["data"]
    assert [(s["id"], s["code"]) for s in services] == [(90001, "Labor")]
    materials = answers[f"/pricebook/v2{T}/materials"]
    assert materials["totalCount"] == len(materials["data"]) > 3
    assert "PVC-075" in {m["code"] for m in materials["data"]}
    zones = answers[f"/accounting/v2{T}/tax-zones"]["data"]
    assert [
        (z["id"], z["name"], z["rates"][0]["taxRate"], z["rates"][0]["salesTaxItem"]) for z in zones
    ] == [
        (31, "Travis County 8.25%", 0.0825, "ST Sales Tax"),
        (32, "Round Rock 6.25%", 0.0625, "Round Rock Tax"),
    ]
    units = answers[f"/settings/v2{T}/business-units"]["data"]
    assert [(u["id"], u["name"]) for u in units] == [
        (201, "Plumbing - Service"),
        (202, "HVAC - Service"),
    ]
    accounts = answers[f"/accounting/v2{T}/gl-accounts"]["data"]
    assert ("Service Income", "4010") in {(a["name"], a["number"]) for a in accounts}


def test_setup_lists_page_filter_active_and_ids(
    sandbox: RunningSandbox, http: httpx.Client
) -> None:
    sandbox.store.catalog.clear("materials")
    sandbox.store.catalog.put_many(
        "materials",
        [material_json(n, f"SKU-{n}", f"Part {n}", "10.00", "4.00") for n in range(1, 8)]
        + [material_json(8, "OLD-8", "Retired part", active=False)],
    )
    path = f"/pricebook/v2{T}/materials"
    first = http.get(path, params={"pageSize": "3"}).json()
    assert ([m["id"] for m in first["data"]], first["hasMore"]) == ([1, 2, 3], True)
    last = http.get(path, params={"pageSize": "3", "page": "3"}).json()
    assert ([m["id"] for m in last["data"]], last["hasMore"]) == ([7], False)
    every = http.get(path, params={"active": "Any", "pageSize": "50"}).json()
    assert [m["id"] for m in every["data"]] == list(range(1, 9))
    retired = http.get(path, params={"active": "False"}).json()
    assert [m["code"] for m in retired["data"]] == ["OLD-8"]
    chosen = http.get(path, params={"ids": "2,5", "active": "Any"}).json()
    assert [m["id"] for m in chosen["data"]] == [2, 5]
    bad = http.get(path, params={"active": "maybe"})
    assert bad.status_code == 400
    assert bad.json()["errors"] == {"active": ["'maybe' is not one of True, Any, False"]}
    assert _checked(sandbox) == []
    unauthorised = httpx.get(f"{sandbox.url}{path}")
    assert unauthorised.status_code == 401
