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


class StClient:
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
        self.retries = 0

    def _backoff(self, attempt: int) -> float:
        # "Equal jitter": at least half the exponential step, so a retry never fires at once,
        # and the random half keeps many clients from retrying in lockstep.
        step = min(self._backoff_max, self._backoff_base * 2.0**attempt)
        return step / 2 + self._rng() * step / 2

    async def get_json(self, path: str, params: dict[str, str] | None = None) -> Any:
        url = self._base + path.format(tenant=self.tenant)
        reauthenticated = False
        attempt = 0
        while True:
            token = await self._tokens.token()
            headers = {"Authorization": f"Bearer {token}", "ST-App-Key": self._app_key}
            try:
                answer = await self._http.get(url, params=params, headers=headers)
            except httpx.TransportError as exc:
                problem = f"cannot reach ServiceTitan ({type(exc).__name__}: {exc})"
                delay = self._backoff(attempt)
                status: int | None = None
            else:
                if answer.status_code == 200:
                    try:
                        return answer.json()
                    except ValueError as exc:
                        raise StApiError(
                            f"GET {url} answered 200 with a body that is not JSON", 200, url
                        ) from exc
                status = answer.status_code
                if status == 401 and not reauthenticated:
                    # A token can be revoked before it expires: get a new one, once.
                    self._tokens.invalidate()
                    reauthenticated = True
                    continue
                if status not in RETRYABLE:
                    raise StApiError(_explain(status, url, answer), status, url)
                asked = retry_after_seconds(answer)
                delay = (
                    min(asked, self._backoff_max) if asked is not None else self._backoff(attempt)
                )
                problem = _explain(status, url, answer)
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


def _explain(status: int, url: str, answer: httpx.Response) -> str:
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
    return f"GET {url}: HTTP {status}, {what}" + (f" ({detail})" if detail else "")


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
