"""ServiceTitan REST calls: auth headers, retries on throttling and maintenance, clear errors."""

from __future__ import annotations

import asyncio
import datetime as dt
import email.utils
import logging
import random
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from mlconnector.ingest.auth import TokenProvider
from mlconnector.ingest.limiter import SharedRateLimiter

log = logging.getLogger(__name__)

ExportFeed = Literal["customers", "invoices", "payments", "inventory-bills"]
EXPORT_PATHS: dict[ExportFeed, str] = {
    "customers": "/crm/v2/tenant/{tenant}/export/customers",
    "invoices": "/accounting/v2/tenant/{tenant}/export/invoices",
    "payments": "/accounting/v2/tenant/{tenant}/export/payments",
    "inventory-bills": "/accounting/v2/tenant/{tenant}/export/inventory-bills",
}
# Records without an export feed, read from a list endpoint (page / pageSize).
ListFeed = Literal["vendors"]
LIST_PATHS: dict[ListFeed, str] = {
    "vendors": "/inventory/v2/tenant/{tenant}/vendors",
}
RETRYABLE = {409, 429, 500, 502, 503, 504}
# No document shows ServiceTitan's 429 body; peers report this sentence in it.
TRY_AGAIN_RE = re.compile(r"try again in (\d+(?:\.\d+)?) seconds?", re.IGNORECASE)


