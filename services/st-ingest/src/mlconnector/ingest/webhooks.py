"""`POST /webhooks/servicetitan/{tenant}`: signed CloudEvents that trigger an immediate poll.

The event is only a nudge: the export feed stays the source of truth, so a lost or repeated
webhook costs nothing but latency.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

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


def webhook_router(settings: IngestSettings, trigger: Callable[[str], None]) -> APIRouter:
    router = APIRouter()
    header_name = settings.st_webhook_signature_header

    @router.post("/webhooks/servicetitan/{tenant}")
    async def receive(tenant: str, request: Request) -> JSONResponse:
        if tenant != settings.st_tenant:
            return _refuse(
                404,
                "unknown_tenant",
                f"this st-ingest serves tenant {settings.st_tenant}, not {tenant}",
            )
        body = await _read_limited(request, MAX_BODY_BYTES)
        if body is None:
            return _refuse(
                413, "body_too_large", f"webhook bodies are limited to {MAX_BODY_BYTES} bytes"
            )
        if settings.st_webhook_secret is None or not settings.st_webhook_secret.get_secret_value():
            return _refuse(
                401,
                "no_webhook_secret",
                "webhooks are refused: no secret is configured (set ST_WEBHOOK_SECRET to the "
                "key entered in ServiceTitan's webhook settings)",
            )
        presented = request.headers.get(header_name)
        if not presented:
            return _refuse(
                401,
                "missing_signature",
                f"the {header_name} header (HMAC-SHA256 of the body, hex) is missing",
            )
        if not signature_ok(settings.st_webhook_secret.get_secret_value(), body, presented):
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
        log.info("webhook %s (%s) for tenant %s: polling now", event["id"], event["type"], tenant)
        trigger(tenant)
        return JSONResponse(
            {"status": "accepted", "id": event["id"], "type": event["type"]}, status_code=202
        )

    return router


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
