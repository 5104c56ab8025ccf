"""Reading a QuickBooks company's lists before a new connection posts anything.

The first message of the read asks for every list: customers (with their jobs), vendors and
items (every type, sales tax items and groups included) with iterators (`iterator="Start"`),
accounts, classes, terms, payment methods and sales tax codes whole (qbXML allows no iterator
on them, and a company has tens to hundreds of each). Each following message asks the next
page of every iterator QuickBooks still holds records for (`iterator="Continue"` with its
`iteratorID`, the same filters again: Intuit's SDK guide, "Iterators", and
consolibyte/quickbooks-php's iterator examples repeat them), until `iteratorRemainingCount`
is 0 for all.

One message carries at most `page_size` records of iterated lists (split between the
iterators it continues), and IncludeRetElement keeps only the fields the review uses, so that
QuickBooks answers well within the Web Connector's wait (about 60 s, FACTS "SOAP / QBWC";
peers page 100-150 whole records: jsgoupil/quickbooks-sync issue 7, Conductor). A read whose
session was lost starts over with half the page size (`CompanyManifest.page_size`).

Every answer's entries become one page in the company store as soon as it arrives; the
manifest switches to the new read only when every list is complete.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from lxml import etree
from pydantic import BaseModel, Field

from mlconnector.common.envelopes import utcnow
from mlconnector.common.onboarding.company import (
    CompanyManifest,
    CompanyStore,
    ListName,
    QbEntry,
    new_read_id,
)
from mlconnector.common.qbxml import ResponseStatus, sub

log = logging.getLogger(__name__)

MIN_PAGE_SIZE = 25


@dataclass(frozen=True)
class ListRead:
    """How one list is read: its query, whether with an iterator, the fields kept."""

    name: ListName
    request_type: str
    iterated: bool
    include: tuple[str, ...] = ()


_PARTY = (
    "ListID",
    "EditSequence",
    "Name",
    "FullName",
    "IsActive",
    "ParentRef",
    "Sublevel",
    "CompanyName",
    "FirstName",
    "LastName",
    "Phone",
    "Email",
)
LISTS: tuple[ListRead, ...] = (
    ListRead("customer", "CustomerQueryRq", True, (*_PARTY, "BillAddress")),
    ListRead("vendor", "VendorQueryRq", True, (*_PARTY, "VendorAddress", "AccountNumber")),
    ListRead(
        "item",
        "ItemQueryRq",
        True,
        (
            "ListID",
            "EditSequence",
            "Name",
            "FullName",
            "IsActive",
            "ParentRef",
            "Sublevel",
            "TaxRate",
        ),
    ),
    ListRead("account", "AccountQueryRq", False),
    ListRead("class", "ClassQueryRq", False),
    ListRead("terms", "TermsQueryRq", False),
    ListRead("payment_method", "PaymentMethodQueryRq", False),
    ListRead("sales_tax_code", "SalesTaxCodeQueryRq", False),
)
_BY_TYPE = {read.request_type: read for read in LISTS}


class CompanyRead(BaseModel):
    """A session's read in progress (`SessionState.company_read`).

    `waiting`: list request types not asked yet; `open`: request type -> iteratorID of the
    iterators QuickBooks holds more records for, and `remaining` their last
    iteratorRemainingCount; `pages`/`counts` written so far per list; `asked`: a message of
    the read was handed out and not answered yet.
    """

    reading_id: str
    page_size: int = Field(ge=1)
    waiting: list[str] = Field(default_factory=list)
    open: dict[str, str] = Field(default_factory=dict)
    remaining: dict[str, int] = Field(default_factory=dict)
    pages: dict[str, int] = Field(default_factory=dict)
    counts: dict[str, int] = Field(default_factory=dict)
    messages: int = 0
    asked: bool = False

    @property
    def done(self) -> bool:
        return not self.waiting and not self.open

    def percent(self) -> int:
        """1-99: how much of the company was read (the Web Connector's progress bar)."""
        read = sum(self.counts.values())
        left = sum(self.remaining.values()) + 100 * len(self.waiting)
        return max(1, min(99, (100 * read) // max(1, read + left)))


class CompanyReadFailed(RuntimeError):
    """QuickBooks refused a request of the read; the read starts over next session."""


class CompanyReader:
    def __init__(self, store: CompanyStore, page_size: int) -> None:
        self._store = store
        self._page_size = page_size

    async def due(self, connection: str) -> CompanyManifest | None:
        """The connection's manifest when a read must start now (none complete yet, one
        requested, or one whose session was lost), else None."""
        manifest = await self._store.manifest(connection)
        if manifest is None:
            return CompanyManifest(page_size=self._page_size)
        if manifest.state == "complete":
            return None
        return manifest

    async def begin(self, connection: str, ticket: str, manifest: CompanyManifest) -> CompanyRead:
        """Start a read in session `ticket` (writes the manifest: state "reading")."""
        page_size = manifest.page_size
        if manifest.state == "reading":
            # Its session was lost, most likely to the Web Connector's timeout: smaller pages.
            await self._store.purge_read(connection, manifest.reading_id, manifest.reading_pages)
            page_size = max(MIN_PAGE_SIZE, page_size // 2)
            log.info(
                "company read of %s starts over (session %s... lost); pages of %d",
                connection,
                manifest.ticket[:8],
                page_size,
            )
        read = CompanyRead(
            reading_id=new_read_id(),
            page_size=page_size,
            waiting=[list_read.request_type for list_read in LISTS],
        )
        await self._store.put_manifest(
            connection,
            manifest.model_copy(
                update={
                    "state": "reading",
                    "reading_id": read.reading_id,
                    "reading_pages": {},
                    "ticket": ticket,
                    "started_at": utcnow(),
                    "page_size": page_size,
                }
            ),
        )
        return read

    def requests(self, read: CompanyRead) -> list[etree._Element]:
        """The next message's requests: every list not asked yet, and the next page of every
        open iterator (each iterator gets an equal share of `page_size` records)."""
        iterated = [t for t in read.waiting if _BY_TYPE[t].iterated] + list(read.open)
        share = max(1, read.page_size // max(1, len(iterated)))
        elements = []
        for request_type in read.waiting:
            list_read = _BY_TYPE[request_type]
            elements.append(_query(list_read, "Start" if list_read.iterated else None, share))
        for request_type, iterator_id in read.open.items():
            elements.append(_query(_BY_TYPE[request_type], "Continue", share, iterator_id))
        read.asked = True
        read.messages += 1
        return elements

    async def settle(
        self, connection: str, read: CompanyRead, answers: list[ResponseStatus]
    ) -> None:
        """Store each answer's entries as a page; when every list is complete, the manifest
        names the new read and the one it replaces is purged. Raises CompanyReadFailed when
        QuickBooks refused a request (the message says which and why)."""
        read.asked = False
        for status in answers:
            request_type = status.response_type.removesuffix("Rs") + "Rq"
            list_read = _BY_TYPE.get(request_type)
            if list_read is None:
                continue
            if status.status_severity == "Error":
                raise CompanyReadFailed(
                    f"QuickBooks refused reading the {list_read.name} list "
                    f"({status.status_code}: {status.status_message})"
                )
            entries = [
                _entry(list_read.name, ret)
                for ret in status.element
                if isinstance(ret.tag, str) and ret.tag.endswith("Ret")
            ]
            if request_type in read.waiting:
                read.waiting.remove(request_type)
            if entries:
                number = read.pages.get(list_read.name, 0) + 1
                await self._store.put_page(
                    connection, read.reading_id, list_read.name, number, entries
                )
                read.pages[list_read.name] = number
            read.counts[list_read.name] = read.counts.get(list_read.name, 0) + len(entries)
            remaining = int(status.element.get("iteratorRemainingCount") or 0)
            iterator_id = status.element.get("iteratorID")
            if list_read.iterated and remaining > 0 and iterator_id:
                read.open[request_type] = iterator_id
                read.remaining[request_type] = remaining
            else:
                read.open.pop(request_type, None)
                read.remaining.pop(request_type, None)
        manifest = await self._store.manifest(connection) or CompanyManifest()
        if not read.done:
            await self._store.put_manifest(
                connection, manifest.model_copy(update={"reading_pages": dict(read.pages)})
            )
            return
        counts = {list_read.name: read.counts.get(list_read.name, 0) for list_read in LISTS}
        finished = manifest.model_copy(
            update={
                "state": "complete",
                "read_id": read.reading_id,
                "pages": dict(read.pages),
                "counts": counts,
                "finished_at": utcnow(),
                "messages": read.messages,
                "reading_id": "",
                "reading_pages": {},
                "ticket": "",
            }
        )
        await self._store.put_manifest(connection, finished)
        if manifest.read_id and manifest.read_id != read.reading_id:
            await self._store.purge_read(connection, manifest.read_id, manifest.pages)
        log.info(
            "company of %s read in %d message(s): %s",
            connection,
            read.messages,
            ", ".join(f"{count} {name}" for name, count in counts.items()),
        )

    async def abandon(self, connection: str, *, lost: bool) -> None:
        """The read cannot go on in this session; the next session starts it over, with half
        the page size when its messages were `lost` (no answer: most likely too slow for the
        Web Connector), with the same when QuickBooks refused a request."""
        manifest = await self._store.manifest(connection)
        if manifest is None or manifest.state != "reading":
            return
        if lost:
            await self._store.put_manifest(connection, manifest.model_copy(update={"ticket": ""}))
            return
        await self._store.purge_read(connection, manifest.reading_id, manifest.reading_pages)
        await self._store.put_manifest(
            connection,
            manifest.model_copy(
                update={"state": "requested", "reading_id": "", "reading_pages": {}, "ticket": ""}
            ),
        )


def _query(
    list_read: ListRead, iterator: str | None, max_returned: int, iterator_id: str = ""
) -> etree._Element:
    element = etree.Element(list_read.request_type)
    if iterator is not None:
        element.set("iterator", iterator)
    if iterator_id:
        element.set("iteratorID", iterator_id)
    if list_read.iterated:
        sub(element, "MaxReturned", str(max_returned))
    # Inactive entries too: a ServiceTitan customer may match one made inactive in QuickBooks.
    sub(element, "ActiveStatus", "All")
    for name in list_read.include:
        sub(element, "IncludeRetElement", name)
    return element


def _text(ret: etree._Element, path: str) -> str | None:
    value = ret.findtext(path)
    return value if value else None


def _entry(name: ListName, ret: etree._Element) -> QbEntry:
    """The fields of one *Ret element the review uses."""
    tag = str(ret.tag).removesuffix("Ret")
    kind = {
        "item": tag.removeprefix("Item"),
        "account": ret.findtext("AccountType") or "",
        "terms": tag.removesuffix("Terms"),
        "payment_method": ret.findtext("PaymentMethodType") or "",
        "sales_tax_code": "Taxable" if ret.findtext("IsTaxable") == "true" else "NonTaxable",
    }.get(name, "")
    address = ret.find("BillAddress") if name == "customer" else ret.find("VendorAddress")
    lines: tuple[str, ...] = ()
    city = state = postal = None
    if address is not None:
        lines = tuple(
            text
            for tag_ in ("Addr1", "Addr2", "Addr3", "Addr4", "Addr5")
            if (text := address.findtext(tag_))
        )
        city, state, postal = (
            _text(address, "City"),
            _text(address, "State"),
            _text(address, "PostalCode"),
        )
    entry_name = ret.findtext("Name") or ""
    return QbEntry(
        list_id=ret.findtext("ListID") or "",
        name=entry_name,
        full_name=ret.findtext("FullName") or entry_name,
        kind=kind,
        active=ret.findtext("IsActive") != "false",
        parent_id=_text(ret, "ParentRef/ListID"),
        sublevel=int(ret.findtext("Sublevel") or 0),
        edit_sequence=ret.findtext("EditSequence") or "",
        company_name=_text(ret, "CompanyName"),
        first_name=_text(ret, "FirstName"),
        last_name=_text(ret, "LastName"),
        phone=_text(ret, "Phone"),
        email=_text(ret, "Email"),
        address=lines,
        city=city,
        state=state,
        postal_code=postal,
        account_number=_text(ret, "AccountNumber"),
        tax_rate=_text(ret, "TaxRate"),
    )
