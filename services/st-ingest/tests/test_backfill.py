"""A 10,000-invoice backfill with st-ingest killed in the middle: every invoice once, none
skipped, none repeated. st-ingest runs as its console entry; the backfill is asked with the
`mlconnector backfill` command."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.streams import ST_EVENTS
from mlconnector.stsandbox.seed import BULK_INVOICE_BASE_ID
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox, free_port

pytestmark = [pytest.mark.nats, pytest.mark.e2e]
# The processes are started from the async test (it shares the event loop with the NATS
# fixtures); starting them blocks for milliseconds.
# ruff: noqa: ASYNC220, ASYNC221
COUNT = 10_000
SUBJECT = "st.events.1234567.invoice"
BIN = Path(sys.executable).parent


async def invoice_count(js: JetStreamContext) -> int:
    info = await js.stream_info(ST_EVENTS.name, subjects_filter=SUBJECT)
    return int((info.state.subjects or {}).get(SUBJECT, 0))


async def test_backfill_survives_a_kill_in_the_middle(
    nc: Client, js: JetStreamContext, nats_url: str, tmp_path: Path
) -> None:
    store = await ConnectionStore.open(js)
    # Created today: the 2024 invoices are before its start and not read without a backfill.
    await store.put(Connection.create("acme", "1234567", "acme-qb", "password1"))
    with RunningSandbox(SandboxSettings(seed=f"bulk:{COUNT}", page_size=50)) as sandbox:
        env = {
            **os.environ,
            "NATS_URL": nats_url,
            "INGEST_PORT": str(free_port()),
            "ST_API_BASE_URL": sandbox.url,
            "ST_AUTH_URL": sandbox.url,
            "ST_CLIENT_ID": "sandbox-client",
            "ST_CLIENT_SECRET": "sandbox-secret",
            "ST_APP_KEY": "sandbox-app-key",
            "ST_TENANT": "1234567",
            "ST_POLL_SECONDS": "0.5",
            "MLCONNECTOR_HOME": str(tmp_path),
        }
        asked = subprocess.run(
            [str(BIN / "mlconnector"), "backfill", "acme", "--from", "2024-01-01"],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert asked.returncode == 0, asked.stderr
        assert "Backfill of tenant 1234567 from 2024-01-01 asked" in asked.stdout
        log = (tmp_path / "ingest.log").open("ab")
        first = subprocess.Popen(
            [str(BIN / "mlconnector-st-ingest")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        try:
            deadline = time.monotonic() + 120
            while await invoice_count(js) < 3_000:
                assert first.poll() is None, (tmp_path / "ingest.log").read_text()[-2000:]
                assert time.monotonic() < deadline, "the backfill did not start"
                await asyncio.sleep(0.02)
            first.send_signal(signal.SIGKILL)  # no goodbye: mid-page, acks in flight
            first.wait(timeout=10)
            killed_at = await invoice_count(js)
            assert 3_000 <= killed_at < COUNT
            second = subprocess.Popen(
                [str(BIN / "mlconnector-st-ingest")], env=env, stdout=log, stderr=subprocess.STDOUT
            )
            try:
                deadline = time.monotonic() + 180
                while await invoice_count(js) < COUNT:
                    assert second.poll() is None
                    assert time.monotonic() < deadline, "the backfill did not finish"
                    await asyncio.sleep(0.1)
                await asyncio.sleep(2.0)  # a few more polls: nothing more may come
            finally:
                second.send_signal(signal.SIGTERM)
                second.wait(timeout=30)
        finally:
            if first.poll() is None:
                first.kill()
    assert await invoice_count(js) == COUNT
    info = await js.stream_info(ST_EVENTS.name)
    ids: list[int] = []
    sources: set[str] = set()
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(ST_EVENTS.name, seq)
        if msg.subject == SUBJECT:
            event = json.loads(msg.data or b"{}")
            ids.append(event["st_id"])
            sources.add(event["source"])
    assert len(ids) == COUNT  # none repeated
    assert set(ids) == {BULK_INVOICE_BASE_ID + n for n in range(1, COUNT + 1)}  # none skipped
    # The start date moved back too, so the regular feed read the same pages: still once each.
    assert sources <= {"backfill", "export"}