class StApiError(RuntimeError):
    def __init__(self, message: str, status: int | None = None, url: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.url = url


class StRetriesExhausted(StApiError):
    pass


@dataclass(frozen=True)
class ExportPage:
    has_more: bool
    continue_from: str
    data: list[dict[str, Any]]


@dataclass(frozen=True)
class ListPage:
    page: int
    has_more: bool
    data: list[dict[str, Any]]


def retry_after_seconds(answer: httpx.Response, now: dt.datetime | None = None) -> float | None:
    """The wait the server asked for: Retry-After (seconds or HTTP date), else body text."""
    header = answer.headers.get("Retry-After")
    if header:
        header = header.strip()
        try:
            return max(0.0, float(header))
        except ValueError:
            pass
        try:
            when = email.utils.parsedate_to_datetime(header)
        except (TypeError, ValueError):
            when = None
        if when is not None:
            if when.tzinfo is None:
                when = when.replace(tzinfo=dt.UTC)
            return max(0.0, (when - (now or dt.datetime.now(dt.UTC))).total_seconds())
    match = TRY_AGAIN_RE.search(answer.text)
    if match:
        return float(match.group(1))
    return None


WRITE_PATHS = {
    "invoices/markasexported": "/accounting/v2/tenant/{tenant}/invoices/markasexported",
    "inventory-bills/markasexported": (
        "/accounting/v2/tenant/{tenant}/inventory-bills/markasexported"
    ),
    "payments/status": "/accounting/v2/tenant/{tenant}/payments/status",
    "customers": "/crm/v2/tenant/{tenant}/customers",
    "customer": "/crm/v2/tenant/{tenant}/customers/{id}",
    "vendors": "/inventory/v2/tenant/{tenant}/vendors",
    "vendor": "/inventory/v2/tenant/{tenant}/vendors/{id}",
}
# A create (POST) is retried only when ServiceTitan refused it before doing anything (429
# throttled, 409 maintenance): after a 5xx or a lost answer it may exist already.
RETRYABLE_BEFORE_DOING = {409, 429}


class StClient:
    """Calls to one tenant: bearer token, ST-App-Key, the shared rate limiter before every
    attempt, retries (429 honouring Retry-After, 409 maintenance, 5xx, transport errors) with
    equal-jitter backoff, one re-authentication on 401. Errors raise `StApiError` with a
    sentence for the operator; `StRetriesExhausted` after `max_retries`."""

    def __init__(
        self,
        http: httpx.AsyncClient,
        tokens: TokenProvider,
        base_url: str,
        app_key: str,
        tenant: str,
        max_retries: int = 6,
        backoff_base: float = 0.5,
        backoff_max: float = 60.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: Callable[[], float] = random.random,
        limiter: SharedRateLimiter | None = None,
    ) -> None:
        self._http = http
        self._tokens = tokens
        self._base = base_url.rstrip("/")
        self._app_key = app_key
        self.tenant = tenant
        self._max_retries = max_retries
        self._backoff_base = backoff_base
        self._backoff_max = backoff_max
        self._sleep = sleep
        self._rng = rng
        self._limiter = limiter
        self.retries = 0
        self.calls = 0

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so a retry never fires at once,
        # and the random half keeps many clients from retrying in lockstep.
        step = min(self._backoff_max, self._backoff_base * 2.0**attempt)
        return step / 2 + self._rng() * step / 2

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        return await self.call("GET", path, params=params)

    async def call(
        self,
        method: str,
        path: str,
        params: dict[str, str] | None = None,
        body: Any = None,
        idempotent: bool = True,
        record_id: int | None = None,
    ) -> Any:
        """One API call (`path` with `{tenant}` and `{id}`); its JSON answer, or None when the
        answer has no body (payments/status)."""
        url = self._base + path.format(tenant=self.tenant, id=record_id)
        reauthenticated = False
        attempt = 0
        while True:
            token = await self._tokens.token()
            headers = {"Authorization": f"Bearer {token}", "ST-App-Key": self._app_key}
            if self._limiter is not None:
                await self._limiter.acquire()
            self.calls += 1
            try:
                answer = await self._http.request(
                    method, url, params=params, headers=headers, json=body
                )
            except httpx.TransportError as exc:
                if not idempotent:
                    raise StApiError(
                        f"{method} {url}: ServiceTitan did not answer ({type(exc).__name__}); "
                        "not sent again, since it may have been done",
                        None,
                        url,
                    ) from exc
                problem = f"cannot reach ServiceTitan ({type(exc).__name__}: {exc})"
                delay = self._backoff(attempt)
                status: int | None = None
            else:
                if answer.status_code == 200:
                    if not answer.content:
                        return None
                    try:
                        return answer.json()
                    except ValueError as exc:
                        raise StApiError(
                            f"{method} {url} answered 200 with a body that is not JSON", 200, url
                        ) from exc
                status = answer.status_code
                if status == 401 and not reauthenticated:
                    # A token can be revoked before it expires: get a new one, once.
                    self._tokens.invalidate()
                    reauthenticated = True
                    continue
                retryable = RETRYABLE if idempotent else RETRYABLE_BEFORE_DOING
                if status not in retryable:
                    raise StApiError(_explain(status, url, answer, method), status, url)
                asked = retry_after_seconds(answer)
                delay = (
                    min(asked, self._backoff_max) if asked is not None else self._backoff(attempt)
                )
                problem = _explain(status, url, answer, method)
            if attempt >= self._max_retries:
                raise StRetriesExhausted(
                    f"gave up after {attempt + 1} attempts: {problem}", status, url
                )
            attempt += 1
            self.retries += 1
            log.warning("%s; retrying in %.1f s (attempt %d)", problem, delay, attempt + 1)
            await self._sleep(delay)

    async def export(self, feed: ExportFeed, continue_from: str | None) -> ExportPage:
        params = {"from": continue_from} if continue_from else None
        body = await self.get_json(EXPORT_PATHS[feed], params)
        try:
            return ExportPage(
                has_more=bool(body["hasMore"]),
                continue_from=str(body["continueFrom"]),
                data=list(body["data"]),
            )
        except (KeyError, TypeError) as exc:
            raise StApiError(
                f"{feed} export answered without hasMore/continueFrom/data: {str(body)[:200]}"
            ) from exc

    async def list_page(self, feed: ListFeed, params: dict[str, str]) -> ListPage:
        """One page of a list endpoint (`page`, `pageSize` and filters in `params`)."""
        body = await self.get_json(LIST_PATHS[feed], params)
        try:
            return ListPage(
                page=int(body["page"]), has_more=bool(body["hasMore"]), data=list(body["data"])
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise StApiError(
                f"{feed} list answered without page/hasMore/data: {str(body)[:200]}"
            ) from exc

    # --- write-back (tenant-accounting-v2.json) --------------------------------------------

    async def mark_invoices_exported(
        self, items: list[tuple[int, str | None, str | None]]
    ) -> dict[int, str | None]:
        """Invoices_MarkAsExported for (invoiceId, externalId, externalMessage) items:
        invoice id -> None (marked) or ServiceTitan's errorMessage."""
        body = [
            {"invoiceId": invoice_id, "externalId": external_id, "externalMessage": message}
            for invoice_id, external_id, message in items
        ]
        answer = await self.call("POST", WRITE_PATHS["invoices/markasexported"], body=body)
        return _per_item(answer, "invoiceId", [i for i, _, _ in items])

    async def mark_bills_exported(self, bill_ids: list[int]) -> dict[int, str | None]:
        """InventoryBills_MarkAsExported: bill id -> None (marked) or the errorMessage."""
        answer = await self.call(
            "POST",
            WRITE_PATHS["inventory-bills/markasexported"],
            body={"inventoryBillIds": bill_ids},
        )
        return _per_item(answer, "inventoryBillId", bill_ids)

    async def set_payment_status(self, payment_ids: list[int], status: str) -> None:
        """Payments_UpdateStatus ({paymentIds, status}); all or nothing (400 names why)."""
        await self.call(
            "POST",
            WRITE_PATHS["payments/status"],
            body={"paymentIds": payment_ids, "status": status},
        )

    # --- customers and vendors (tenant-crm-v2.json, tenant-inventory-v2.json) --------------

    async def get_record(self, kind: Literal["customer", "vendor"], record_id: int) -> Any:
        return await self.call("GET", WRITE_PATHS[kind], record_id=record_id)

    async def update_record(
        self, kind: Literal["customer", "vendor"], record_id: int, body: dict[str, Any]
    ) -> Any:
        """Customers_Update (answers the customer) / Vendors_Update (answers {id})."""
        return await self.call("PATCH", WRITE_PATHS[kind], body=body, record_id=record_id)

    async def create_record(self, kind: Literal["customer", "vendor"], body: dict[str, Any]) -> int:
        """Customers_Create / Vendors_Create; the new record's id."""
        answer = await self.call("POST", WRITE_PATHS[f"{kind}s"], body=body, idempotent=False)
        try:
            return int(answer["id"])
        except (KeyError, TypeError, ValueError) as exc:
            raise StApiError(
                f"creating a {kind} answered without an id: {str(answer)[:200]}"
            ) from exc


def _per_item(answer: Any, key: str, asked: list[int]) -> dict[int, str | None]:
    """Per-item {<key>, success, errorMessage} -> id -> None or the error; an item ServiceTitan
    did not answer for counts as failed."""
    results: dict[int, str | None] = {
        item_id: "ServiceTitan did not answer for this record" for item_id in asked
    }
    if not isinstance(answer, list):
        raise StApiError(f"the write-back call answered {str(answer)[:200]} instead of a list")
    for item in answer:
        if not isinstance(item, dict) or not isinstance(item.get(key), int):
            continue
        if item.get("success") is True:
            results[item[key]] = None
        else:
            results[item[key]] = str(item.get("errorMessage") or "refused without a reason")
    return results


def _explain(status: int, url: str, answer: httpx.Response, method: str = "GET") -> str:
    detail = _detail(answer)
    what = {
        400: "ServiceTitan rejected the request",
        401: "ServiceTitan refused the access token twice; check the app's API access",
        403: (
            "ServiceTitan forbids this call: the tenant may lack the module or the ST-App-Key "
            "may be wrong"
        ),
        404: "not found: check ST_TENANT and ST_API_BASE_URL",
        409: "ServiceTitan tenant is suspended for maintenance",
        429: "ServiceTitan rate limit reached",
    }.get(status, "ServiceTitan error")
    return f"{method} {url}: HTTP {status}, {what}" + (f" ({detail})" if detail else "")


def _detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text.strip()[:200]
    if isinstance(body, dict):
        parts = [str(body.get("title") or body.get("error") or "")]
        errors = body.get("errors")
        if isinstance(errors, dict):
            parts += [f"{key}: {'; '.join(map(str, value))}" for key, value in errors.items()]
        return "; ".join(part for part in parts if part)
    return str(body)[:200]
