"""Polling ServiceTitan: export feeds (continuation tokens) and the vendor list (modifiedOn).

Marks live in the `watermarks` bucket: `<tenant>.export.<feed>` holds an export's continuation
token, `<tenant>.list.vendors` the vendor list's modified-since mark. A mark moves only after
the page's events are stored, so a crash re-reads a page and JetStream's de-duplication (event
ids `<tenant>:<entity>:<id>:<modifiedOn>`) makes the re-publish a no-op.

Customers and vendors are polled first (together), then invoices, payments and bills
(together): the gateway resolves references late anyway, this just saves waiting. Within a
feed the next page is fetched while the current one is published (all its events at once),
so a backlog keeps ServiceTitan's 60 calls/s busy rather than waiting on acknowledgements.

Transactions dated before the tenant's start date (the earliest `sync_from` of its
connections) are never published; customers and vendors flow from the beginning, since new
transactions refer to old ones. A backfill (`mlconnector backfill`) reads the transaction
exports again from a date, with its own continuation tokens.

A feed that fails, repeats its continuation token or does not advance is backed off and
reported (`FeedReport` on `st.feeds.<tenant>.<entity>`) while the other feeds go on.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import json
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from mlconnector.common.envelopes import FeedReport as FeedStateReport
from mlconnector.common.envelopes import StEvent, StRejection
from mlconnector.common.models import Bill, EntityName, Invoice, Party, Payment, Record
from mlconnector.ingest.auth import StAuthError
from mlconnector.ingest.client import (
    EXPORT_PATHS,
    LIST_PATHS,
    ExportFeed,
    ExportPage,
    ListFeed,
    StApiError,
    StClient,
)
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.state import FeedHealth, FeedState, StState, party_fingerprint
from mlconnector.ingest.translate import (
    TranslationError,
    translate_bill,
    translate_customer,
    translate_invoice,
    translate_payment,
    translate_vendor,
    version_of,
)

log = logging.getLogger(__name__)

# Accounting integrations take records posted in a ServiceTitan batch and not yet exported.
# Invoices and payments: syncStatus Posted (Pending is not posted yet; Exported was already
# taken by an accounting export). Inventory bills have a fourth state, PostedAndExported: a
# bill posted in a batch *and* already marked exported (by another integration, a bookkeeper's
# file export, or an earlier connector). Posting it again would double the payable in
# QuickBooks, so bills too are taken only while Posted.
POSTED = "Posted"
DEFAULT_LIST_PAGE_SIZE = 500
DEFAULT_LIST_OVERLAP = dt.timedelta(minutes=5)


@dataclass(frozen=True)
class Feed:
    name: ExportFeed | ListFeed
    entity: EntityName
    translate: Callable[[Any], Record]
    # Transactions (invoices, payments, bills) flow only once ready for accounting: active and
    # Posted. Parties flow in every state; an inactive one becomes inactive in QuickBooks.
    accounting: bool = False
    # Read from a list endpoint by modifiedOn (the inventory API has no vendor export).
    listed: bool = False


FEEDS = (
    Feed("customers", "customer", translate_customer),
    Feed("vendors", "vendor", translate_vendor, listed=True),
    Feed("invoices", "invoice", translate_invoice, accounting=True),
    Feed("payments", "payment", translate_payment, accounting=True),
    Feed("inventory-bills", "bill", translate_bill, accounting=True),
)


def watermark_key(tenant: str, feed: ExportFeed) -> str:
    return f"{tenant}.export.{feed}"


def list_watermark_key(tenant: str, feed: ListFeed) -> str:
    return f"{tenant}.list.{feed}"


PARTY_FEEDS = ("customers", "vendors")
TRANSACTION_FEEDS = ("invoices", "payments", "inventory-bills")


class FeedStuck(StApiError):
    """The export answered `hasMore: true` with a continuation token it had already given:
    reading on would loop on the same pages."""


@dataclass
class FeedReport:
    pages: int = 0
    received: int = 0
    published: int = 0
    # Already on the stream (JetStream de-duplication) or already read by an earlier poll of a
    # list (same id and modifiedOn).
    duplicates: int = 0
    skipped_not_posted: int = 0
    # Deleted or voided in ServiceTitan (active false): never posted as a new transaction.
    skipped_inactive: int = 0
    errors: list[str] = field(default_factory=list)
    # Bad records newly stored on st.rejected.* (a re-read page's are duplicates, not counted).
    rejected: int = 0
    # Why ServiceTitan did not answer this feed (its mark stays where it was).
    failure: str | None = None
    # Transactions dated before the start date (never posted).
    skipped_before_start: int = 0
    # Customers/vendors st-ingest itself wrote to ServiceTitan, come back unchanged.
    echoes: int = 0
    # "ok", "stuck", "failing", "forbidden", "unauthorized"; "backing off" and "other
    # replica" when this poll did not read the feed.
    state: str = "ok"


@dataclass
class PollReport:
    tenant: str
    feeds: dict[str, FeedReport] = field(default_factory=dict)

    @property
    def published(self) -> int:
        return sum(report.published for report in self.feeds.values())

    @property
    def failures(self) -> list[str]:
        return [f"{name}: {r.failure}" for name, r in self.feeds.items() if r.failure]


def newest_per_id(records: list[Any]) -> list[Any]:
    """One record per id, the one with the newest modifiedOn, in first-seen order.

    The export may repeat a record edited while we page; only its latest state matters.
    Records without a usable id pass through so translation can report them.
    """
    chosen: dict[object, Any] = {}
    passthrough: list[tuple[int, Any]] = []
    order: dict[object, int] = {}
    for index, record in enumerate(records):
        record_id = record.get("id") if isinstance(record, dict) else None
        if not isinstance(record_id, int):
            passthrough.append((index, record))
            continue
        if record_id not in chosen:
            order[record_id] = index
            chosen[record_id] = record
        elif _modified(record) >= _modified(chosen[record_id]):
            chosen[record_id] = record
    merged = [(order[key], value) for key, value in chosen.items()] + passthrough
    return [record for _, record in sorted(merged, key=lambda pair: pair[0])]


_EPOCH = dt.datetime.min.replace(tzinfo=dt.UTC)


def _parse_time(value: object) -> dt.datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = dt.datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed


def _modified(record: dict[str, Any]) -> dt.datetime:
    return _parse_time(record.get("modifiedOn")) or _EPOCH


def st_timestamp(value: dt.datetime) -> str:
    """A UTC date-time as ServiceTitan's query parameters take it (ISO 8601, trailing Z)."""
    text = value.astimezone(dt.UTC).isoformat()
    return text.removesuffix("+00:00") + "Z"


