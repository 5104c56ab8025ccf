"""st-ingest as a whole: HTTP server + poll loop + NATS, in-process and as its console entry."""

from __future__ import annotations

import asyncio
import copy
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from nats.js import JetStreamContext

from mlconnector.ingest.main import run
from mlconnector.ingest.settings import IngestSettings
from mlconnector.ingest.webhooks import signature_of
from mlconnector.stsandbox.testing import RunningSandbox, free_port

from .conftest import stored_events

SECRET = "s" * 48


def ingest_env(sandbox: RunningSandbox, nats_url: str, port: int) -> dict[str, str]:
    return {
        "NATS_URL": nats_url,
        "INGEST_HOST": "127.0.0.1",
        "INGEST_PORT": str(port),
        "ST_API_BASE_URL": sandbox.url,
        "ST_AUTH_URL": sandbox.url,
        "ST_CLIENT_ID": "sandbox-client",
        "ST_CLIENT_SECRET": "sandbox-secret",
        "ST_APP_KEY": "sandbox-app-key",
        "ST_TENANT": "1234567",
        "ST_POLL_SECONDS": "3600",
        "ST_WEBHOOK_SECRET": SECRET,
    }


async def wait_for(predicate: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


@pytest.mark.nats
async def test_webhook_triggers_an_immediate_poll(
    sandbox: RunningSandbox, nats_url: str, js: JetStreamContext
) -> None:
    port = free_port()
    settings = IngestSettings.model_validate(ingest_env(sandbox, nats_url, port))
    stop = asyncio.Event()
    service = asyncio.create_task(run(settings, stop))
    base = f"http://127.0.0.1:{port}"
    try:
        async with httpx.AsyncClient(base_url=base, timeout=5) as web:

            async def first_poll_done() -> bool:
                try:
                    health = (await web.get("/healthz")).json()
                except httpx.TransportError:
                    return False
                return bool(health["polls"] >= 1)

            await wait_for(first_poll_done)
            # The demo day: 4 customers, 3 vendors, 5 invoices, 3 payments, 2 bills.
            assert len(await stored_events(js)) == 17

            new = copy.deepcopy(sandbox.store.get("invoices", 5004))
            assert new is not None
            new.update(id=5030, referenceNumber="5030")
            sandbox.store.put("invoices", new)
            event = {
                "specversion": "1.0",
                "id": "evt-1",
                "type": "tn.acc.invoice-posted",
                "source": "https://webhooks.servicetitan.io",
                "time": dt.datetime.now(dt.UTC).isoformat(),
                "data": {"invoice": {"id": 5030}, "tenantId": 1234567, "tenantName": "Demo"},
            }
            body = json.dumps(event).encode()
            answer = await web.post(
                "/webhooks/servicetitan/1234567",
                content=body,
                headers={"X-ST-Signature": signature_of(SECRET, body)},
            )
            assert answer.status_code == 202

            async def published() -> bool:
                return len(await stored_events(js)) == 18

            # The poll interval is an hour: only the webhook can have caused this poll.
            await wait_for(published)
            last = (await stored_events(js))[-1]
            assert last[2]["st_id"] == 5030
            assert last[2]["record"]["total"] == "216.05"
            assert sandbox.store.token_requests == 1
            # ServiceTitan retries a webhook: the same CloudEvent id is not a second nudge.
            polls = (await web.get("/healthz")).json()["polls"]
            again = await web.post(
                "/webhooks/servicetitan/1234567",
                content=body,
                headers={"X-ST-Signature": signature_of(SECRET, body)},
            )
            assert (again.status_code, again.json()["status"]) == (200, "duplicate")
            await asyncio.sleep(0.5)
            assert (await web.get("/healthz")).json()["polls"] == polls
    finally:
        stop.set()
        await asyncio.wait_for(service, 15)


@pytest.mark.nats
def test_console_entry_stops_cleanly_on_sigterm(sandbox: RunningSandbox, nats_url: str) -> None:
    port = free_port()
    env = {**os.environ, **ingest_env(sandbox, nats_url, port)}
    script = str(Path(sys.executable).parent / "mlconnector-st-ingest")
    process = subprocess.Popen([script], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).json()
                if health["polls"] >= 1:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, process.stdout.read() if process.stdout else ""
            assert time.monotonic() < deadline, "st-ingest did not start"
            time.sleep(0.1)
        assert health["lastError"] is None
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=20) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        assert "st-ingest stopped" in output
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_missing_credentials_are_named(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("ST_CLIENT_ID", "ST_CLIENT_SECRET", "ST_APP_KEY"):
        monkeypatch.delenv(name, raising=False)
    settings = IngestSettings.model_validate({"ST_TENANT": "1234567"})
    with pytest.raises(SystemExit) as caught:
        asyncio.run(run(settings))
    assert str(caught.value) == (
        "st-ingest: set ST_CLIENT_ID, ST_CLIENT_SECRET, ST_APP_KEY (ServiceTitan credentials)"
    )
