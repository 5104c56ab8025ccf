"""Webhook signature, size and format checks (ASGI, no network needed)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from mlconnector.ingest.app import create_app
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.webhooks import MAX_BODY_BYTES, signature_of

SECRET = "k" * 40
# The clock the app sees: a minute after the event was sent.
NOW = dt.datetime(2025, 3, 14, 22, 1, 1, tzinfo=dt.UTC)
URL = "/webhooks/servicetitan/1234567"

EVENT: dict[str, Any] = {
    "specversion": "1.0",
    "id": "7f1d7a58-5c1a-4b53-9d8e-2d1b0b1f0a01",
    "type": "tn.acc.invoice-posted",
    "time": "2025-03-14T22:00:01Z",
    "source": "https://webhooks.servicetitan.io",
    "userassignedid": "invoice-posted",
    "datacontenttype": "application/json",
    "data": {"invoice": {"id": 5001}, "tenantId": 1234567, "tenantName": "Sandbox Plumbing"},
}


def settings(secret: str | None = SECRET, header: str = "X-ST-Signature") -> IngestSettings:
    return IngestSettings.model_validate(
        {
            "ST_TENANT": "1234567",
            "ST_WEBHOOK_SECRET": SecretStr(secret) if secret is not None else None,
            "ST_WEBHOOK_SIGNATURE_HEADER": header,
        }
    )


class Triggers(list[str]):
    def __call__(self, tenant: str) -> None:
        self.append(tenant)


@pytest.fixture
def triggers() -> Triggers:
    return Triggers()


@pytest.fixture
async def web(triggers: Triggers) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(settings(), triggers, now=lambda: NOW)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://ingest") as client:
        yield client


def signed(body: bytes, secret: str = SECRET) -> dict[str, str]:
    return {"X-ST-Signature": signature_of(secret, body), "Content-Type": "application/json"}


async def test_good_signature_triggers_poll(web: httpx.AsyncClient, triggers: Triggers) -> None:
    body = json.dumps(EVENT).encode()
    answer = await web.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 202
    assert answer.json() == {
        "status": "accepted",
        "id": EVENT["id"],
        "type": "tn.acc.invoice-posted",
    }
    assert triggers == ["1234567"]
    prefixed = {"X-ST-Signature": "sha256=" + signature_of(SECRET, body).upper()}
    assert (await web.post(URL, content=body, headers=prefixed)).status_code == 202


async def test_bad_signature(web: httpx.AsyncClient, triggers: Triggers) -> None:
    body = json.dumps(EVENT).encode()
    answer = await web.post(URL, content=body, headers=signed(body, secret="x" * 40))
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "bad_signature",
        "detail": "the X-ST-Signature header does not match the body's HMAC-SHA256",
    }
    tampered = body.replace(b"5001", b"5002")
    assert (await web.post(URL, content=tampered, headers=signed(body))).status_code == 401
    assert triggers == []


async def test_missing_signature(web: httpx.AsyncClient, triggers: Triggers) -> None:
    answer = await web.post(URL, content=json.dumps(EVENT).encode())
    assert answer.status_code == 401
    assert answer.json() == {
        "error": "missing_signature",
        "detail": "the X-ST-Signature header (HMAC-SHA256 of the body, hex) is missing",
    }
    assert triggers == []


async def test_no_secret_configured_refuses(triggers: Triggers) -> None:
    app = create_app(settings(secret=None), triggers, now=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as web:
        body = json.dumps(EVENT).encode()
        answer = await web.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 401
    assert answer.json()["error"] == "no_webhook_secret"
    assert "no secret is configured" in answer.json()["detail"]
    assert triggers == []


async def test_configurable_header_name(triggers: Triggers) -> None:
    app = create_app(settings(header="ST-Signature"), triggers, now=lambda: NOW)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://ingest"
    ) as web:
        body = json.dumps(EVENT).encode()
        answer = await web.post(
            URL, content=body, headers={"ST-Signature": signature_of(SECRET, body)}
        )
    assert answer.status_code == 202
    assert triggers == ["1234567"]


async def test_malformed_json_is_400(web: httpx.AsyncClient, triggers: Triggers) -> None:
    body = b'{"specversion": "1.0", '
    answer = await web.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 400
    assert answer.json()["error"] == "malformed_json"
    not_event = json.dumps({"hello": "world"}).encode()
    answer = await web.post(URL, content=not_event, headers=signed(not_event))
    assert answer.status_code == 400
    assert answer.json() == {
        "error": "not_a_cloudevent",
        "detail": "CloudEvents attributes missing: specversion, id, type, source",
    }
    other = json.dumps({**EVENT, "data": {**EVENT["data"], "tenantId": 42}}).encode()
    answer = await web.post(URL, content=other, headers=signed(other))
    assert answer.status_code == 400
    assert answer.json()["detail"] == "event is for tenant 42, posted to tenant 1234567's URL"
    assert triggers == []


async def test_oversized_body_is_413(web: httpx.AsyncClient, triggers: Triggers) -> None:
    body = b"{" + b" " * MAX_BODY_BYTES + b"}"
    answer = await web.post(URL, content=body, headers=signed(body))
    assert answer.status_code == 413
    assert answer.json()["error"] == "body_too_large"

    async def chunks() -> AsyncIterator[bytes]:
        # No Content-Length: the limit must hold while streaming too.
        for _ in range(20):
            yield b" " * 65536

    answer = await web.post(URL, content=chunks(), headers={"X-ST-Signature": "00"})
    assert answer.status_code == 413
    assert triggers == []


async def test_unknown_tenant_is_404(web: httpx.AsyncClient) -> None:
    body = json.dumps(EVENT).encode()
    answer = await web.post("/webhooks/servicetitan/999", content=body, headers=signed(body))
    assert answer.status_code == 404
    assert answer.json()["error"] == "unknown_tenant"


async def test_healthz(web: httpx.AsyncClient) -> None:
    answer = await web.get("/healthz")
    assert answer.json() == {"status": "ok", "tenant": "1234567"}
