"""`POST /webhooks/servicetitan/{tenant}`: signed CloudEvents that trigger an immediate poll.

The event is only a nudge: the export feed stays the source of truth, so a lost webhook costs
nothing but latency. ServiceTitan retries a webhook not answered 2xx (10, 30, 60, 300 s), so
the same CloudEvent can arrive again, at any replica: its id is remembered for a day in KV
`st-webhook-ids` (shared, with a TTL) and a repeat is answered 200 "duplicate" without a
poll. An event whose `time` is older than ST_WEBHOOK_TOLERANCE_SECONDS (or more than a minute
in the future) is refused (a replayed capture). Each tenant's HMAC key is its connection's
stored webhook secret, else ST_WEBHOOK_SECRET.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from nats.js.errors import KeyWrongLastSequenceError
from nats.js.kv import KeyValue

from mlconnector.ingest.settings import IngestSettings

log = logging.getLogger(__name__)

MAX_BODY_BYTES = 1024 * 1024


def _refuse(status: int, error: str, detail: str) -> JSONResponse:
    return JSONResponse({"error": error, "detail": detail}, status_code=status)


def signature_of(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_ok(secret: str, body: bytes, presented: str) -> bool:
    presented = presented.strip()
    # Accept the "sha256=<hex>" form other webhook senders use as well as bare hex.
    if presented.lower().startswith("sha256="):
        presented = presented[len("sha256=") :]
    return hmac.compare_digest(signature_of(secret, body), presented.lower())


async def _read_limited(request: Request, limit: int) -> bytes | None:
    """The body, or None as soon as it exceeds `limit` (never buffers more than that)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


FUTURE_SKEW = dt.timedelta(minutes=1)


def event_key(tenant: str, event_id: str) -> str:
    """The KV key of a CloudEvent id (ids may hold any character; keys may not)."""
    return f"{tenant}.{hashlib.sha256(event_id.encode()).hexdigest()[:40]}"


def webhook_router(
    settings: IngestSettings,
    trigger: Callable[[str], object],
    secret_of: Callable[[str], str | None],
    seen: KeyValue | None = None,
    now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    served: Callable[[str], bool] | None = None,
) -> APIRouter:
    """`trigger(tenant)` polls a tenant now; `secret_of(tenant)` is its HMAC key (None:
    webhooks refused); `seen` remembers accepted CloudEvent ids (None: no de-duplication)."""
    router = APIRouter()
    header_name = settings.st_webhook_signature_header
    tolerance = dt.timedelta(seconds=settings.st_webhook_tolerance_seconds)
    is_served = served or (lambda tenant: True)

    async def first_time(tenant: str, event_id: str) -> bool:
        if seen is None:
            return True
        try:
            await seen.create(event_key(tenant, event_id), now().isoformat().encode())
        except KeyWrongLastSequenceError:
            return False
        return True

    @router.post("/webhooks/servicetitan/{tenant}")
    async def receive(tenant: str, request: Request) -> JSONResponse:
        if not is_served(tenant):
            return _refuse(
                404, "unknown_tenant", f"this st-ingest serves no connection of tenant {tenant}"
            )
        body = await _read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return _refuse(
                413, "body_too_large", f"webhook bodies are limited to {MAX_BODY_BYTES} bytes"
            )
        secret = secret_of(tenant)
        if not secret:
            return _refuse(
                401,
                "no_webhook_secret",
                "webhooks are refused: no secret is configured (set ST_WEBHOOK_SECRET, or the "
                "connection's webhook secret, to the key entered in ServiceTitan's settings)",
            )
        presented = request.headers.get(header_name)
        if not presented:
            return _refuse(
                401,
                "missing_signature",
                f"the {header_name} header (HMAC-SHA256 of the body, hex) is missing",
            )
        if not signature_ok(secret, body, presented):
            log.warning("refused a webhook for tenant %s: bad signature", tenant)
            return _refuse(
                401,
                "bad_signature",
                f"the {header_name} header does not match the body's HMAC-SHA256",
            )
        try:
            event = json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            return _refuse(400, "malformed_json", f"the body is not JSON: {exc}")
        problem = _cloudevent_problem(event, tenant)
        if problem:
            return _refuse(400, "not_a_cloudevent", problem)
        stale = _age_problem(event, now(), tolerance)
        if stale:
            log.warning("refused webhook %s for tenant %s: %s", event["id"], tenant, stale)
            return _refuse(400, "stale_event", stale)
        if not await first_time(tenant, str(event["id"])):
            log.info("webhook %s for tenant %s already received: ignored", event["id"], tenant)
            return JSONResponse(
                {"status": "duplicate", "id": event["id"], "type": event["type"]},
                status_code=200,
            )
        log.info("webhook %s (%s) for tenant %s: polling now", event["id"], event["type"], tenant)
        trigger(tenant)
        return JSONResponse(
            {"status": "accepted", "id": event["id"], "type": event["type"]}, status_code=202
        )

    return router


def _age_problem(event: dict[str, Any], now: dt.datetime, tolerance: dt.timedelta) -> str | None:
    """Why the event's `time` makes it unacceptable, or None. CloudEvents makes `time`
    optional; ServiceTitan sends it, and without it freshness cannot be checked."""
    raw = event.get("time")
    if not isinstance(raw, str) or not raw.strip():
        return "the CloudEvent has no 'time': its freshness cannot be checked"
    try:
        when = dt.datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return f"the CloudEvent 'time' {raw!r} is not an RFC 3339 date-time"
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if when < now - tolerance:
        return (
            f"the event is from {when.isoformat()}, older than the "
            f"{tolerance.total_seconds():.0f} s accepted"
        )
    if when > now + FUTURE_SKEW:
        return f"the event is dated in the future ({when.isoformat()})"
    return None


def _cloudevent_problem(event: Any, tenant: str) -> str | None:
    if not isinstance(event, dict):
        return "a CloudEvents 1.0 JSON object is expected"
    missing = [key for key in ("specversion", "id", "type", "source") if not event.get(key)]
    if missing:
        return f"CloudEvents attributes missing: {', '.join(missing)}"
    if str(event["specversion"]) != "1.0":
        return f"unsupported CloudEvents specversion {event['specversion']!r} (expected 1.0)"
    data = event.get("data")
    if isinstance(data, dict) and "tenantId" in data and str(data["tenantId"]) != tenant:
        return f"event is for tenant {data['tenantId']}, posted to tenant {tenant}'s URL"
    return None
