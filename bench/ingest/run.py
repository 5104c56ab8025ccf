"""st-ingest: a 100,000-invoice backfill from the sandbox, beside a bare fetch -> publish loop,
and the calls per second two replicas make through the shared rate limiter.

    uv run --frozen python -m bench.ingest [--invoices N] [--rate-invoices M]
    make bench

Everything runs as it does in production, each its own process: a nats-server (EmbeddedNats,
a free port), the ServiceTitan sandbox (`mlconnector-st-sandbox`, seed `bulk:N`), and two
`mlconnector-st-ingest` replicas; the backfill is asked as `mlconnector backfill` asks it.

1. Throughput (export pages of 500, the sandbox's 60/s limit off so that only ours counts):
   - bare: one loop fetching the invoice export page by page with httpx and publishing each
     record to a bench stream with nats-py (a page's publishes awaited together);
   - st-ingest: two replicas backfilling the same invoices from 2024-01-01 into ST_EVENTS;
     records/s from the backfill's request until the N-th invoice event is stored.
   Printed: both rates and st-ingest's as a ratio of the bare loop's.
2. Rate (pages of 20, M invoices, so that calls, not publishing, are the bottleneck): two
   replicas, the backfill and the regular export feed both backlogged; the sandbox records
   every call's arrival. Printed: the most calls in any one-second window (goal: never above
   60) and the mean calls/s from first to last call (goal: at least 54 while backlogged).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import nats
from nats.js import JetStreamContext
from nats.js.api import StreamConfig

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.streams import KV_ST_STATE, ST_EVENTS, declare_all
from mlconnector.ingest.poller import TRANSACTION_FEEDS
from mlconnector.ingest.state import StState
from mlconnector.stsandbox.testing import free_port

TENANT = "1234567"
SUBJECT = f"st.events.{TENANT}.invoice"
BIN = Path(sys.executable).parent


def _wait_http(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=1) as answer:
                if answer.status == 200:
                    return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


class Sandbox:
    def __init__(self, invoices: int, page_size: int, home: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {
            **os.environ,
            "STSANDBOX_PORT": str(self.port),
            "STSANDBOX_TENANT": TENANT,
            "STSANDBOX_SEED": f"bulk:{invoices}",
            "STSANDBOX_PAGE_SIZE": str(page_size),
            "STSANDBOX_RATE_LIMIT_PER_SECOND": "0",
            "STSANDBOX_LOG_LEVEL": "warning",
        }
        log = (home / f"sandbox-{self.port}.log").open("ab")
        self.process = subprocess.Popen(
            [str(BIN / "mlconnector-st-sandbox")], env=env, stdout=log, stderr=subprocess.STDOUT
        )
        _wait_http(f"{self.url}/healthz")

    def stats(self) -> dict[str, Any]:
        with urllib.request.urlopen(f"{self.url}/_sandbox/stats", timeout=10) as answer:
            body: dict[str, Any] = json.loads(answer.read())
            return body

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=20)


async def bare_loop(sandbox: Sandbox, nats_url: str, expect: int) -> float:
    """records/s of fetch page -> publish every record (awaited together) -> next page."""
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    await js.add_stream(StreamConfig(name="BENCH_BARE", subjects=["bench.bare"]))
    async with httpx.AsyncClient(base_url=sandbox.url, timeout=60) as http:
        token = (
            await http.post(
                "/connect/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": "sandbox-client",
                    "client_secret": "sandbox-secret",
                },
            )
        ).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}", "ST-App-Key": "sandbox-app-key"}
        started = time.perf_counter()
        published = 0
        cursor: str | None = None
        while True:
            params = {"from": cursor} if cursor else {}
            page = (
                await http.get(
                    f"/accounting/v2/tenant/{TENANT}/export/invoices",
                    params=params,
                    headers=headers,
                )
            ).json()
            await asyncio.gather(
                *(js.publish("bench.bare", json.dumps(r).encode()) for r in page["data"])
            )
            published += len(page["data"])
            cursor = page["continueFrom"]
            if not page["hasMore"]:
                break
        elapsed = time.perf_counter() - started
    await js.delete_stream("BENCH_BARE")
    await nc.close()
    assert published == expect, f"bare loop read {published} of {expect}"
    return published / elapsed


async def invoice_count(js: JetStreamContext) -> int:
    info = await js.stream_info(ST_EVENTS.name, subjects_filter=SUBJECT)
    return int((info.state.subjects or {}).get(SUBJECT, 0))


async def st_ingest_backfill(
    sandbox: Sandbox, nats_url: str, expect: int, home: Path, replicas: int = 2
) -> tuple[float, list[subprocess.Popen[bytes]]]:
    nc = await nats.connect(nats_url)
    js = nc.jetstream()
    for stream in (ST_EVENTS.name,):
        with contextlib.suppress(Exception):
            await js.purge_stream(stream)
    await declare_all(js)
    store = await ConnectionStore.open(js)
    connection = Connection.create("bench", TENANT, "bench-qb", "password1")
    await store.put(connection)
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "ST_API_BASE_URL": sandbox.url,
        "ST_AUTH_URL": sandbox.url,
        "ST_CLIENT_ID": "sandbox-client",
        "ST_CLIENT_SECRET": "sandbox-secret",
        "ST_APP_KEY": "sandbox-app-key",
        "ST_TENANT": TENANT,
        "ST_POLL_SECONDS": "0.5",
        "LOG_LEVEL": "WARNING",
    }
    processes = []
    for n in range(replicas):
        log = (home / f"st-ingest-{n}-{sandbox.port}.log").open("ab")
        processes.append(
            subprocess.Popen(  # noqa: ASYNC220 (a fork; the loop only waits meanwhile)
                [str(BIN / "mlconnector-st-ingest")],
                env={**env, "INGEST_PORT": str(free_port())},
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        )
    await asyncio.sleep(2.0)  # both replicas up and idle (nothing after today to read)
    started = time.perf_counter()
    # What `mlconnector backfill bench --from 2024-01-01` does.
    since = dt.date(2024, 1, 1)
    await store.put(connection.model_copy(update={"sync_from": since}))
    state = StState(await js.key_value(KV_ST_STATE), "bench")
    await state.request_backfill(TENANT, since, TRANSACTION_FEEDS)
    deadline = time.monotonic() + 900
    while await invoice_count(js) < expect:
        if time.monotonic() > deadline:
            raise RuntimeError("st-ingest did not finish the backfill in 15 minutes")
        await asyncio.sleep(0.05)
    elapsed = time.perf_counter() - started
    await nc.close()
    return expect / elapsed, processes


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for process in processes:
        process.terminate()
    for process in processes:
        process.wait(timeout=30)


async def main_async(invoices: int, rate_invoices: int) -> None:
    home = Path(tempfile.mkdtemp(prefix="bench-ingest-"))
    with EmbeddedNats(store_dir=home / "nats") as server:
        print(f"bench/ingest: {invoices:,} invoices, 2 st-ingest replicas, logs in {home}")
        sandbox = Sandbox(invoices, 500, home)
        try:
            bare = await bare_loop(sandbox, server.url, invoices)
            print(f"bare fetch -> publish loop     {bare:10,.0f} records/s")
            ours, processes = await st_ingest_backfill(sandbox, server.url, invoices, home)
            stop(processes)
            print(f"st-ingest backfill (2 replicas) {ours:9,.0f} records/s")
            print(f"ratio st-ingest / bare          {ours / bare:10.2f}")
        finally:
            sandbox.stop()
        sandbox = Sandbox(rate_invoices, 20, home)
        try:
            _, processes = await st_ingest_backfill(sandbox, server.url, rate_invoices, home)
            stop(processes)
            stats = sandbox.stats()
        finally:
            sandbox.stop()
        calls = stats["calls"][TENANT]
        span = stats["callSpanSeconds"][TENANT] or 1.0
        worst = stats["maxCallsInAnySecond"][TENANT]
        print(f"rate phase: {rate_invoices:,} invoices in pages of 20, {calls:,} calls")
        print(f"most calls in any one-second window  {worst:5d}   (goal: never above 60)")
        print(f"mean calls/s while backlogged        {calls / span:5.1f}   (goal: at least 54)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--invoices", type=int, default=100_000)
    parser.add_argument("--rate-invoices", type=int, default=20_000)
    args = parser.parse_args()
    asyncio.run(main_async(args.invoices, args.rate_invoices))
