"""Export polling over a real nats-server and the sandbox over HTTP."""

from __future__ import annotations

import copy
import datetime as dt

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mlconnector.common.envelopes import StRejection
from mlconnector.common.streams import KV_WATERMARKS
from mlconnector.ingest.client import StClient
from mlconnector.ingest.poller import ExportPoller, newest_per_id
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.stsandbox.testing import RunningSandbox

from .conftest import TENANT, Sleeps, stored_events, stored_messages

FIRST_POLL_IDS = [
    "1234567:customer:1001:2025-03-14T13:05:00+00:00",
    "1234567:customer:1002:2025-03-14T14:10:00+00:00",
    "1234567:customer:1003:2025-03-14T15:20:00+00:00",
    "1234567:customer:1004:2025-03-14T16:02:00+00:00",
    "1234567:invoice:5001:2025-03-14T22:00:01+00:00",
    "1234567:invoice:5002:2025-03-14T22:00:02+00:00",
    "1234567:invoice:5003:2025-03-14T22:00:03+00:00",
    "1234567:invoice:5004:2025-03-14T22:00:04+00:00",
]


@pytest.fixture
async def poller(client: StClient, js: JetStreamContext, broker: NatsBroker) -> ExportPoller:
    return ExportPoller(client, EventPublisher(broker), await js.key_value(KV_WATERMARKS), TENANT)


