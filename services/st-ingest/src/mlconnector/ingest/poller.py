"""Polling ServiceTitan: export feeds (continuation tokens) and the vendor list (modifiedOn).

Marks live in the `watermarks` bucket: `<tenant>.export.<feed>` holds an export's continuation
token, `<tenant>.list.vendors` the vendor list's modified-since mark. A mark moves only after
the page's events are stored, so a crash re-reads a page and JetStream's de-duplication (event
ids `<tenant>:<entity>:<id>:<modifiedOn>`) makes the re-publish a no-op.

Feeds run in dependency order: customers and vendors before the invoices, payments and bills
that refer to them (the gateway resolves references late anyway; this just saves waiting).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from mlconnector.common.envelopes import StEvent, StRejection
from mlconnector.common.models import EntityName, Record
from mlconnector.ingest.client import (
    EXPORT_PATHS,
    LIST_PATHS,
    ExportFeed,
    ListFeed,
    StApiError,
    StClient,
)
from mlconnector.ingest.publisher import EventPublisher
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


def not_ready(feed: Feed, raw: Any) -> SkipReason | None:
    """Why a transaction must not be published yet (None: publish it).

    Checked before translation, so a deleted or unposted record is never reported as bad.
    `active` must be a boolean: a payment whose deletion cannot be read is refused (rejected
    with the field named), never posted as a new ReceivePayment.
    """
    if not feed.accounting or not isinstance(raw, dict):
        return None
    active = raw.get("active")
    if active is not None and not isinstance(active, bool):
        raise TranslationError(
            feed.entity, raw.get("id", "?"), "active", f"must be true or false, got {active!r}"
        )
    if active is False:
        return "inactive"
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
    def __init__(
        self,
        client: StClient,
        publisher: EventPublisher,
        watermarks: KeyValue,
        tenant: str,
        list_page_size: int = DEFAULT_LIST_PAGE_SIZE,
        list_overlap: dt.timedelta = DEFAULT_LIST_OVERLAP,
        feeds: tuple[Feed, ...] = FEEDS,
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._watermarks = watermarks
        self.tenant = tenant
        self._list_page_size = list_page_size
        self._list_overlap = list_overlap
        self._feeds = feeds
        # A webhook-triggered poll and the periodic one must not page the same feed at once.
        self._lock = asyncio.Lock()

    async def poll_once(self) -> PollReport:
        """Every feed once. A feed ServiceTitan refuses (say, 403: the tenant lacks the
        Inventory module) is reported in its FeedReport and the other feeds still run."""
        async with self._lock:
            report = PollReport(self.tenant)
            for feed in self._feeds:
                feed_report = FeedReport()
                report.feeds[feed.name] = feed_report
                try:
                    if feed.listed:
                        await self._drain_list(feed, feed_report)
                    else:
                        await self._drain(feed, feed_report)
                except StApiError as exc:
                    feed_report.failure = str(exc)
                    log.error(
                        "tenant %s %s feed failed (the other feeds go on): %s",
                        self.tenant,
                        feed.name,
                        exc,
                    )
                self._log(feed, feed_report)
            return report

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
        while True:
            page = await self._client.export(name, token)
            report.pages += 1
            report.received += len(page.data)
            for raw in newest_per_id(page.data):
                await self._handle(feed, raw, report, "export")
            # Saved only after the page's events and rejections are acked by JetStream: a
            # crash re-reads the page, and their ids make the re-publish a no-op.
            if page.continue_from and page.continue_from != token:
                await self._watermarks.put(key, page.continue_from.encode())
                token = page.continue_from
            if not page.has_more:
                break

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
                        await self._handle(feed, raw, report, "list")
                        seen[str(record_id)] = version
                else:
                    await self._handle(feed, raw, report, "list")
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
        log.error("rejecting a bad record (the feed goes on): %s", exc)
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

    async def _handle(
        self, feed: Feed, raw: Any, report: FeedReport, source: Literal["export", "list"]
    ) -> None:
        try:
            reason = not_ready(feed, raw)
        except TranslationError as exc:
            await self._reject(feed, raw, report, exc)
            return
        if reason is not None:
            # Not for accounting (yet). A later edit that posts it brings it back through the
            # export with a new modifiedOn; a deleted record is never posted as a new one.
            if reason == "inactive":
                report.skipped_inactive += 1
            else:
                report.skipped_not_posted += 1
            log.info(
                "%s %s (%s) is %s: not published",
                feed.entity,
                raw.get("id"),
                raw.get("referenceNumber") or "no reference",
                "inactive (deleted or voided in ServiceTitan)"
                if reason == "inactive"
                else f"{raw.get('syncStatus') or 'without a syncStatus'}, not Posted",
            )
            return
        try:
            record = feed.translate(raw)
        except TranslationError as exc:
            await self._reject(feed, raw, report, exc)
            return
        event = StEvent(
            tenant=self.tenant,
            entity=feed.entity,
            st_id=record.st_id,
            version=version_of(raw),
            source=source,
            record=record,
            raw=raw,
        )
        if await self._publisher.publish(event):
            report.published += 1
        else:
            report.duplicates += 1


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
