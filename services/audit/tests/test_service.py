"""Audit over a real nats-server and real HTTP: consumers, API, dashboard, replay."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from audit_factories import CONN, TENANT, command_for, invoice_event, outcome_for
from nats.js import JetStreamContext

from mlconnector.audit.api import create_app
from mlconnector.audit.consumer import AuditConsumers
from mlconnector.audit.db import AuditDb
from mlconnector.audit.main import _Server
from mlconnector.audit.pages.layout import COLOURS
from mlconnector.audit.settings import AuditSettings
from mlconnector.audit.tables import CommandRow, EventRow, OutcomeRow, RejectionRow
from mlconnector.audit.writes import Incoming
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, StEvent, StRejection
from mlconnector.common.streams import (
    command_subject,
    outcome_subject,
    st_event_subject,
    st_rejected_subject,
    writeback_subject,
)
from mlconnector.mapper.service import MapperService
from mlconnector.mapper.settings import MapperSettings

pytestmark = pytest.mark.nats


async def eventually(check: Callable[[], Awaitable[bool]], within: float = 10) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not await check():
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def rows(db: AuditDb, table: type) -> int:
    from sqlalchemy import func, select

    async with db.sessions() as session:
        return int((await session.execute(select(func.count()).select_from(table))).scalar_one())


class Running:
    def __init__(self, base_url: str, db: AuditDb, js: JetStreamContext, nats_url: str) -> None:
        self.base_url = base_url
        self.nats_url = nats_url
        self.db = db
        self.js = js

    async def idle(self) -> bool:
        # The ack floor reaching each stream's last message, not only "nothing pending": a
        # consumer's pending count is updated just after a publish is acknowledged, so right
        # after one it can look idle before it has seen the message.
        for stream in ("ST_EVENTS", "QB_COMMANDS", "QB_OUTCOMES", "QB_CHANGES"):
            last = (await self.js.stream_info(stream)).state.last_seq
            info = await self.js.consumer_info(stream, "audit")
            if info.ack_floor.stream_seq < last or info.num_pending or info.num_ack_pending:
                return False
        return True


@pytest.fixture
async def audit(nats_url: str, js: JetStreamContext, sqlite_db: AuditDb) -> AsyncIterator[Running]:
    settings = AuditSettings(
        NATS_URL=nats_url, AUDIT_FETCH_TIMEOUT_SECONDS=0.2, AUDIT_RETRY_DELAY_SECONDS=0.2
    )
    consumers = AuditConsumers(sqlite_db, settings)
    await consumers.start()
    server = _Server(
        uvicorn.Config(
            create_app(sqlite_db, consumers.js),
            host="127.0.0.1",
            port=0,
            log_level="warning",
            lifespan="off",
        )
    )
    web = asyncio.create_task(server.serve())
    await eventually(lambda: asyncio.sleep(0, result=server.started))
    port = server.servers[0].sockets[0].getsockname()[1]
    yield Running(f"http://127.0.0.1:{port}", sqlite_db, js, nats_url)
    server.should_exit = True
    await asyncio.wait_for(web, timeout=10)
    await asyncio.wait_for(consumers.stop(), timeout=20)


async def publish(js: JetStreamContext, subject: str, model: Any, msg_id: str) -> None:
    await js.publish(subject, model.model_dump_json().encode(), headers={"Nats-Msg-Id": msg_id})


async def test_posted_record_over_http(js: JetStreamContext, audit: Running) -> None:
    event = invoice_event()
    command = command_for(event)
    outcome = outcome_for(command)
    await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await publish(js, command_subject(CONN), command, command.command_id)
    await publish(js, outcome_subject(CONN), outcome, outcome.outcome_id)
    # Delivered twice (a gateway that republished after a crash, past de-duplication).
    await publish(js, outcome_subject(CONN), outcome, outcome.outcome_id + ":again")
    await eventually(audit.idle)

    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        response = await client.get("/api/records", params={"connection": CONN})
        assert response.status_code == 200
        [record] = response.json()
        assert (record["status"], record["qb_id"], record["entity"], record["st_id"]) == (
            "posted",
            "1A2B-1714651200",
            "invoice",
            5001,
        )
        trail = (await client.get(f"/api/records/{record['id']}")).json()
        assert [i["kind"] for i in trail["trail"]] == ["event", "command", "outcome"]
        assert trail["events"][0]["raw"]["raw"] == {"id": 5001}
        assert trail["commands"][0]["qbxml"] == "<InvoiceAddRq><x/></InvoiceAddRq>"
        assert trail["outcomes"][0]["response_qbxml"] == "<QBXML>response</QBXML>"
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        assert (await client.get("/api/records/999")).status_code == 404
        page = await client.get("/")
        assert page.status_code == 200
        assert "1A2B-1714651200" in page.text
        assert "#2e7d32" in page.text
        assert "http://" not in page.text
        assert "https://" not in page.text
        detail = await client.get(f"/records/{record['id']}")
        # The qbXML pretty-printed, folded under what it is.
        assert (
            "<details><summary>qbXML to send (InvoiceAddRq)</summary>"
            "<pre>&lt;InvoiceAddRq&gt;\n  &lt;x/&gt;\n&lt;/InvoiceAddRq&gt;</pre></details>"
        ) in detail.text
    assert await rows(audit.db, OutcomeRow) == 1


async def test_failed_outcome_explained(js: JetStreamContext, audit: Running) -> None:
    event = invoice_event()
    command = command_for(event)
    failed = outcome_for(
        command,
        status="failed",
        status_code=3100,
        status_severity="Error",
        status_message='The name "Jane Doe" of the list element is already in use.',
        hint="Rename one of them, then replay.",
    )
    await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await publish(js, command_subject(CONN), command, command.command_id)
    await publish(js, outcome_subject(CONN), failed, failed.outcome_id)
    await eventually(audit.idle)
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        [record] = (await client.get("/api/records", params={"status": "failed"})).json()
        assert record["message"] == (
            'QuickBooks status 3100: The name "Jane Doe" of the list element is already in use.'
        )
        assert record["hint"] == "Rename one of them, then replay."
        trail = (await client.get(f"/api/records/{record['id']}")).json()
        [o] = trail["outcomes"]
        assert (o["status"], o["status_code"], o["hint"]) == (
            "failed",
            3100,
            "Rename one of them, then replay.",
        )
        page = (await client.get("/", params={"status": "failed"})).text
        assert "&quot;Jane Doe&quot;" in page
        assert "#c62828" in page


async def test_changed_after_posting_over_http_and_dashboard(
    js: JetStreamContext, audit: Running
) -> None:
    first = invoice_event()
    posted_command = command_for(first)
    posted = outcome_for(posted_command)
    second = invoice_event(version="v2", received=10)
    edited_command = command_for(second, created=11)
    changed = outcome_for(
        edited_command,
        status="changed",
        when=12,
        qb_id="1A2B-1714651200",
        status_message="Invoice 5001 changed in ServiceTitan after it was posted to QuickBooks "
        "(TxnID 1A2B-1714651200): total 230.59 -> 268.09",
        hint="Resolve it by hand in QuickBooks.",
        difference={"total": ("230.59", "268.09"), "line 3": (None, "Labor: 1 x 37.50 = 37.50")},
    )
    await publish(js, st_event_subject(TENANT, "invoice"), first, first.event_id)
    await publish(js, command_subject(CONN), posted_command, posted_command.command_id)
    await publish(js, outcome_subject(CONN), posted, posted.outcome_id)
    await publish(js, st_event_subject(TENANT, "invoice"), second, second.event_id)
    await publish(js, command_subject(CONN), edited_command, edited_command.command_id)
    await publish(js, outcome_subject(CONN), changed, changed.outcome_id)
    await eventually(audit.idle)

    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        [record] = (await client.get("/api/records", params={"status": "changed"})).json()
        assert (record["status"], record["qb_id"], record["hint"]) == (
            "changed",
            "1A2B-1714651200",
            "Resolve it by hand in QuickBooks.",
        )
        assert record["message"] == changed.status_message
        trail = (await client.get(f"/api/records/{record['id']}")).json()
        assert [(o["status"], o["difference"]) for o in trail["outcomes"]] == [
            ("posted", None),
            (
                "changed",
                {"total": ["230.59", "268.09"], "line 3": [None, "Labor: 1 x 37.50 = 37.50"]},
            ),
        ]
        page = (await client.get("/", params={"status": "changed"})).text
        assert "<option value='changed' selected>changed after posting</option>" in page
        assert COLOURS["changed"] in page
        assert "total 230.59 -&gt; 268.09" in page
        detail = (await client.get(f"/records/{record['id']}")).text
        assert (
            "<tr><td>total</td><td>230.59</td><td>268.09</td></tr>"
            "<tr><td>line 3</td><td>-</td><td>Labor: 1 x 37.50 = 37.50</td></tr>"
        ) in detail


async def test_database_failure_naks_and_nothing_is_lost(
    js: JetStreamContext, audit: Running, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_write = AuditDb.write
    failures = {"left": 3}

    async def flaky(self: AuditDb, items: list[Incoming]) -> None:
        if failures["left"] > 0:
            failures["left"] -= 1
            raise ConnectionError("database down")
        await real_write(self, items)

    monkeypatch.setattr(AuditDb, "write", flaky)
    event = invoice_event()
    await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await eventually(lambda: rows_at_least(audit.db, EventRow, 1))
    await eventually(audit.idle)
    assert failures["left"] == 0
    assert await rows(audit.db, EventRow) == 1


async def rows_at_least(db: AuditDb, table: type, n: int) -> bool:
    return await rows(db, table) >= n


async def test_replay_republishes_and_commands_stay_the_same(
    js: JetStreamContext, audit: Running
) -> None:
    await (await ConnectionStore.open(js)).put(
        Connection(name=CONN, tenant=TENANT, qbwc_username="acme", password_hash="x")
    )
    mapper = MapperService(
        MapperSettings(NATS_URL=audit.nats_url, MAPPER_FETCH_TIMEOUT_SECONDS=0.2)
    )
    await mapper.start()
    try:
        events = [invoice_event(st_id=5001 + i) for i in range(3)]
        for event in events:
            await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)

        async def mapped() -> bool:
            last = (await js.stream_info("ST_EVENTS")).state.last_seq
            info = await js.consumer_info("ST_EVENTS", "mapper")
            return info.ack_floor.stream_seq >= last and info.num_ack_pending == 0

        await eventually(mapped)
        await eventually(audit.idle)
        assert (await js.stream_info("QB_COMMANDS")).state.messages == 3
        before = sorted(Command.make_id(CONN, e.event_id, "InvoiceAddRq") for e in events)

        async with httpx.AsyncClient(base_url=audit.base_url) as client:
            response = await client.post(
                "/api/replay", json={"stream": "ST_EVENTS", "since": "2000-01-01T00:00:00Z"}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert (body["matched"], body["republished"], body["first_seq"], body["last_seq"]) == (
                3,
                3,
                1,
                3,
            )
            one = (
                await client.post(
                    "/api/replay",
                    json={"stream": "ST_EVENTS", "start_seq": 1, "st_id": 5002, "connection": CONN},
                )
            ).json()
            assert one["republished"] == 1
            bad = await client.post("/api/replay", json={"connection": "nope"})
            assert bad.status_code == 400

        await eventually(mapped)
        await eventually(audit.idle)
        info = await js.stream_info("ST_EVENTS")
        assert info.state.messages == 7  # 3 originals + 3 copies + 1 copy
        # Copies mapped to the same command ids: de-duplication kept the commands at 3.
        assert (await js.stream_info("QB_COMMANDS")).state.messages == 3
        assert await rows(audit.db, CommandRow) == 3
        assert await rows(audit.db, EventRow) == 7
        async with audit.db.sessions() as session:
            from sqlalchemy import select

            ids = sorted((await session.execute(select(CommandRow.command_id))).scalars())
            sources = sorted((await session.execute(select(EventRow.msg_id))).scalars())
        assert ids == before
        assert sum(1 for s in sources if s.startswith("replay:")) == 4
        assert f"replay:{events[1].event_id}:{one['replay_id']}" in sources
        msg = await js.get_msg("ST_EVENTS", 4)
        assert StEvent.model_validate_json(msg.data).source == "replay"
    finally:
        await asyncio.wait_for(mapper.stop(), timeout=20)


async def test_main_runs_http_and_stops_on_sigterm(nats_url: str, tmp_path: Path) -> None:
    import os
    import signal
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {
        **os.environ,
        "NATS_URL": nats_url,
        "AUDIT_PORT": str(port),
        "MLCONNECTOR_HOME": str(tmp_path / "home"),
    }
    env.pop("AUDIT_DATABASE_URL", None)
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "from mlconnector.audit.main import main; main()", env=env
    )
    try:
        async with httpx.AsyncClient() as client:

            async def up() -> bool:
                with contextlib.suppress(httpx.HTTPError):
                    return (await client.get(f"http://127.0.0.1:{port}/healthz")).status_code == 200
                return False

            await eventually(up, within=20)
            assert (await client.get(f"http://127.0.0.1:{port}/api/records")).json() == []
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), timeout=15) == 0
    assert (tmp_path / "home" / "audit.db").exists()


def rejected_invoice(st_id: int | None = 5009) -> StRejection:
    return StRejection(
        tenant=TENANT,
        entity="invoice",
        st_id=st_id,
        error="invoice 5009: items[0].total 'twelve' is not a decimal amount",
        raw={"id": 5009, "number": "INV-5009", "items": [{"total": "twelve"}]},
        received_at=dt.datetime(2024, 5, 2, 9, 30, tzinfo=dt.UTC),
    )


async def publish_rejection(js: JetStreamContext, rejection: StRejection) -> None:
    await publish(
        js,
        st_rejected_subject(rejection.tenant, rejection.entity),
        rejection,
        rejection.rejection_id,
    )


async def test_rejection_is_a_rejected_record_with_its_servicetitan_json(
    js: JetStreamContext, audit: Running
) -> None:
    rejection = rejected_invoice()
    no_id = rejected_invoice(st_id=None).model_copy(update={"raw": {"number": "INV-?"}})
    await publish_rejection(js, rejection)
    await publish_rejection(js, no_id)
    # Published again (st-ingest restarted): still one row, one record.
    await publish(
        js, st_rejected_subject(TENANT, "invoice"), rejection, rejection.rejection_id + ":again"
    )
    await eventually(audit.idle)
    assert await rows(audit.db, RejectionRow) == 2

    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        listed = (await client.get("/api/records", params={"status": "rejected"})).json()
        by_st_id = {record["st_id"]: record for record in listed}
        assert sorted(by_st_id, key=str) == [5009, None]
        record = by_st_id[5009]
        assert (record["status"], record["connection"], record["entity"], record["message"]) == (
            "rejected",
            None,
            "invoice",
            "invoice 5009: items[0].total 'twelve' is not a decimal amount",
        )
        assert by_st_id[None]["message"] == rejection.error
        trail = (await client.get(f"/api/records/{record['id']}")).json()
        assert [i["kind"] for i in trail["trail"]] == ["rejection"]
        [item] = trail["rejections"]
        assert item["raw"] == {"id": 5009, "number": "INV-5009", "items": [{"total": "twelve"}]}
        assert item["rejection_id"] == rejection.rejection_id
        assert item["error"] == rejection.error
        no_id_trail = (await client.get(f"/api/records/{by_st_id[None]['id']}")).json()
        assert [i["raw"] for i in no_id_trail["rejections"]] == [{"number": "INV-?"}]

        page = (await client.get("/", params={"status": "rejected"})).text
        assert COLOURS["rejected"] == "#6a1b9a"
        assert '<span class="st" style="background:#6a1b9a">rejected</span>' in page
        assert "items[0].total &#x27;twelve&#x27; is not a decimal amount" in page
        detail = (await client.get(f"/records/{record['id']}")).text
        assert "&quot;number&quot;: &quot;INV-5009&quot;" in detail

    # A readable version of the record arrives later: the record moves on to pending.
    fixed = invoice_event(st_id=5009)
    await publish(js, st_event_subject(TENANT, "invoice"), fixed, fixed.event_id)
    await eventually(audit.idle)
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        [after] = (await client.get("/api/records", params={"st_id": 5009})).json()
        assert (after["id"], after["status"], after["message"]) == (record["id"], "pending", None)
        kinds = [
            i["kind"] for i in (await client.get(f"/api/records/{after['id']}")).json()["trail"]
        ]
        assert sorted(kinds) == ["event", "rejection"]


async def test_replay_never_republishes_rejections(js: JetStreamContext, audit: Running) -> None:
    event = invoice_event()
    await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await publish_rejection(js, rejected_invoice())
    await eventually(audit.idle)
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        # From the rejection on: nothing to replay.
        only_rejected = (await client.post("/api/replay", json={"start_seq": 2})).json()
        assert (only_rejected["matched"], only_rejected["republished"]) == (0, 0)
        response = await client.post("/api/replay", json={"since": "2000-01-01T00:00:00Z"})
        assert response.status_code == 200, response.text
        body = response.json()
        assert (body["matched"], body["republished"], body["first_seq"], body["last_seq"]) == (
            1,
            1,
            1,
            1,
        )
    await eventually(audit.idle)
    info = await js.stream_info("ST_EVENTS")
    assert info.state.messages == 3  # event, rejection, the event's one copy
    copy = await js.get_msg("ST_EVENTS", 3)
    assert copy.subject == st_event_subject(TENANT, "invoice")
    assert StEvent.model_validate_json(copy.data).source == "replay"
    assert await rows(audit.db, RejectionRow) == 1
    assert await rows(audit.db, EventRow) == 2


async def test_session_and_feed_reports_are_decoded_as_themselves_not_terminated(
    js: JetStreamContext, audit: Running
) -> None:
    from mlconnector.common.envelopes import FeedReport, SessionReport
    from mlconnector.common.streams import feed_subject, session_subject

    report = SessionReport(
        connection=CONN,
        started_at=dt.datetime(2024, 5, 2, 12, 0, tzinfo=dt.UTC),
        ended_at=dt.datetime(2024, 5, 2, 12, 0, 20, tzinfo=dt.UTC),
        result="error",
        hresult="0x80040408",
        last_error="QuickBooks could not be started on the office PC.",
    )
    feed = FeedReport(tenant=TENANT, entity="invoices", state="stuck", error="The export repeats.")
    event = invoice_event()
    await (await ConnectionStore.open(js)).put(
        Connection(name=CONN, tenant=TENANT, qbwc_username="acme", password_hash="x")
    )
    await publish(js, session_subject(CONN), report, report.report_id)
    await publish(js, feed_subject(TENANT, "invoices"), feed, feed.report_id)
    await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await eventually(audit.idle)
    from mlconnector.audit.tables import EventRow, FeedRow, SessionRow

    assert [await rows(audit.db, t) for t in (SessionRow, FeedRow, EventRow)] == [1, 1, 1]
    # Nothing was terminated as undecodable: every message was acked.
    for stream in ("ST_EVENTS", "QB_OUTCOMES"):
        info = await js.consumer_info(stream, "audit")
        assert info.num_redelivered == 0
        assert info.ack_floor.stream_seq == info.delivered.stream_seq
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        [health] = (await client.get("/api/health")).json()
        assert health["connection"] == CONN
        assert health["last_contact"]["result"] == "error"
        assert health["last_error"]["text"] == "QuickBooks could not be started on the office PC."
        assert "ServiceTitan invoices feed is stuck: The export repeats." in health["warnings"]
        page = (await client.get("/")).text
        assert "QuickBooks could not be started on the office PC." in page


async def test_retry_republishes_the_newest_version_as_a_new_generation(
    js: JetStreamContext, audit: Running
) -> None:
    old = invoice_event(version="v1")
    new = invoice_event(version="v2", received=5)
    command = command_for(new, created=6)
    failed = outcome_for(
        command, status="failed", when=7, status_code=3140, status_message="invalid reference"
    )
    for subject, model, msg_id in (
        (st_event_subject(TENANT, "invoice"), new, new.event_id),
        (st_event_subject(TENANT, "invoice"), old, old.event_id),  # an older one, arriving late
        (command_subject(CONN), command, command.command_id),
        (outcome_subject(CONN), failed, failed.outcome_id),
    ):
        await publish(js, subject, model, msg_id)
    await eventually(audit.idle)
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        [record] = (await client.get("/api/records", params={"status": "failed"})).json()
        before = dt.datetime.now(dt.UTC)
        response = await client.post(f"/api/records/{record['id']}/retry")
        assert response.status_code == 202, response.text
        body = response.json()
        generation = body["generation"]
        assert before.timestamp() * 1000 - 1 <= generation <= before.timestamp() * 1000 + 5000
        assert body["message_id"] == f"{new.event_id}:g{generation}"

        copy_msg = await js.get_last_msg("ST_EVENTS", st_event_subject(TENANT, "invoice"))
        assert copy_msg.headers is not None
        assert copy_msg.headers["Nats-Msg-Id"] == body["message_id"]
        copy = StEvent.model_validate_json(copy_msg.data)
        assert (copy.version, copy.generation, copy.source) == ("v2", generation, "retry")
        assert copy.record == new.record

        await eventually(audit.idle)
        [after] = (await client.get("/api/records", params={"st_id": 5001})).json()
        assert (after["id"], after["status"], after["message"]) == (record["id"], "pending", None)
        trail = (await client.get(f"/api/records/{record['id']}")).json()
        assert [(e["source"], e["generation"]) for e in trail["events"]] == [
            ("export", 0),
            ("export", 0),
            ("retry", generation),
        ]
        # Only failed records are retried.
        again = await client.post(f"/api/records/{record['id']}/retry")
        assert again.status_code == 409
        assert again.json()["detail"] == (
            f"Record {record['id']} is pending; only failed records can be retried."
        )
        assert (await client.post("/api/records/999/retry")).status_code == 404


async def test_retry_all_failed_in_a_filter_and_from_the_dashboard_form(
    js: JetStreamContext, audit: Running
) -> None:
    for st_id in (5001, 5002, 5003):
        event = invoice_event(st_id=st_id)
        command = command_for(event)
        status = "posted" if st_id == 5003 else "failed"
        outcome = outcome_for(command, status=status, status_message="x")
        await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
        await publish(js, command_subject(CONN), command, command.command_id)
        await publish(js, outcome_subject(CONN), outcome, outcome.outcome_id)
    await eventually(audit.idle)
    before = (await js.stream_info("ST_EVENTS")).state.messages
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        page = (await client.get("/", params={"connection": CONN})).text
        assert "Retry all 2 failed in this filter" in page
        response = await client.post(
            "/records/retry-failed", data={"connection": CONN}, follow_redirects=False
        )
        assert response.status_code == 303
        assert response.headers["location"] == f"/?connection={CONN}&status=failed&retried=2"
        await eventually(audit.idle)
        assert (await js.stream_info("ST_EVENTS")).state.messages == before + 2
        listed = (await client.get("/api/records", params={"status": "pending"})).json()
        assert sorted(r["st_id"] for r in listed) == [5001, 5002]
        # Nothing failed is left: the API retries none, and the page says so in words.
        result = (await client.post("/api/retry", json={"connection": CONN})).json()
        assert result == {"retried": [], "skipped": [], "count": 0}
        empty = (await client.get("/", params={"status": "failed"})).text
        assert "<p class='empty'>No failed records.</p>" in empty
        assert "<table class='records'>" not in empty
        # A form posted from another site is refused.
        forged = await client.post(
            "/records/retry-failed", data={}, headers={"Origin": "https://evil.example"}
        )
        assert forged.status_code == 403


async def test_paging_totals_search_and_csv(js: JetStreamContext, audit: Running) -> None:
    for st_id in range(5001, 5008):
        event = invoice_event(st_id=st_id, received=st_id - 5000)
        await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await eventually(audit.idle)
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        first = await client.get("/api/records", params={"limit": 3})
        assert first.headers["X-Total-Count"] == "7"
        assert [r["st_id"] for r in first.json()] == [5007, 5006, 5005]
        assert first.headers["Link"] == (
            f'<{audit.base_url}/api/records?offset=3&limit=3>; rel="next"'
        )
        last = await client.get("/api/records", params={"limit": 3, "offset": 6})
        assert [r["st_id"] for r in last.json()] == [5001]
        assert "Link" not in last.headers
        found = (await client.get("/api/records", params={"q": "inv-5003"})).json()
        assert [r["st_id"] for r in found] == [5003]
        by_name = await client.get("/api/records", params={"q": "JANE"})
        assert by_name.headers["X-Total-Count"] == "7"

        page = (await client.get("/", params={"limit": 25})).text
        assert "<span class='range'>1&ndash;7 of 7</span>" in page
        csv_response = await client.get("/records.csv", params={"q": "inv-500"})
        assert csv_response.headers["content-type"] == "text/csv; charset=utf-8"
        lines = csv_response.text.splitlines()
        assert lines[0] == (
            "record id,connection,type,ServiceTitan id,date,reference,customer / vendor,amount,"
            "status,QuickBooks id,QuickBooks amount,message,what to do,updated"
        )
        assert len(lines) == 8
        assert lines[1].split(",")[2:9] == [
            "invoice",
            "5007",
            "2024-05-01",
            "INV-5007",
            "Jane Doe",
            "230.59",
            "pending",
        ]
        assert lines[1].endswith(",2024-05-02 12:00:07 UTC")
        bad = (await client.get("/", params={"date_from": "2024-13-45"})).text
        assert "&#x27;2024-13-45&#x27; is not a date; use the date picker or YYYY-MM-DD." in bad


async def test_write_backs_to_servicetitan_are_on_the_records_trail(
    js: JetStreamContext, audit: Running, caplog: pytest.LogCaptureFixture
) -> None:
    """st-ingest's write-backs (WriteBack on st.writeback.<tenant>.<entity>) are stored and
    shown on the record's trail; found by the chaos test, where audit logged every one as an
    undecodable message and dropped it."""
    from mlconnector.audit.tables import WriteBackRow
    from mlconnector.common.envelopes import WriteBack

    event = invoice_event()
    command = command_for(event)
    outcome = outcome_for(command)
    refused = WriteBack(
        connection=CONN,
        tenant=TENANT,
        entity="invoice",
        st_id=5001,
        action="mark_exported",
        status="retrying",
        qb_id="1A2B-1714651200",
        source_id=outcome.outcome_id,
        attempt=1,
        max_attempts=5,
        error="Invoice 5001 is locked by another user.",
        at=dt.datetime(2024, 5, 2, 12, 0, 5, tzinfo=dt.UTC),
    )
    done = refused.model_copy(
        update={
            "status": "done",
            "attempt": 2,
            "error": None,
            "at": dt.datetime(2024, 5, 2, 12, 0, 40, tzinfo=dt.UTC),
        }
    )
    await publish(js, st_event_subject(TENANT, "invoice"), event, event.event_id)
    await publish(js, command_subject(CONN), command, command.command_id)
    await publish(js, outcome_subject(CONN), outcome, outcome.outcome_id)
    for writeback, msg_id in (
        (refused, refused.write_id),
        (done, done.write_id),
        (done, done.write_id + ":again"),  # published again, past de-duplication
    ):
        await publish(js, writeback_subject(TENANT, "invoice"), writeback, msg_id)
    await eventually(audit.idle)

    assert await rows(audit.db, WriteBackRow) == 2
    assert "undecodable" not in caplog.text
    async with httpx.AsyncClient(base_url=audit.base_url) as client:
        [record] = (await client.get("/api/records", params={"connection": CONN})).json()
        assert (record["status"], record["qb_id"]) == ("posted", "1A2B-1714651200")
        trail = (await client.get(f"/api/records/{record['id']}")).json()
        assert [i["kind"] for i in trail["trail"]] == [
            "event",
            "command",
            "outcome",
            "writeback",
            "writeback",
        ]
        assert [(w["status"], w["attempt"], w["error"]) for w in trail["writebacks"]] == [
            ("retrying", 1, "Invoice 5001 is locked by another user."),
            ("done", 2, None),
        ]
        page = (await client.get(f"/records/{record['id']}")).text
        assert (
            "<b>Marked exported in ServiceTitan: ServiceTitan refused; trying again</b> "
            "(attempt 1 of 5)"
        ) in page
        assert "<div>Invoice 5001 is locked by another user.</div>" in page
        assert "<b>Marked exported in ServiceTitan</b>" in page