SkipReason = Literal["inactive", "not posted"]


def transaction_date(record: Record) -> dt.date | None:
    """The accounting date a start date is compared with (parties have none)."""
    if isinstance(record, Invoice):
        return record.invoice_date
    if isinstance(record, Payment):
        return record.payment_date
    if isinstance(record, Bill):
        return record.bill_date
    return None


def st_date(day: dt.date) -> str:
    """A day as an export's `from` takes it: midnight UTC (a date means modifiedOn on or
    after it, tenant-accounting-v2.json `from`)."""
    return st_timestamp(dt.datetime.combine(day, dt.time(), dt.UTC))


def not_ready(feed: Feed, raw: Any) -> SkipReason | None:
    """Why a transaction must not be published yet (None: publish it).

    Checked before translation, so an unposted record is never reported as bad. An inactive
    (voided or deleted) transaction that was posted is published: it voids what QuickBooks
    has. `active` must
    be a boolean: a payment whose deletion cannot be read is refused (rejected with the field
    named), never posted as a new ReceivePayment.
    """
    if not feed.accounting or not isinstance(raw, dict):
        return None
    active = raw.get("active")
    if active is not None and not isinstance(active, bool):
        raise TranslationError(
            feed.entity, raw.get("id", "?"), "active", f"must be true or false, got {active!r}"
        )
    if active is False:
        # Voided or deleted after it was posted in ServiceTitan (Posted, Exported...):
        # published, so that the mapper voids it (TxnVoidRq / TxnDelRq, or a flag for the
        # accountant); the gateway settles one QuickBooks never had as "voided, nothing
        # posted", so neither this poll nor a replay posts it. One deleted while still
        # Pending never reached accounting: nothing to void.
        return "inactive" if raw.get("syncStatus") in (None, "Pending") else None
    if raw.get("syncStatus") != POSTED:
        return "not posted"
    return None


