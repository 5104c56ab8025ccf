"""Export polling: continuation tokens in the `watermarks` bucket, customers before invoices."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue

from mlconnector.common.envelopes import StEvent, StRejection
from mlconnector.common.models import EntityName, Invoice, Party
from mlconnector.ingest.client import ExportFeed, StClient
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.translate import (
    TranslationError,
    translate_customer,
    translate_invoice,
    version_of,
)

log = logging.getLogger(__name__)

POSTED = "Posted"


@dataclass(frozen=True)
class Feed:
    name: ExportFeed
    entity: EntityName
    translate: Callable[[Any], Party | Invoice]


# Customers first: an invoice's customer must be known downstream before the invoice is.
FEEDS = (
    Feed("customers", "customer", translate_customer),
    Feed("invoices", "invoice", translate_invoice),
)


def watermark_key(tenant: str, feed: ExportFeed) -> str:
    return f"{tenant}.export.{feed}"


@dataclass
class FeedReport:
    pages: int = 0
    received: int = 0
    published: int = 0
    duplicates: int = 0
    skipped_not_posted: int = 0
    errors: list[str] = field(default_factory=list)
    # Bad records newly stored on st.rejected.* (a re-read page's are duplicates, not counted).
    rejected: int = 0


@dataclass
class PollReport:
    tenant: str
    feeds: dict[str, FeedReport] = field(default_factory=dict)

    @property
    def published(self) -> int:
        return sum(report.published for report in self.feeds.values())


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


def _modified(record: dict[str, Any]) -> dt.datetime:
    value = record.get("modifiedOn")
    if isinstance(value, str):
        try:
            parsed = dt.datetime.fromisoformat(value)
        except ValueError:
            pass
        else:
            return parsed.replace(tzinfo=dt.UTC) if parsed.tzinfo is None else parsed
    return dt.datetime.min.replace(tzinfo=dt.UTC)


class ExportPoller:
    def __init__(
        self, client: StClient, publisher: EventPublisher, watermarks: KeyValue, tenant: str
    ) -> None:
        self._client = client
        self._publisher = publisher
        self._watermarks = watermarks
        self.tenant = tenant
        # A webhook-triggered poll and the periodic one must not page the same feed at once.
        self._lock = asyncio.Lock()

    async def poll_once(self) -> PollReport:
        async with self._lock:
            report = PollReport(self.tenant)
            for feed in FEEDS:
                report.feeds[feed.name] = await self._drain(feed)
            return report

    async def _load(self, key: str) -> str | None:
        try:
            entry = await self._watermarks.get(key)
        except KeyNotFoundError:
            return None
        return entry.value.decode() if entry.value else None

    async def _drain(self, feed: Feed) -> FeedReport:
        report = FeedReport()
        key = watermark_key(self.tenant, feed.name)
        token = await self._load(key)
        while True:
            page = await self._client.export(feed.name, token)
            report.pages += 1
            report.received += len(page.data)
            for raw in newest_per_id(page.data):
                await self._handle(feed, raw, report)
            # Saved only after the page's events and rejections are acked by JetStream: a
            # crash re-reads the page, and their ids make the re-publish a no-op.
            if page.continue_from and page.continue_from != token:
                await self._watermarks.put(key, page.continue_from.encode())
                token = page.continue_from
            if not page.has_more:
                break
        log.info(
            "tenant %s %s export: %d pages, %d received, %d published, %d already seen, "
            "%d not posted, %d bad",
            self.tenant,
            feed.name,
            report.pages,
            report.received,
            report.published,
            report.duplicates,
            report.skipped_not_posted,
            len(report.errors),
        )
        return report

    async def _handle(self, feed: Feed, raw: Any, report: FeedReport) -> None:
        try:
            record = feed.translate(raw)
        except TranslationError as exc:
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
            return
        if isinstance(record, Invoice) and record.sync_status != POSTED:
            # Accounting takes only invoices posted in a ServiceTitan batch; a later edit that
            # posts it brings it back through the export with a new modifiedOn.
            report.skipped_not_posted += 1
            log.info(
                "invoice %s (number %s) is %s, not Posted: not published yet",
                record.st_id,
                record.number,
                record.sync_status,
            )
            return
        event = StEvent(
            tenant=self.tenant,
            entity=feed.entity,
            st_id=record.st_id,
            version=version_of(raw),
            source="export",
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
                self.last_error = None
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
