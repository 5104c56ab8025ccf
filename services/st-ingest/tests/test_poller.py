"""Export polling over a real nats-server and the sandbox over HTTP."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pytest
from faststream.nats import NatsBroker
from nats.js import JetStreamContext
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from mlconnector.common.envelopes import StRejection
from mlconnector.common.streams import KV_WATERMARKS
from mlconnector.ingest.client import ExportFeed, ExportPage, StClient, StRetriesExhausted
from mlconnector.ingest.poller import ExportPoller, newest_per_id
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.stsandbox.testing import RunningSandbox

from .conftest import TENANT, Sleeps, stored_events, stored_messages

FIRST_POLL_IDS = [
    "1234567:customer:1001:2025-03-14T13:05:00+00:00",
    "1234567:customer:1002:2025-03-14T14:10:00+00:00",
    "1234567:customer:1003:2025-03-14T15:20:00+00:00",
    "1234567:customer:1004:2025-03-14T16:02:00+00:00",
    # Vendors in modifiedOn order; 7103 is inactive and flows all the same.
    "1234567:vendor:7103:2025-02-03T17:20:00+00:00",
    "1234567:vendor:7101:2025-03-14T12:30:00+00:00",
    "1234567:vendor:7102:2025-03-14T12:35:00+00:00",
    "1234567:invoice:5001:2025-03-14T22:00:01+00:00",
    "1234567:invoice:5002:2025-03-14T22:00:02+00:00",
    "1234567:invoice:5003:2025-03-14T22:00:03+00:00",
    "1234567:invoice:5004:2025-03-14T22:00:04+00:00",
    "1234567:invoice:5006:2025-03-14T22:00:05+00:00",
    # 9005 (deleted) and 9004 (Pending) are not for accounting.
    "1234567:payment:9001:2025-03-14T22:10:00+00:00",
    "1234567:payment:9002:2025-03-14T22:10:01+00:00",
    "1234567:payment:9003:2025-03-14T22:10:02+00:00",
    # 6003 was already exported (PostedAndExported).
    "1234567:bill:6001:2025-03-14T22:20:00+00:00",
    "1234567:bill:6002:2025-03-14T22:20:01+00:00",
]
FIRST_POLL_COUNT = len(FIRST_POLL_IDS)  # 17
FEED_NAMES = ["customers", "vendors", "invoices", "payments", "inventory-bills"]


@pytest.fixture
async def poller(client: StClient, js: JetStreamContext, broker: NatsBroker) -> ExportPoller:
    # Vendor pages of 2, like the sandbox's export pages, so that list paging is exercised.
    return ExportPoller(
        client,
        EventPublisher(broker),
        await js.key_value(KV_WATERMARKS),
        TENANT,
        list_page_size=2,
        # No back-off between polls: these tests poll again at once.
        poll_seconds=0,
    )


@pytest.mark.nats
async def test_first_poll_publishes_the_day(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    report = await poller.poll_once()
    assert list(report.feeds) == FEED_NAMES
    customers, invoices = report.feeds["customers"], report.feeds["invoices"]
    assert (customers.pages, customers.received, customers.published) == (2, 4, 4)
    assert (invoices.pages, invoices.received, invoices.published) == (3, 6, 5)
    assert (invoices.skipped_not_posted, invoices.skipped_inactive) == (1, 0)
    payments, bills = report.feeds["payments"], report.feeds["inventory-bills"]
    assert (payments.pages, payments.received, payments.published) == (3, 5, 3)
    assert (payments.skipped_not_posted, payments.skipped_inactive) == (1, 1)
    assert (bills.pages, bills.received, bills.published, bills.skipped_not_posted) == (2, 3, 2, 1)
    vendors = report.feeds["vendors"]
    # Page 1 holds 7103 and 7101; the next query starts at 7101's modifiedOn and finds it again
    # (recognised, not re-published) before 7102.
    assert (vendors.pages, vendors.received, vendors.published, vendors.duplicates) == (2, 4, 3, 1)
    assert all(r.errors == [] and r.failure is None for r in report.feeds.values())
    assert report.published == FIRST_POLL_COUNT

    events = await stored_events(js)
    ids = [msg_id for _, msg_id, _ in events]
    # Feeds are read together (parties first, then transactions): each feed's events in
    # its own order, every party before any transaction.
    assert sorted(ids) == sorted(FIRST_POLL_IDS)
    for entity in ("customer", "vendor", "invoice", "payment", "bill"):
        mine = [i for i in ids if i.split(":")[1] == entity]
        assert mine == [i for i in FIRST_POLL_IDS if i.split(":")[1] == entity]
    assert {i.split(":")[1] for i in ids[:7]} == {"customer", "vendor"}
    for subject, msg_id, event in events:
        assert subject == f"st.events.1234567.{event['entity']}"
        assert msg_id == f"{event['tenant']}:{event['entity']}:{event['st_id']}:{event['version']}"
    demo = next(e for _, i, e in events if i == "1234567:invoice:5001:2025-03-14T22:00:01+00:00")
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
    first_customer = next(e for _, i, e in events if i.startswith("1234567:customer:1001:"))
    assert first_customer["record"]["name"] == "Hernandez, Maria"

    watermarks = await js.key_value(KV_WATERMARKS)
    for feed in ("customers", "invoices", "payments", "inventory-bills"):
        mark = (await watermarks.get(f"1234567.export.{feed}")).value
        assert mark is not None
        caught_up = sandbox.store.export(feed, mark.decode())
        assert (caught_up["data"], caught_up["hasMore"]) == ([], False)
    vendor_mark = json.loads((await watermarks.get("1234567.list.vendors")).value or b"")
    # The newest modifiedOn read, and what was read within the overlap before it.
    assert vendor_mark == {
        "since": "2025-03-14T12:35:00+00:00",
        "seen": {"7101": "2025-03-14T12:30:00+00:00", "7102": "2025-03-14T12:35:00+00:00"},
    }


@pytest.mark.nats
async def test_payments_bills_and_vendors_arrive_as_canonical_records(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    by_id = {":".join(msg_id.split(":")[:3]): event for _, msg_id, event in await stored_events(js)}
    across = by_id["1234567:payment:9003"]
    assert across["source"] == "export"
    assert across["raw"] == sandbox.store.get("payments", 9003)
    payment = across["record"]
    assert (payment["kind"], payment["customer_st_id"], payment["reference"]) == (
        "payment",
        1003,
        "20417",
    )
    assert (payment["total"], payment["unapplied"]) == ("927.18", "0.00")
    assert [(a["invoice_st_id"], a["amount"]) for a in payment["applications"]] == [
        (5003, "640.40"),
        (5006, "286.78"),
    ]
    partial = by_id["1234567:payment:9002"]["record"]
    assert (partial["total"], partial["reference"], partial["payment_type"]) == (
        "200.00",
        "A7Q2K9",
        "Credit Card",
    )
    assert [(a["invoice_st_id"], a["amount"]) for a in partial["applications"]] == [
        (5002, "200.00")
    ]

    bill = by_id["1234567:bill:6002"]["record"]
    assert (bill["kind"], bill["reference"], bill["vendor_st_id"], bill["vendor_name"]) == (
        "bill",
        "LSH-240517",
        7102,
        "Lone Star HVAC Supply",
    )
    assert (bill["total"], bill["tax"], bill["shipping"], bill["other"]) == (
        "226.67",
        "15.37",
        "25.00",
        "0.00",
    )
    assert [
        (line["sku_name"], line["quantity"], line["cost"], line["gl_account"]["name"])
        for line in bill["lines"]
    ] == [
        ("MTR-CFM-025", "1", "148.50", "Job Materials"),
        ("CAP-45-5", "2", "18.90", "Job Materials"),
    ]
    assert by_id["1234567:bill:6001"]["record"]["total"] == "215.08"

    vendor = by_id["1234567:vendor:7103"]
    assert vendor["source"] == "list"
    assert (vendor["record"]["kind"], vendor["record"]["name"], vendor["record"]["active"]) == (
        "vendor",
        "Hill Country Water Heaters",
        False,
    )


@pytest.mark.nats
async def test_second_poll_publishes_nothing_new(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    calls_before = sum(sandbox.store.api_requests.values())
    again = await poller.poll_once()
    assert again.published == 0
    # Exports resume after their tokens; the vendor list re-reads its overlap (the last five
    # minutes before the newest modifiedOn: 7101 and 7102) and recognises both.
    assert [report.received for report in again.feeds.values()] == [0, 2, 0, 0, 0]
    assert again.feeds["vendors"].duplicates == 2
    # One call per feed: the stored continuation tokens and the vendor mark were honoured.
    assert sum(sandbox.store.api_requests.values()) - calls_before == 5
    assert len(await stored_events(js)) == FIRST_POLL_COUNT

    # Even with the watermarks lost, JetStream's de-duplication keeps the stream unchanged.
    watermarks = await js.key_value(KV_WATERMARKS)
    for feed in ("customers", "invoices", "payments", "inventory-bills"):
        await watermarks.delete(f"1234567.export.{feed}")
    await watermarks.delete("1234567.list.vendors")
    replayed = await poller.poll_once()
    assert replayed.published == 0
    assert [r.duplicates for r in replayed.feeds.values()] == [4, 4, 5, 3, 2]
    assert len(await stored_events(js)) == FIRST_POLL_COUNT


@pytest.mark.nats
async def test_records_become_ready_or_stop_being_ready(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    # Chen's card payment is posted in the next batch: it flows now.
    posted = sandbox.store.update(
        "payments", 9004, syncStatus="Posted", batch={"id": 7003, "number": "7003"}
    )
    # Payment 9001 is deleted in ServiceTitan after it was posted: its inactive version flows,
    # for the mapper to delete (or flag) what QuickBooks has; never a new ReceivePayment.
    deleted = sandbox.store.update("payments", 9001, active=False)
    assert deleted["syncStatus"] == "Posted"
    # Bill 6001 is marked exported (PostedAndExported): nothing to post again.
    sandbox.store.update("inventory-bills", 6001, syncStatus="PostedAndExported")
    # Bill 6003 comes back Pending (un-posted): still nothing.
    sandbox.store.update("inventory-bills", 6003, syncStatus="Pending")
    # An inactive vendor comes back with the version that deactivated it.
    vendor = sandbox.store.update("vendors", 7102, active=False)
    report = await poller.poll_once()
    payments, bills = report.feeds["payments"], report.feeds["inventory-bills"]
    assert (payments.received, payments.published, payments.skipped_inactive) == (2, 2, 0)
    assert (bills.received, bills.published, bills.skipped_not_posted) == (2, 0, 2)
    assert report.feeds["vendors"].published == 1
    events = await stored_events(js)
    assert [msg_id for _, msg_id, _ in events[FIRST_POLL_COUNT:]] == [
        f"1234567:vendor:7102:{_iso(vendor['modifiedOn'])}",
        f"1234567:payment:9004:{_iso(posted['modifiedOn'])}",
        f"1234567:payment:9001:{_iso(deleted['modifiedOn'])}",
    ]
    assert events[-3][2]["record"]["active"] is False  # the vendor
    assert events[-2][2]["record"]["total"] == "216.05"
    assert events[-1][2]["record"]["active"] is False  # the deleted payment


@pytest.mark.nats
async def test_unreadable_deletion_flag_is_refused_not_posted(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    sandbox.store.update("payments", 9002, active="false")
    report = await poller.poll_once()
    error = "ServiceTitan payment 9002: field 'active' must be true or false, got 'false'"
    assert report.feeds["payments"].errors == [error]
    assert (report.feeds["payments"].published, report.feeds["payments"].rejected) == (0, 1)
    subject, _, body = (await stored_events(js))[-1]
    assert subject == "st.rejected.1234567.payment"
    assert body["error"] == error


@pytest.mark.nats
async def test_vendor_mark_resumes_without_duplicates(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    await poller.poll_once()
    changed = sandbox.store.update("vendors", 7101, memo="Account 88-1042; new rep")
    first = await poller.poll_once()
    assert first.feeds["vendors"].published == 1
    second = await poller.poll_once()
    assert (second.feeds["vendors"].published, second.feeds["vendors"].duplicates) == (0, 1)
    # Three vendors saved in the same instant, more than a page: page numbers take over while
    # a whole page shares one modifiedOn, and each is published once.
    stamp = "2030-01-02T03:04:05.678Z"
    for vendor_id in (7201, 7202, 7203):
        base = sandbox.store.get("vendors", 7102)
        assert base is not None
        base.update(id=vendor_id, name=f"Supplier {vendor_id}", modifiedOn=stamp)
        sandbox.store.put("vendors", base, touch=False)
    third = await poller.poll_once()
    assert third.feeds["vendors"].published == 3
    fourth = await poller.poll_once()
    assert fourth.feeds["vendors"].published == 0
    vendor_ids = [
        msg_id.split(":")[2]
        for subject, msg_id, _ in await stored_events(js)
        if "vendor" in subject
    ]
    assert sorted(vendor_ids) == ["7101", "7101", "7102", "7103", "7201", "7202", "7203"]
    assert f"1234567:vendor:7101:{_iso(changed['modifiedOn'])}" in [
        msg_id for _, msg_id, _ in await stored_events(js)
    ]
    watermarks = await js.key_value(KV_WATERMARKS)
    mark = json.loads((await watermarks.get("1234567.list.vendors")).value or b"")
    assert mark["since"] == "2030-01-02T03:04:05.678000+00:00"
    # Older reads fell out of the overlap window; the boundary's three are remembered.
    assert sorted(mark["seen"]) == ["7201", "7202", "7203"]


@pytest.mark.nats
async def test_a_failed_feed_resumes_from_its_last_stored_page(
    poller: ExportPoller,
    client: StClient,
    js: JetStreamContext,
    sandbox: RunningSandbox,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    original = client.export
    calls: list[str | None] = []

    async def flaky(feed: ExportFeed, token: str | None) -> ExportPage:
        if feed == "payments":
            calls.append(token)
            if len(calls) == 2:
                raise StRetriesExhausted("gave up after 5 attempts: HTTP 503", 503)
        return await original(feed, token)

    monkeypatch.setattr(client, "export", flaky)
    report = await poller.poll_once()
    payments = report.feeds["payments"]
    assert payments.failure == "gave up after 5 attempts: HTTP 503"
    # The first page (9005 deleted, 9001) was handled and its token stored.
    assert (payments.pages, payments.published, payments.skipped_inactive) == (1, 1, 1)
    # The other feeds, bills after payments included, went on.
    assert report.feeds["inventory-bills"].published == 2
    assert report.failures == ["payments: gave up after 5 attempts: HTTP 503"]

    again = await poller.poll_once()
    assert calls[2] == calls[1]  # resumed from the stored token, not from the start
    assert again.feeds["payments"].published == 2
    assert again.feeds["payments"].duplicates == 0
    ids = [msg_id for _, msg_id, _ in await stored_events(js)]
    assert sorted(ids) == sorted(FIRST_POLL_IDS)


@pytest.mark.nats
async def test_tenant_without_inventory_module_still_gets_accounting(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox
) -> None:
    sandbox.store.inject_fault(403, times=1, path_contains="/inventory/v2/")
    report = await poller.poll_once()
    failure = report.feeds["vendors"].failure
    assert failure is not None
    assert "HTTP 403" in failure
    assert report.published == FIRST_POLL_COUNT - 3
    # The vendor list is read in full the next time; nothing else is published twice.
    again = await poller.poll_once()
    assert (again.published, again.feeds["vendors"].published) == (3, 3)
    stored = await stored_events(js)
    assert len([s for s, _, _ in stored if s.startswith("st.events.")]) == FIRST_POLL_COUNT
    # The refused module was reported at once, and its recovery too.
    reports = [(s, e["state"], e["error"]) for s, _, e in stored if s.startswith("st.feeds.")]
    assert [(s, state) for s, state, _ in reports] == [
        ("st.feeds.1234567.vendor", "forbidden"),
        ("st.feeds.1234567.vendor", "ok"),
    ]
    assert "HTTP 403" in str(reports[0][2])


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
    assert [msg_id for _, msg_id, _ in events[FIRST_POLL_COUNT:]] == [
        f"1234567:invoice:5001:{_iso(changed['modifiedOn'])}",
        f"1234567:invoice:5005:{_iso(posted['modifiedOn'])}",
    ]
    assert events[-2][2]["record"]["summary"] == "Re-sent with photos."
    assert events[-1][2]["record"]["total"] == "95.00"


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
    assert len(events) == FIRST_POLL_COUNT + 2
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
    assert len(await stored_events(js)) == FIRST_POLL_COUNT + 2


@pytest.mark.nats
async def test_each_event_starts_its_own_trace(
    poller: ExportPoller, js: JetStreamContext, spans: InMemorySpanExporter
) -> None:
    await poller.poll_once()
    messages = await stored_messages(js)
    assert len(messages) == FIRST_POLL_COUNT
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
    assert len(set(trace_ids)) == FIRST_POLL_COUNT


@pytest.mark.nats
async def test_poll_rides_out_429(
    poller: ExportPoller, js: JetStreamContext, sandbox: RunningSandbox, sleeps: Sleeps
) -> None:
    sandbox.store.inject_fault(429, times=2, retry_after="1", path_contains="/export/invoices")
    report = await poller.poll_once()
    assert report.published == FIRST_POLL_COUNT
    assert sleeps.delays == [1.0, 1.0]
    assert len(await stored_events(js)) == FIRST_POLL_COUNT


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
