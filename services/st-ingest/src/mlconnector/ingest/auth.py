"""OAuth2 client credentials against ServiceTitan's auth server, with the token cached.

Token requests are throttled too, and there are no refresh tokens: ask once, reuse until
shortly before `expires_in` runs out, ask again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import httpx

log = logging.getLogger(__name__)


class StAuthError(RuntimeError):
    """The auth server refused our credentials or answered something unusable."""


class TokenProvider:
    def __init__(
        self,
        http: httpx.AsyncClient,
        auth_url: str,
        client_id: str,
        client_secret: str,
        refresh_margin_seconds: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._http = http
        self._url = auth_url.rstrip("/") + "/connect/token"
        self._client_id = client_id
        self._client_secret = client_secret
        self._margin = refresh_margin_seconds
        self._clock = clock
        self._token: str | None = None
        self._expires_at = 0.0
        # Concurrent callers (poll loop and a webhook-triggered poll) share one request.
        self._lock = asyncio.Lock()
        self.requests = 0
        # The scopes the last token carries (space-separated, as the auth server answers).
        self.scope = ""

    async def token(self) -> str:
        async with self._lock:
            if self._token is not None and self._clock() < self._expires_at - self._margin:
                return self._token
            return await self._fetch()

    def invalidate(self) -> None:
        """Forget the cached token (the API said 401: it was revoked or expired early)."""
        self._token = None

    async def _fetch(self) -> str:
        self.requests += 1
        try:
            answer = await self._http.post(
                self._url,
                data={
                    "grant_type": "client_credentials",
                    "client_id": self._client_id,
                    "client_secret": self._client_secret,
                },
            )
        except httpx.TransportError as exc:
            raise StAuthError(
                f"cannot reach the ServiceTitan auth server {self._url}: {exc}"
            ) from exc
        if answer.status_code != 200:
            detail = _error_detail(answer)
            raise StAuthError(
                f"ServiceTitan auth server refused client {self._client_id!r} "
                f"(HTTP {answer.status_code}: {detail}); check ST_CLIENT_ID, ST_CLIENT_SECRET "
                "and ST_AUTH_URL (production and integration have different credentials)"
            )
        try:
            body = answer.json()
            token = str(body["access_token"])
            lifetime = float(body.get("expires_in", 900))
        except (ValueError, KeyError, TypeError) as exc:
            raise StAuthError(
                f"unexpected token answer from {self._url}: {answer.text[:200]}"
            ) from exc
        self._token = token
        self._expires_at = self._clock() + lifetime
        self.scope = str(body.get("scope") or "")
        log.info("got a ServiceTitan access token valid for %.0f s", lifetime)
        return token


def _error_detail(answer: httpx.Response) -> str:
    try:
        body = answer.json()
    except ValueError:
        return answer.text[:200] or answer.reason_phrase
    if isinstance(body, dict) and "error" in body:
        return str(body["error"])
    return str(body)[:200]