@pytest.mark.nats
async def test_first_poll_publishes_the_day(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    report = await poller.poll_once()
    customers, invoices = report.feeds["customers"], report.feeds["invoices"]
    assert (customers.pages, customers.received, customers.published) == (2, 4, 4)
    assert (invoices.pages, invoices.received, invoices.published) == (3, 5, 4)
    assert invoices.skipped_not_posted == 1
    assert invoices.errors == customers.errors == []

    events = await stored_events(js)
    assert [msg_id for _, msg_id, _ in events] == FIRST_POLL_IDS
    assert [subject for subject, _, _ in events] == (
        ["st.events.1234567.customer"] * 4 + ["st.events.1234567.invoice"] * 4
    )
    for _, msg_id, event in events:
        assert msg_id == f"{event['tenant']}:{event['entity']}:{event['st_id']}:{event['version']}"
    demo = events[4][2]
    assert demo["source"] == "export"
    assert demo["raw"] == sandbox.store.get("invoices", 5001)
    record = demo["record"]
    assert (record["kind"], record["st_id"], record["number"]) == ("invoice", 5001, "5001")
    assert (record["subtotal"], record["sales_tax"], record["total"]) == (
        "396.00",
        "12.05",
        "408.05",
    )
    assert [(line["sku_name"], line["total"], line["taxable"]) for line in record["lines"]] == [
        ("Labor", "250.00", False),
        ("PVC-075", "146.00", True),
    ]
    assert events[0][2]["record"]["name"] == "Hernandez, Maria"

    watermarks = await js.key_value(KV_WATERMARKS)
    invoice_mark = (await watermarks.get("1234567.export.invoices")).value
    customer_mark = (await watermarks.get("1234567.export.customers")).value
    assert invoice_mark is not None
    assert customer_mark is not None
    caught_up = sandbox.store.export("invoices", invoice_mark.decode())
    assert caught_up["data"] == []
    assert caught_up["hasMore"] is False


@pytest.mark.nats
async def test_second_poll_publishes_nothing_new(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    calls_before = sum(sandbox.store.api_requests.values())
    again = await poller.poll_once()
    assert again.published == 0
    assert [report.received for report in again.feeds.values()] == [0, 0]
    # One call per feed: the stored continuation tokens were honoured.
    assert sum(sandbox.store.api_requests.values()) - calls_before == 2
    assert len(await stored_events(js)) == 8

    # Even with the watermarks lost, JetStream's de-duplication keeps the stream unchanged.
    watermarks = await js.key_value(KV_WATERMARKS)
    await watermarks.delete("1234567.export.customers")
    await watermarks.delete("1234567.export.invoices")
    replayed = await poller.poll_once()
    assert replayed.published == 0
    assert [r.duplicates for r in replayed.feeds.values()] == [4, 4]
    assert len(await stored_events(js)) == 8


@pytest.mark.nats
async def test_changed_invoice_yields_a_new_version(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    changed = sandbox.store.update("invoices", 5001, summary="Re-sent with photos.")
    posted = sandbox.store.update("invoices", 5005, syncStatus="Posted")
    report = await poller.poll_once()
    assert report.feeds["invoices"].published == 2
    events = await stored_events(js)
    assert [msg_id for _, msg_id, _ in events[8:]] == [
        f"1234567:invoice:5001:{_iso(changed['modifiedOn'])}",
        f"1234567:invoice:5005:{_iso(posted['modifiedOn'])}",
    ]
    assert events[8][2]["record"]["summary"] == "Re-sent with photos."
    assert events[9][2]["record"]["total"] == "95.00"


@pytest.mark.nats
async def test_bad_record_is_reported_and_the_feed_goes_on(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    broken = copy.deepcopy(sandbox.store.get("invoices", 5002))
    assert broken is not None
    broken.update(id=5020, referenceNumber="5020", total="1.00")
    broken = sandbox.store.put("invoices", broken)  # as exported: with its new modifiedOn
    good = copy.deepcopy(sandbox.store.get("invoices", 5003))
    assert good is not None
    good.update(id=5021, referenceNumber="5021")
    sandbox.store.put("invoices", good)
    report = await poller.poll_once()
    error = "ServiceTitan invoice 5020: field 'total' 1.00 is not subTotal 328.50 + salesTax 13.49"
    assert report.feeds["invoices"].errors == [error]
    assert report.feeds["invoices"].published == 1
    assert report.feeds["invoices"].rejected == 1
    events = await stored_events(js)
    assert len(events) == 10
    assert events[-1][2]["st_id"] == 5021

    # The bad record is on the stream for the operator, before the good one after it.
    subject, msg_id, body = events[-2]
    rejection = StRejection.model_validate(body)
    assert rejection == StRejection(
        tenant=TENANT,
        entity="invoice",
        st_id=5020,
        error=error,
        raw=broken,
        received_at=rejection.received_at,
    )
    assert subject == "st.rejected.1234567.invoice"
    assert msg_id == rejection.rejection_id

    # Re-reading the page (watermarks lost) stores neither the event nor the rejection again.
    watermarks = await js.key_value(KV_WATERMARKS)
    await watermarks.delete("1234567.export.invoices")
    again = await poller.poll_once()
    assert again.feeds["invoices"].errors == [error]
    assert (again.feeds["invoices"].rejected, again.feeds["invoices"].published) == (0, 0)
    assert len(await stored_events(js)) == 10


@pytest.mark.nats
async def test_each_event_starts_its_own_trace(
    poller: ExportPoller, js: JetStreamContext, spans: InMemorySpanExporter
) -> None:
    await poller.poll_once()
    messages = await stored_messages(js)
    assert len(messages) == 8
    trace_ids = []
    for subject, headers, event in messages:
        version, trace_id, parent_id, flags = headers["traceparent"].split("-")
        assert version == "00"
        assert int(flags, 16) & 1 == 1  # sampled: the trace is exported
        trace_ids.append(trace_id)
        [publish] = [
            s
            for s in spans.get_finished_spans()
            if s.name == f"{subject} publish"
            and s.attributes is not None
            and s.attributes["messaging.message.conversation_id"] == headers["Nats-Msg-Id"]
        ]
        assert publish.kind is SpanKind.PRODUCER
        assert publish.context is not None
        assert f"{publish.context.trace_id:032x}" == trace_id
        # The header names the producer's "create" span, the publish span's parent.
        assert publish.parent is not None
        assert f"{publish.parent.span_id:016x}" == parent_id
        assert headers["Nats-Msg-Id"] == (
            f"{event['tenant']}:{event['entity']}:{event['st_id']}:{event['version']}"
        )
    # One trace per event, not one per poll: each record is followed on its own.
    assert len(set(trace_ids)) == 8


@pytest.mark.nats
async def test_poll_rides_out_429(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox, sleeps: Sleeps
) -> None:
    sandbox.store.inject_fault(429, times=2, retry_after="1", path_contains="/export/invoices")
    report = await poller.poll_once()
    assert report.published == 8
    assert sleeps.delays == [1.0, 1.0]
    assert len(await stored_events(js)) == 8


def test_newest_per_id_keeps_latest_version_in_first_seen_order() -> None:
    records = [
        {"id": 1, "modifiedOn": "2025-03-14T10:00:00Z", "v": "a"},
        {"id": 2, "modifiedOn": "2025-03-14T10:00:00Z", "v": "b"},
        {"id": 1, "modifiedOn": "2025-03-14T11:00:00Z", "v": "c"},
        {"id": 2, "modifiedOn": "2025-03-14T09:00:00Z", "v": "d"},
        {"name": "no id"},
    ]
    assert [r.get("v") for r in newest_per_id(records)] == ["c", "b", None]


def _iso(st_time: str) -> str:
    return dt.datetime.fromisoformat(st_time).astimezone(dt.UTC).isoformat()