@dataclass
class ListMark:
    """Where a list feed's next poll starts: newest modifiedOn read, and what was read near it.

    `seen` (id -> version) covers the overlap window, so records read again because of the
    overlap (or because several share the boundary timestamp) are not published again.
    """

    since: dt.datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)

    def encode(self) -> bytes:
        since = self.since.isoformat() if self.since else None
        return json.dumps({"since": since, "seen": self.seen}, sort_keys=True).encode()

    @staticmethod
    def decode(value: bytes | None) -> ListMark:
        if not value:
            return ListMark()
        try:
            body = json.loads(value)
            since = _parse_time(body.get("since"))
            seen = {str(k): str(v) for k, v in dict(body.get("seen") or {}).items()}
        except (ValueError, TypeError, AttributeError):
            log.warning("unreadable list watermark %r: reading the list from the start", value)
            return ListMark()
        return ListMark(since, seen)

    def pruned(self, overlap: dt.timedelta) -> ListMark:
        if self.since is None:
            return ListMark(None, dict(self.seen))
        floor = self.since - overlap
        kept = {}
        for record_id, version in self.seen.items():
            when = _parse_time(version)
            if when is not None and when >= floor:
                kept[record_id] = version
        return ListMark(self.since, kept)


class ExportPoller:
    """Polls one tenant's feeds. `state` (KV st-state) adds what several replicas share:
    leases (one replica per feed at a time), feed health and back-off, backfills, echoes.
    `start_date()` answers the tenant's start date (None: no start date)."""

    def __init__(
        self,
        client: StClient,
        publisher: EventPublisher,
        watermarks: KeyValue,
        tenant: str,
        list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
        list_overlap: dt.timedelta = DEFAULT_LIST_OVERLAP,
        feeds: tuple[Feed, ...] = FEEDS,
        state: StState | None = None,
        start_date: Callable[[], dt.date | None] = lambda: None,
        poll_seconds: float = 60.0,
        max_backoff_seconds: float = 3600.0,
        failures_before_report: int = 3,
        lease_seconds: float = 120.0,
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._watermarks = watermarks
        self.tenant = tenant
        self._list_page_size = list_page_size
        self._list_overlap = list_overlap
        self._feeds = feeds
        self._state = state
        self._start_date = start_date
        self._poll_seconds = poll_seconds
        self._max_backoff = max_backoff_seconds
        self._failures_before_report = failures_before_report
        self._lease_seconds = lease_seconds
        # A webhook-triggered poll and the periodic one must not page the same feed at once.
        self._lock = asyncio.Lock()
        # Health of each feed as this replica last saw it (for /healthz).
        self.health: dict[str, FeedHealth] = {}

    async def poll_once(self) -> PollReport:
        """Every feed once: parties together, then transactions together, then a backfill
        if one is asked for. A feed ServiceTitan refuses (say, 403: the tenant lacks the
        Inventory module) is reported in its FeedReport and the other feeds still run."""
        async with self._lock:
            report = PollReport(self.tenant)
            for feed in self._feeds:
                report.feeds[feed.name] = FeedReport()
            for group in (PARTY_FEEDS, TRANSACTION_FEEDS):
                chosen = [feed for feed in self._feeds if feed.name in group]
                await asyncio.gather(
                    *(self._run(feed, report.feeds[feed.name], backfill=False) for feed in chosen)
                )
            await self._run_backfill(report)
            return report

    async def _run_backfill(self, report: PollReport) -> None:
        if self._state is None:
            return
        request = await self._state.backfill(self.tenant)
        if request is None:
            return
        pending = [
            feed
            for feed in self._feeds
            if feed.name in TRANSACTION_FEEDS and feed.name not in request.done
        ]
        runs = {feed.name: FeedReport() for feed in pending}
        await asyncio.gather(*(self._run(feed, runs[feed.name], backfill=True) for feed in pending))
        for name, run in runs.items():
            report.feeds[f"backfill {name}"] = run

    async def _run(self, feed: Feed, report: FeedReport, backfill: bool) -> None:
        """One feed, with its lease, back-off and health; failures are reported, not raised."""
        key = f"backfill-{feed.name}" if backfill else feed.name
        state = self._state
        health = (
            await state.health(self.tenant, key) if state else self.health.get(key, FeedHealth())
        )
        if health.retry_at > time.time():
            report.state = "backing off"
            report.failure = health.error
            self.health[key] = health
            return
        if state is not None and not await state.take_lease(self.tenant, key, self._lease_seconds):
            report.state = "other replica"
            return
        outcome: FeedState = "ok"
        try:
            if backfill:
                await self._drain_backfill(feed, report)
            elif feed.listed:
                await self._drain_list(feed, report)
            else:
                await self._drain(feed, report)
        except FeedStuck as exc:
            outcome, report.failure = "stuck", str(exc)
        except StAuthError as exc:
            outcome, report.failure = "unauthorized", str(exc)
        except StApiError as exc:
            report.failure = str(exc)
            outcome = {401: "unauthorized", 403: "forbidden"}.get(exc.status or 0, "failing")  # type: ignore[assignment]
        finally:
            if state is not None:
                await state.release_lease(self.tenant, key)
        if report.failure:
            log.error(
                "tenant %s %s feed failed (the other feeds go on): %s",
                self.tenant,
                key,
                report.failure,
            )
        await self._record_health(feed, key, health, outcome, report)
        self._log(feed, report)

    async def _record_health(
        self, feed: Feed, key: str, health: FeedHealth, outcome: FeedState, report: FeedReport
    ) -> None:
        if outcome == "ok":
            health = FeedHealth(reported=health.reported, reported_error=health.reported_error)
        else:
            failures = health.failures + 1
            delay = min(self._max_backoff, self._poll_seconds * 2.0 ** (failures - 1))
            health = health.model_copy(
                update={
                    "state": outcome,
                    "failures": failures,
                    "error": report.failure,
                    "retry_at": time.time() + delay,
                }
            )
        # A transient error is reported once it has lasted N polls; a stuck feed, a refused
        # module or refused credentials at once (waiting does not mend them).
        shown: FeedState = health.state
        if shown == "failing" and health.failures < self._failures_before_report:
            shown = health.reported  # shown once it has lasted N polls
        report.state = shown
        if shown != health.reported or (shown != "ok" and health.error != health.reported_error):
            await self._publisher.feed_report(
                FeedStateReport(
                    tenant=self.tenant,
                    entity=feed.entity
                    if not key.startswith("backfill")
                    else f"backfill-{feed.entity}",
                    state=shown,
                    error=health.error if shown != "ok" else None,
                    failures=health.failures,
                    published=report.published,
                )
            )
            health = health.model_copy(
                update={
                    "reported": shown,
                    "reported_error": health.error if shown != "ok" else None,
                }
            )
        self.health[key] = health
        if self._state is not None:
            await self._state.save_health(self.tenant, key, health)

    async def _load(self, key: str) -> bytes | None:
        try:
            entry = await self._watermarks.get(key)
        except KeyNotFoundError:
            return None
        return entry.value or None

    async def _drain(self, feed: Feed, report: FeedReport) -> None:
        assert feed.name in EXPORT_PATHS
        name: ExportFeed = feed.name
        key = watermark_key(self.tenant, name)
        stored = await self._load(key)
        token = stored.decode() if stored else None
        if token is None and feed.accounting and (start := self._start_date()) is not None:
            # A first read starts at the start date: older history is never needed.
            token = st_date(start)

        async def save(next_token: str) -> None:
            await self._watermarks.put(key, next_token.encode())

        await self._pages(feed, name, token, report, save, "export", self._start_date())

    async def _drain_backfill(self, feed: Feed, report: FeedReport) -> None:
        assert feed.name in EXPORT_PATHS
        assert self._state is not None
        name: ExportFeed = feed.name
        state = self._state
        request = await state.backfill(self.tenant)
        if request is None:
            return
        key = f"backfill-{name}"
        token = await state.backfill_token(self.tenant, name) or st_date(request.since)

        async def save(next_token: str) -> None:
            await state.save_backfill_token(self.tenant, name, next_token)

        await self._pages(feed, name, token, report, save, "backfill", request.since)
        await state.backfill_done(self.tenant, name)
        log.info("tenant %s %s: backfill from %s done", self.tenant, key, request.since)

    async def _pages(
        self,
        feed: Feed,
        name: ExportFeed,
        token: str | None,
        report: FeedReport,
        save: Callable[[str], Awaitable[None]],
        source: Literal["export", "backfill"],
        start: dt.date | None,
    ) -> None:
        """Read an export from `token` to its end. Each page's events are published together
        while the next page is fetched; `save` stores the token only once they are all
        acknowledged, so a crash re-reads a page (JetStream drops what it already has) and
        never skips one."""
        seen = {token}
        fetch: asyncio.Task[ExportPage] = asyncio.create_task(self._client.export(name, token))
        try:
            while True:
                page = await fetch
                report.pages += 1
                report.received += len(page.data)
                if page.has_more and page.continue_from in seen:
                    raise FeedStuck(
                        f"the {name} export answered hasMore with a continuation token it had "
                        f"already given ({page.continue_from[:40]}) after {report.pages} pages: "
                        "it does not advance, so it is left alone for now"
                    )
                if page.has_more:
                    fetch = asyncio.create_task(self._client.export(name, page.continue_from))
                await self._publish_page(feed, newest_per_id(page.data), report, source, start)
                if page.continue_from and page.continue_from != token:
                    await save(page.continue_from)
                    token = page.continue_from
                seen.add(page.continue_from)
                if not page.has_more:
                    break
        finally:
            if not fetch.done():
                fetch.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await fetch

    async def _publish_page(
        self,
        feed: Feed,
        records: list[Any],
        report: FeedReport,
        source: Literal["export", "list", "backfill"],
        start: dt.date | None,
    ) -> None:
        events = [
            event
            for raw in records
            if (event := await self._prepare(feed, raw, report, source, start)) is not None
        ]
        for stored in await self._publisher.publish_many(events):
            if stored:
                report.published += 1
            else:
                report.duplicates += 1

    async def _drain_list(self, feed: Feed, report: FeedReport) -> None:
        """A list endpoint read in modifiedOn order from the stored mark, every state included.

        Pages are keyed by modifiedOn (`modifiedOnOrAfter` = the newest modifiedOn read so far,
        page 1), not by page number: a record edited while we page moves to the end of the
        order and is read in the same pass instead of shifting another one out of sight. Page
        numbers are used only while a whole page shares one modifiedOn.
        """
        assert feed.name in LIST_PATHS
        name: ListFeed = feed.name
        key = list_watermark_key(self.tenant, name)
        mark = ListMark.decode(await self._load(key))
        seen = dict(mark.seen)
        newest = mark.since
        query_since = mark.since - self._list_overlap if mark.since else None
        page_number = 1
        while True:
            params = {
                "page": str(page_number),
                "pageSize": str(self._list_page_size),
                # The list answers only active records unless asked: inactive ones must flow.
                "active": "Any",
                "sort": "+ModifiedOn",
            }
            if query_since is not None:
                params["modifiedOnOrAfter"] = st_timestamp(query_since)
            page = await self._client.list_page(name, params)
            report.pages += 1
            report.received += len(page.data)
            page_newest: dt.datetime | None = None
            for raw in newest_per_id(page.data):
                record_id = raw.get("id") if isinstance(raw, dict) else None
                if isinstance(record_id, int) and not isinstance(record_id, bool):
                    version = version_of(raw)
                    if seen.get(str(record_id)) == version:
                        report.duplicates += 1
                    else:
                        await self._publish_page(feed, [raw], report, "list", None)
                        seen[str(record_id)] = version
                else:
                    await self._publish_page(feed, [raw], report, "list", None)
                modified = _parse_time(raw.get("modifiedOn")) if isinstance(raw, dict) else None
                if modified is not None and (page_newest is None or modified > page_newest):
                    page_newest = modified
            if page_newest is not None and (newest is None or page_newest > newest):
                newest = page_newest
            # As for exports: the mark moves only once the page's events are stored.
            await self._watermarks.put(
                key, ListMark(newest, seen).pruned(self._list_overlap).encode()
            )
            if not page.has_more:
                break
            if page_newest is not None and (query_since is None or page_newest > query_since):
                query_since = page_newest
                page_number = 1
            else:
                page_number += 1

    def _log(self, feed: Feed, report: FeedReport) -> None:
        # A poll that found nothing new (or only records already seen, as the list feeds'
        # overlap re-reads) is DEBUG: at INFO the idle demo wrote a line per feed every 3 s.
        idle = report.received == report.duplicates and not report.errors and not report.failure
        log.log(
            logging.DEBUG if idle else logging.INFO,
            "tenant %s %s: %d pages, %d received, %d published, %d already seen, "
            "%d not posted, %d inactive, %d bad%s",
            self.tenant,
            feed.name,
            report.pages,
            report.received,
            report.published,
            report.duplicates,
            report.skipped_not_posted,
            report.skipped_inactive,
            len(report.errors),
            f", failed: {report.failure}" if report.failure else "",
        )

    async def _reject(
        self, feed: Feed, raw: Any, report: FeedReport, exc: TranslationError
    ) -> None:
        report.errors.append(str(exc))
        # Stored before the continuation token moves past it, so audit shows the operator
        # every record that never became an event, with ServiceTitan's JSON.
        rejection = StRejection(
            tenant=self.tenant,
            entity=feed.entity,
            st_id=_int_or_none(exc.record_id),
            error=str(exc),
            # A record that is not even a JSON object is kept too, wrapped.
            raw=raw if isinstance(raw, dict) else {"record": raw},
        )
        if await self._publisher.reject(rejection):
            report.rejected += 1
            # Logged when first stored: a page read again does not repeat the same error.
            log.error("rejecting a bad record (the feed goes on): %s", exc)

    async def _prepare(
        self,
        feed: Feed,
        raw: Any,
        report: FeedReport,
        source: Literal["export", "list", "backfill"],
        start: dt.date | None,
    ) -> StEvent | None:
        """The event to publish for one record, or None (skipped, rejected or an echo)."""
        try:
            reason = not_ready(feed, raw)
        except TranslationError as exc:
            await self._reject(feed, raw, report, exc)
            return None
        if reason is not None:
            # Not for accounting (yet). A later edit that posts it brings it back through the
            # export with a new modifiedOn; a deleted record is never posted as a new one.
            if reason == "inactive":
                report.skipped_inactive += 1
            else:
                report.skipped_not_posted += 1
            log.debug(
                "%s %s (%s) is %s: not published",
                feed.entity,
                raw.get("id"),
                raw.get("referenceNumber") or "no reference",
                "inactive (deleted or voided in ServiceTitan)"
                if reason == "inactive"
                else f"{raw.get('syncStatus') or 'without a syncStatus'}, not Posted",
            )
            return None
        try:
            record = feed.translate(raw)
        except TranslationError as exc:
            await self._reject(feed, raw, report, exc)
            return None
        day = transaction_date(record)
        if start is not None and day is not None and day < start:
            report.skipped_before_start += 1
            return None
        if isinstance(record, Party) and await self._is_echo(feed, record):
            report.echoes += 1
            return None
        return StEvent(
            tenant=self.tenant,
            entity=feed.entity,
            st_id=record.st_id,
            version=version_of(raw),
            source=source,
            record=record,
            raw=raw,
        )

    async def _is_echo(self, feed: Feed, party: Party) -> bool:
        """A customer/vendor exactly as st-ingest last wrote it from QuickBooks: QuickBooks
        has it already, publishing it would only make the mapper send it back (ping-pong)."""
        if self._state is None:
            return False
        written = await self._state.echo(self.tenant, feed.entity, party.st_id)
        if written is None:
            return False
        if written == party_fingerprint(party):
            return True
        # Changed in ServiceTitan since: it flows, and the mark has done its job.
        await self._state.forget_echo(self.tenant, feed.entity, party.st_id)
        return False


def _int_or_none(value: object) -> int | None:
    # A JSON true is an int to Python, never a ServiceTitan id.
    return value if isinstance(value, int) and not isinstance(value, bool) else None


class PollScheduler:
    """Polls every `interval` seconds, or at once when `trigger()` is called (webhooks)."""

    def __init__(self, poller: ExportPoller, interval: float) -> None:
        self._poller = poller
        self._interval = interval
        self._wake = asyncio.Event()
        self.last_report: PollReport | None = None
        self.last_poll_at: dt.datetime | None = None
        self.last_error: str | None = None
        self.polls = 0

    def trigger(self) -> None:
        self._wake.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wake.clear()
            try:
                self.last_report = await self._poller.poll_once()
                self.last_error = "; ".join(self.last_report.failures) or None
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                # ServiceTitan down, credentials wrong, NATS away: say so, try next interval.
                self.last_error = f"{type(exc).__name__}: {exc}"
                log.error("poll of tenant %s failed: %s", self._poller.tenant, self.last_error)
            self.polls += 1
            self.last_poll_at = dt.datetime.now(dt.UTC)
            await _first_of(self._wake, stop, seconds=self._interval)


async def _first_of(a: asyncio.Event, b: asyncio.Event, seconds: float) -> None:
    waiters = [asyncio.ensure_future(a.wait()), asyncio.ensure_future(b.wait())]
    try:
        await asyncio.wait(waiters, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for waiter in waiters:
            waiter.cancel()
