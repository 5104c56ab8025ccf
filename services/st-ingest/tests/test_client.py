"""The ServiceTitan client against the sandbox over HTTP: auth, caching, retries, errors."""

from __future__ import annotations

import datetime as dt

import httpx
import pytest

from mlconnector.ingest.auth import StAuthError, TokenProvider
from mlconnector.ingest.client import StApiError, StClient, StRetriesExhausted, retry_after_seconds
from mlconnector.stsandbox.testing import RunningSandbox

from .conftest import Sleeps


async def test_export_pages_and_token_is_cached(
    client: StClient, sandbox: RunningSandbox, tokens: TokenProvider
) -> None:
    first = await client.export("customers", None)
    assert [c["id"] for c in first.data] == [1001, 1002]
    assert first.has_more is True
    second = await client.export("customers", first.continue_from)
    assert [c["id"] for c in second.data] == [1003, 1004]
    assert second.has_more is False
    invoices = await client.export("invoices", None)
    assert [i["id"] for i in invoices.data] == [5001, 5002]
    assert sandbox.store.token_requests == 1
    assert tokens.requests == 1


async def test_accounting_exports_and_vendor_list(client: StClient) -> None:
    payments = await client.export("payments", None)
    assert [p["id"] for p in payments.data] == [9005, 9001]
    bills = await client.export("inventory-bills", None)
    assert [b["id"] for b in bills.data] == [6003, 6001]
    page = await client.list_page(
        "vendors", {"page": "1", "pageSize": "2", "active": "Any", "sort": "+ModifiedOn"}
    )
    assert (page.page, page.has_more) == (1, True)
    assert [v["id"] for v in page.data] == [7103, 7101]


async def test_list_answer_without_paging_fields_is_explained(
    client: StClient, sandbox: RunningSandbox
) -> None:
    sandbox.store.inject_fault(200, body={"items": []}, path_contains="/vendors")
    with pytest.raises(StApiError) as caught:
        await client.list_page("vendors", {"page": "1"})
    assert str(caught.value) == "vendors list answered without page/hasMore/data: {'items': []}"


async def test_token_refreshed_shortly_before_expiry(
    http: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    now = [1000.0]
    tokens = TokenProvider(
        http,
        sandbox.url,
        "sandbox-client",
        "sandbox-secret",
        refresh_margin_seconds=60,
        clock=lambda: now[0],
    )
    first = await tokens.token()
    now[0] += 839  # 900 s lifetime - 60 s margin - 1 s: still good
    assert await tokens.token() == first
    now[0] += 1
    assert await tokens.token() != first
    assert sandbox.store.token_requests == 2


async def test_revoked_token_is_replaced_once(client: StClient, sandbox: RunningSandbox) -> None:
    await client.export("customers", None)
    sandbox.store.expire_tokens()
    page = await client.export("customers", None)
    assert [c["id"] for c in page.data] == [1001, 1002]
    assert sandbox.store.token_requests == 2


async def test_wrong_credentials_say_what_to_check(
    http: httpx.AsyncClient, sandbox: RunningSandbox
) -> None:
    tokens = TokenProvider(http, sandbox.url, "sandbox-client", "wrong")
    with pytest.raises(StAuthError) as caught:
        await tokens.token()
    assert str(caught.value) == (
        "ServiceTitan auth server refused client 'sandbox-client' (HTTP 400: invalid_client); "
        "check ST_CLIENT_ID, ST_CLIENT_SECRET and ST_AUTH_URL (production and integration "
        "have different credentials)"
    )


async def test_429_retry_after_seconds_then_success(
    client: StClient, sandbox: RunningSandbox, sleeps: Sleeps
) -> None:
    sandbox.store.inject_fault(429, times=2, retry_after="3")
    page = await client.export("invoices", None)
    assert [i["id"] for i in page.data] == [5001, 5002]
    assert sleeps.delays == [3.0, 3.0]
    assert client.retries == 2


async def test_429_try_again_text_and_409_maintenance(
    client: StClient, sandbox: RunningSandbox, sleeps: Sleeps
) -> None:
    sandbox.store.inject_fault(429, body="Rate limit is exceeded. Try again in 7 seconds.")
    sandbox.store.inject_fault(409, body={"title": "Tenant is suspended for maintenance"})
    page = await client.export("customers", None)
    assert len(page.data) == 2
    # 7 s from the body text; the 409 has no hint, so backoff: 0.5 * 2**1 -> 0.5 + 0.5*0.5.
    assert sleeps.delays == [7.0, 0.75]


async def test_retries_are_bounded(
    client: StClient, sandbox: RunningSandbox, sleeps: Sleeps
) -> None:
    sandbox.store.inject_fault(503, times=10)
    with pytest.raises(StRetriesExhausted) as caught:
        await client.export("invoices", None)
    assert caught.value.status == 503
    assert str(caught.value) == (
        f"gave up after 5 attempts: GET {sandbox.url}/accounting/v2/tenant/1234567/export/"
        "invoices: HTTP 503, ServiceTitan error (Injected sandbox fault)"
    )
    # equal jitter with rng=0.5: 0.75 * base * 2**n
    assert sleeps.delays == [0.375, 0.75, 1.5, 3.0]


async def test_forbidden_is_not_retried_and_explained(
    http: httpx.AsyncClient, sandbox: RunningSandbox, tokens: TokenProvider, sleeps: Sleeps
) -> None:
    client = StClient(http, tokens, sandbox.url, "wrong-key", "1234567", sleep=sleeps)
    with pytest.raises(StApiError) as caught:
        await client.export("invoices", None)
    assert caught.value.status == 403
    assert "the tenant may lack the module or the ST-App-Key may be wrong" in str(caught.value)
    assert sleeps.delays == []


async def test_unknown_tenant(
    http: httpx.AsyncClient, sandbox: RunningSandbox, tokens: TokenProvider
) -> None:
    client = StClient(http, tokens, sandbox.url, "sandbox-app-key", "999")
    with pytest.raises(StApiError) as caught:
        await client.export("customers", None)
    assert str(caught.value) == (
        f"GET {sandbox.url}/crm/v2/tenant/999/export/customers: HTTP 404, not found: check "
        "ST_TENANT and ST_API_BASE_URL (Tenant 999 not found)"
    )


def test_retry_after_forms() -> None:
    now = dt.datetime(2025, 3, 14, 12, 0, 0, tzinfo=dt.UTC)

    def answer(headers: dict[str, str], text: str = "") -> httpx.Response:
        return httpx.Response(429, headers=headers, text=text)

    assert retry_after_seconds(answer({"Retry-After": "12"}), now) == 12.0
    date = "Fri, 14 Mar 2025 12:00:30 GMT"
    assert retry_after_seconds(answer({"Retry-After": date}), now) == 30.0
    past = "Fri, 14 Mar 2025 11:00:00 GMT"
    assert retry_after_seconds(answer({"Retry-After": past}), now) == 0.0
    assert retry_after_seconds(answer({}, "Please try again in 2 seconds"), now) == 2.0
    assert retry_after_seconds(answer({}, "slow down"), now) is None
