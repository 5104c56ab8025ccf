"""st-ingest's ServiceTitan side over a real nats-server and the sandbox over HTTP: write-back
of posted records, QuickBooks changes written without echo, many tenants, the shared rate
limiter; every call checked against ServiceTitan's OpenAPI documents."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
from nats.aio.client import Client
from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.credentials import KEY_ENV, CredentialStore, StCredentials, new_key
from mlconnector.common.envelopes import Outcome, QbChange, SessionReport
from mlconnector.common.idmap import IdMap
from mlconnector.common.streams import (
    KV_RATE_LIMITS,
    ST_EVENTS,
    change_subject,
    outcome_subject,
    session_subject,
)
from mlconnector.ingest.limiter import SharedRateLimiter
from mlconnector.ingest.main import run
from mlconnector.ingest.settings import IngestSettings
from mlconnector.stsandbox.openapi import exchange_errors
from mlconnector.stsandbox.seed import DAY
from mlconnector.stsandbox.settings import SandboxSettings
from mlconnector.stsandbox.testing import RunningSandbox, free_port

TENANT = "1234567"
DAY_START = dt.datetime(2025, 3, 14, 22, tzinfo=dt.UTC)
pytestmark = pytest.mark.nats


def checked(sandbox: RunningSandbox) -> list[str]:
    return [
        problem
        for x in sandbox.exchanges
        for problem in exchange_errors(x.method, x.path, x.query, x.request, x.status, x.response)
    ]


async def until(predicate: Callable[[], Awaitable[bool]], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not await predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.05)


async def subjects(js: JetStreamContext, prefix: str) -> list[tuple[str, dict[str, Any]]]:
    info = await js.stream_info(ST_EVENTS.name)
    found: list[tuple[str, dict[str, Any]]] = []
    if info.state.messages == 0:
        return found
    for seq in range(info.state.first_seq, info.state.last_seq + 1):
        msg = await js.get_msg(ST_EVENTS.name, seq)
        if str(msg.subject).startswith(prefix):
            found.append((str(msg.subject), json.loads(msg.data or b"{}")))
    return found


@pytest.fixture
def sandbox() -> Any:
    with RunningSandbox(SandboxSettings(page_size=50, record_exchanges=True)) as running:
        yield running


async def add_connection(nc: Client, name: str, tenant: str, **mapping: Any) -> Connection:
    store = await ConnectionStore.open(nc.jetstream())
    connection = Connection.create(name, tenant, f"{name}-qb", "password1")
    connection = connection.model_copy(
        update={
            # The demo day's bills are dated earlier in the month.
            "sync_from": DAY.replace(day=1),
            "mapping": connection.mapping.model_copy(update=mapping),
        }
    )
    await store.put(connection)
    return connection


def ingest_settings(nats_url: str, **extra: str) -> IngestSettings:
    return IngestSettings.model_validate(
        {
            "NATS_URL": nats_url,
            "INGEST_PORT": str(free_port()),
            "ST_POLL_SECONDS": "0.5",
            "ST_CONNECTIONS_REFRESH_SECONDS": "0.5",
            "ST_WRITEBACK_RETRY_SECONDS": "0.2",
            **extra,
        }
    )


def env_tenant(sandbox: RunningSandbox) -> dict[str, str]:
    return {
        "ST_API_BASE_URL": sandbox.url,
        "ST_AUTH_URL": sandbox.url,
        "ST_CLIENT_ID": "sandbox-client",
        "ST_CLIENT_SECRET": "sandbox-secret",
        "ST_APP_KEY": "sandbox-app-key",
        "ST_TENANT": TENANT,
    }


@pytest.fixture
async def running() -> AsyncIterator[Callable[[IngestSettings], Awaitable[None]]]:
    tasks: list[tuple[asyncio.Event, asyncio.Task[None]]] = []

    async def start(settings: IngestSettings) -> None:
        stop = asyncio.Event()
        tasks.append((stop, asyncio.create_task(run(settings, stop))))

    yield start
    for stop, task in tasks:
        stop.set()
        await asyncio.wait_for(task, 30)


def outcome(entity: str, st_id: int, status: str, qb_id: str | None, **extra: Any) -> Outcome:
    return Outcome(
        command_id=f"cmd-{entity}-{st_id}",
        attempt=1,
        connection="acme",
        tenant=TENANT,
        entity=entity,  # type: ignore[arg-type]
        st_id=st_id,
        event_id=f"{TENANT}:{entity}:{st_id}:v",
        status=status,  # type: ignore[arg-type]
        qb_id=qb_id,
        **extra,
    )


async def publish(js: JetStreamContext, subject: str, body: bytes, msg_id: str) -> None:
    await js.publish(subject, body, headers={"Nats-Msg-Id": msg_id})


async def test_posted_records_are_marked_exported_in_servicetitan(
    sandbox: RunningSandbox,
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    running: Callable[[IngestSettings], Awaitable[None]],
) -> None:
    await add_connection(nc, "acme", TENANT)
    # 5002 is refused once (an open batch): retried, then marked.
    sandbox.store.refuse("invoices", 5002, "Invoice is in an open batch")
    sandbox.store.refuse("invoices", 5003, "Invoice is locked", times=99)
    for o in (
        outcome("invoice", 5001, "posted", "1A2B-1"),
        outcome("invoice", 5002, "differs", "1A2C-1"),
        outcome("invoice", 5003, "posted", "1A2D-1"),
        outcome("bill", 6001, "posted", "2B01-1"),
        outcome("payment", 9001, "posted", "3C01-1"),
        # Not in QuickBooks, or not the record itself: nothing to write back.
        outcome("invoice", 5004, "failed", None),
        outcome("invoice", 5006, "posted", "9999-1", prerequisite=True),
    ):
        await publish(js, outcome_subject("acme"), o.model_dump_json().encode(), o.outcome_id)
    report = SessionReport(connection="acme", started_at=DAY_START, result="ok")
    await publish(js, session_subject("acme"), report.model_dump_json().encode(), "s1")
    await running(ingest_settings(nats_url, **env_tenant(sandbox), ST_WRITEBACK_ATTEMPTS="3"))

    async def settled() -> bool:
        writes = await subjects(js, "st.writeback.")
        return sum(1 for _, w in writes if w["status"] in ("done", "failed")) == 5

    await until(settled)
    store = sandbox.store
    assert store.exported == {
        5001: ("1A2B-1", "Posted to QuickBooks Desktop by ml-connector (TxnID 1A2B-1)"),
        5002: (
            "1A2C-1",
            "Posted to QuickBooks Desktop by ml-connector (TxnID 1A2C-1); QuickBooks "
            "computed other amounts, see the audit trail",
        ),
    }
    status = {i: store.get("invoices", i)["syncStatus"] for i in (5001, 5002, 5003, 5004, 5006)}  # type: ignore[index]
    assert status == {
        5001: "Exported",
        5002: "Exported",
        5003: "Posted",
        5004: "Posted",
        5006: "Posted",
    }
    assert store.get("inventory-bills", 6001)["syncStatus"] == "PostedAndExported"  # type: ignore[index]
    assert store.get("payments", 9001)["syncStatus"] == "Exported"  # type: ignore[index]
    writes = [
        (w["entity"], w["st_id"], w["status"], w["attempt"])
        for _, w in await subjects(js, "st.writeback.")
    ]
    assert sorted(writes) == sorted(
        [
            ("invoice", 5001, "done", 1),
            ("invoice", 5002, "retrying", 1),
            ("invoice", 5002, "done", 2),
            ("invoice", 5003, "retrying", 1),
            ("invoice", 5003, "retrying", 2),
            ("invoice", 5003, "failed", 3),
            ("bill", 6001, "done", 1),
            ("payment", 9001, "done", 1),
        ]
    )
    failed = next(w for _, w in await subjects(js, "st.writeback.") if w["status"] == "failed")
    assert failed["error"] == (
        "ServiceTitan did not mark invoice 5003 exported: Invoice is locked. QuickBooks has it "
        "(TxnID 1A2D-1); mark it exported in ServiceTitan by hand if this persists."
    )
    # The exported versions come back through the export feed: not published again.
    events = await subjects(js, "st.events.")
    invoices = [e for _, e in events if e["entity"] == "invoice"]
    assert len({e["st_id"] for e in invoices}) == len(invoices)
    assert {e["raw"]["syncStatus"] for e in invoices} == {"Posted"}
    posts = [x for x in sandbox.exchanges if x.method == "POST" and x.path != "/connect/token"]
    assert {x.path.rsplit("/", 2)[-2] + "/" + x.path.rsplit("/", 1)[-1] for x in posts} == {
        "invoices/markasexported",
        "inventory-bills/markasexported",
        "payments/status",
    }
    assert checked(sandbox) == []


async def test_quickbooks_changes_reach_servicetitan_and_never_come_back(
    sandbox: RunningSandbox,
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    running: Callable[[IngestSettings], Awaitable[None]],
) -> None:
    await add_connection(nc, "acme", TENANT, create_in_servicetitan=True)
    # The customer posted earlier: its outcome links ListID 80000001-1 to ServiceTitan 1001.
    posted = outcome("customer", 1001, "posted", "80000001-1", edit_sequence="100")
    await publish(js, outcome_subject("acme"), posted.model_dump_json().encode(), "o1")
    await running(ingest_settings(nats_url, **env_tenant(sandbox)))

    async def first_poll() -> bool:
        return len(await subjects(js, "st.events.")) == 17

    await until(first_poll)
    customer = sandbox.store.get("customers", 1001)
    assert customer is not None
    edited = QbChange(
        connection="acme",
        entity="customer",
        list_id="80000001-1",
        edit_sequence="200",
        name="Hernandez, Maria",
        data={
            "address": {
                "Addr1": "Hernandez, Maria",
                "Addr2": "77 Oak Lane",
                "City": "Austin",
                "State": "TX",
                "PostalCode": "78704",
                "Country": "USA",
            }
        },
    )
    vendor = QbChange(
        connection="acme",
        entity="vendor",
        list_id="80000002-1",
        edit_sequence="300",
        name="Ferguson Plumbing Supply",
        data={"st_id": 7101, "phone": "512-555-0199"},
    )
    new = QbChange(
        connection="acme",
        entity="customer",
        list_id="80000009-1",
        edit_sequence="400",
        name="Nguyen, Linh",
        data={
            "address": {
                "Addr1": "Nguyen, Linh",
                "Addr2": "5 Pecan St",
                "City": "Austin",
                "State": "TX",
                "PostalCode": "78701",
                "Country": "USA",
            }
        },
    )
    # The first change comes twice (a redelivery past JetStream's de-duplication): once.
    for change, msg_id in (
        (edited, edited.change_id),
        (vendor, vendor.change_id),
        (new, new.change_id),
        (edited, edited.change_id + ":again"),
    ):
        await publish(
            js, change_subject("acme", change.entity), change.model_dump_json().encode(), msg_id
        )

    async def written() -> bool:
        writes = await subjects(js, "st.writeback.")
        return len([w for _, w in writes if w["status"] == "done"]) == 3

    await until(written)
    after = sandbox.store.get("customers", 1001)
    assert after is not None
    assert after["address"]["street"] == "77 Oak Lane"
    assert after["address"]["zip"] == "78704"
    # Unchanged fields keep ServiceTitan's values (the name, the coordinates).
    assert after["name"] == customer["name"]
    assert after["address"]["latitude"] == customer["address"]["latitude"]
    assert sandbox.store.get("vendors", 7101)["contactInfo"]["phone"] == "512-555-0199"  # type: ignore[index]
    created = [c for c in sandbox.store.all("customers") if c["name"] == "Nguyen, Linh"]
    assert len(created) == 1
    mapping = await (await IdMap.open(js)).get("acme", "customer", created[0]["id"])
    assert mapping is not None
    assert mapping.qb_id == "80000009-1"
    patches = [x for x in sandbox.exchanges if x.method == "PATCH"]
    assert [x.request for x in patches] == [
        {
            "address": {
                **{k: customer["address"][k] for k in ("latitude", "longitude")},
                "street": "77 Oak Lane",
                "unit": "",
                "city": "Austin",
                "state": "TX",
                "zip": "78704",
                "country": "USA",
            }
        },
        {"phone": "512-555-0199"},
    ]
    # Polls after the writes read the new versions: none becomes an event (no ping-pong).
    polls_before = len(sandbox.exchanges)
    await until(lambda: _more_polls(sandbox, polls_before))
    events = await subjects(js, "st.events.")
    assert len(events) == 17
    assert checked(sandbox) == []


async def _more_polls(sandbox: RunningSandbox, before: int) -> bool:
    exports = [x for x in sandbox.exchanges[before:] if "/export/customers" in x.path]
    vendors = [x for x in sandbox.exchanges[before:] if x.path.endswith("/vendors")]
    return len(exports) >= 2 and len(vendors) >= 2


async def test_three_tenants_in_one_process_one_with_wrong_credentials(
    sandbox: RunningSandbox,
    nc: Client,
    js: JetStreamContext,
    nats_url: str,
    running: Callable[[IngestSettings], Awaitable[None]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(KEY_ENV, new_key())
    sandbox.add_tenant("2000002", "bolt-client", "bolt-secret")
    sandbox.add_tenant("3000003", "crux-client", "crux-secret")
    creds = await CredentialStore.open(js)
    for name, tenant, client, secret in (
        ("acme", TENANT, "sandbox-client", "sandbox-secret"),
        ("bolt", "2000002", "bolt-client", "bolt-secret"),
        ("crux", "3000003", "crux-client", "not-the-secret"),
    ):
        await add_connection(nc, name, tenant)
        await creds.put(
            name,
            StCredentials.model_validate(
                {
                    "client_id": client,
                    "client_secret": secret,
                    "app_key": "sandbox-app-key",
                    "api_base_url": sandbox.url,
                    "auth_url": sandbox.url,
                }
            ),
        )
    # At rest the secrets are not readable.
    stored = await creds.token("crux")
    assert stored is not None
    assert b"not-the-secret" not in stored
    settings = ingest_settings(nats_url)
    await running(settings)

    async def synced() -> bool:
        events = await subjects(js, "st.events.")
        tenants = [e["tenant"] for _, e in events]
        reports = await subjects(js, "st.feeds.3000003.")
        return tenants.count(TENANT) == 17 and tenants.count("2000002") == 17 and len(reports) == 5

    await until(synced, 40)
    reports = await subjects(js, "st.feeds.")
    crux = [r for _, r in reports if r["tenant"] == "3000003"]
    assert sorted(r["entity"] for r in crux) == ["bill", "customer", "invoice", "payment", "vendor"]
    assert {r["state"] for r in crux} == {"unauthorized"}
    assert all("invalid_client" in r["error"] for r in crux)
    assert all(r["tenant"] == "3000003" for _, r in reports if r["state"] != "ok")
    async with httpx.AsyncClient() as http:
        health = (await http.get(f"http://127.0.0.1:{settings.port}/healthz")).json()
    assert health["status"] == "degraded"
    assert set(health["tenants"]) == {TENANT, "2000002", "3000003"}
    assert all(
        f["state"] == "ok"
        for t in (TENANT, "2000002")
        for f in health["tenants"][t]["feeds"].values()
    )
    assert all(f["state"] == "unauthorized" for f in health["tenants"]["3000003"]["feeds"].values())
    assert "not-the-secret" not in json.dumps(health)
    assert checked(sandbox) == []


async def test_shared_limiter_never_grants_more_than_the_limit_in_a_window(
    js: JetStreamContext,
) -> None:
    kv = await js.key_value(KV_RATE_LIMITS)
    # Two replicas (two limiters on the same key), many callers each.
    replicas = [SharedRateLimiter(kv, TENANT, limit=20, window=0.5) for _ in range(2)]
    grants: list[float] = []

    async def caller(limiter: SharedRateLimiter) -> None:
        for _ in range(15):
            # The grant's own time: what the window counts (a clock read after the call
            # returns would add the KV round trip's varying delay).
            grants.append(await limiter.acquire())

    await asyncio.gather(*(caller(replicas[n % 2]) for n in range(6)))
    grants.sort()
    assert len(grants) == 90
    worst = max(sum(1 for g in grants if start <= g < start + 0.5) for start in grants)
    assert worst <= 20
    assert sum(r.granted for r in replicas) == 90
