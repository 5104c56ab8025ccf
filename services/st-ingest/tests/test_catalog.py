"""st-ingest's reader of ServiceTitan's setup lists, against the sandbox over HTTP."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from mlconnector.ingest.auth import TokenProvider
from mlconnector.ingest.catalog import read_catalog
from mlconnector.ingest.client import StClient
from mlconnector.stsandbox.catalog import (
    business_unit_json,
    gl_account_json,
    material_json,
    service_json,
    tax_zone_json,
)
from mlconnector.stsandbox.openapi import exchange_errors
from mlconnector.stsandbox.seed import SERVICE_INCOME
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox

TENANT = "1234567"


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    with RunningSandbox(SandboxSettings(tenant=TENANT, record_exchanges=True)) as running:
        yield running


async def test_the_catalog_is_read_whole_inactive_records_too(sandbox: RunningSandbox) -> None:
    catalog = sandbox.store.catalog
    catalog.clear("materials")
    catalog.put_many(
        "materials",
        [material_json(n, f"SKU-{n:04d}", f"Part {n}") for n in range(1, 1201)]
        + [material_json(5000, "OLD-1", "Retired", active=False)],
    )
    catalog.clear("services")
    catalog.put_many("services", [service_json(90001, "Labor", "Labor", "95.00")])
    catalog.clear("gl-accounts")
    catalog.put_many("gl-accounts", [gl_account_json(SERVICE_INCOME)])
    catalog.clear("business-units")
    catalog.put_many(
        "business-units", [business_unit_json(201, "Plumbing", quickbooks_class="Plumbing")]
    )
    catalog.clear("tax-zones")
    catalog.put_many(
        "tax-zones", [tax_zone_json(31, "Travis County", "8.25", sales_tax_item="ST Sales Tax")]
    )
    async with httpx.AsyncClient(timeout=10) as http:
        tokens = TokenProvider(http, sandbox.url, "sandbox-client", "sandbox-secret")
        client = StClient(http, tokens, sandbox.url, "sandbox-app-key", TENANT)
        found = await read_catalog(client)

    items = found["item"]
    assert len(items) == 1202
    assert {(i.st_id, i.name, i.active) for i in items} >= {
        (1, "SKU-0001", True),
        (5000, "OLD-1", False),
        (90001, "Labor", True),
    }
    account = found["account"][0]
    assert (account.st_id, account.name, account.number) == (4010, "Service Income", "4010")
    unit = found["business_unit"][0]
    assert (unit.name, unit.class_hint) == ("Plumbing", "Plumbing")
    zone = found["tax_zone"][0]
    assert (zone.name, zone.rate, zone.class_hint) == ("Travis County", "8.25", "ST Sales Tax")
    # Three pages of materials (500 a page), one each for the other lists.
    assert client.calls == 3 + 5
    problems = [
        problem
        for x in sandbox.exchanges
        for problem in exchange_errors(x.method, x.path, x.query, x.request, x.status, x.response)
    ]
    assert problems == []
