"""Customers and vendors changed inside QuickBooks, for ServiceTitan (QB_CHANGES).

At most every `QBWC_CHANGES_EVERY_SECONDS`, a session's first message also asks QuickBooks
for the customers and vendors modified since the connection's mark (KV `watermarks`,
`<connection>.qb-changes`). QuickBooks reads FromModifiedDate in the office PC's local time
and reports wrong UTC offsets around daylight-saving changes (FACTS; QbSync issue 19), so the
query starts `MARGIN` before the newest TimeModified seen, and what was seen in that margin
(ListID -> EditSequence) is not published twice. A change ml-connector made itself (its
EditSequence is the one our own Add/Mod got back: the id map's) is never published, so a
ServiceTitan edit never comes back as a QuickBooks change (no ping-pong).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from typing import Literal

from faststream.nats import NatsBroker
from lxml import etree
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from pydantic import BaseModel, Field

from mlconnector.common.envelopes import QbChange, utcnow
from mlconnector.common.idmap import IdMap
from mlconnector.common.qbxml import ResponseStatus, sub
from mlconnector.common.streams import KV_WATERMARKS, QB_CHANGES, change_subject

log = logging.getLogger(__name__)

MARGIN = dt.timedelta(hours=2)
# The first poll of a connection looks back this far (its QuickBooks' clock is unknown).
FIRST_LOOK_BACK = dt.timedelta(days=1)
MAX_RETURNED = 500
PUBLISH_TIMEOUT_SECONDS = 5.0

_OBJECTS: dict[str, Literal["customer", "vendor"]] = {
    "CustomerQueryRq": "customer",
    "VendorQueryRq": "vendor",
}
_ADDRESS = {"customer": "BillAddress", "vendor": "VendorAddress"}
_ADDRESS_FIELDS = (
    "Addr1",
    "Addr2",
    "Addr3",
    "Addr4",
    "Addr5",
    "City",
    "State",
    "PostalCode",
    "Country",
)
_TEXT_FIELDS = {
    "Phone": "phone",
    "Email": "email",
    "FirstName": "first_name",
    "LastName": "last_name",
    "CompanyName": "company_name",
}


class ChangeMark(BaseModel):
    """Where the next poll starts: QuickBooks' newest TimeModified seen (its own text, local
    time), and the changes seen in the margin before it (ListID -> EditSequence)."""

    since: str | None = None
    # ListID -> (EditSequence, TimeModified) of the changes seen in the margin.
    seen: dict[str, tuple[str, str]] = Field(default_factory=dict)
    polled_at: dt.datetime | None = None


def _parse(text: str | None) -> dt.datetime | None:
    if not text:
        return None
    try:
        return dt.datetime.fromisoformat(text)
    except ValueError:
        return None


def _qb_time(when: dt.datetime) -> str:
    """A FromModifiedDate QuickBooks reads as its own local time (no offset: the offset it
    reports may be wrong, the margin covers that)."""
    return when.replace(tzinfo=None, microsecond=0).isoformat()


class ChangeWatch:
    def __init__(
        self, broker: NatsBroker, js: JetStreamContext, id_map: IdMap, every_seconds: float
    ) -> None:
        self._broker = broker
        self._js = js
        self._id_map = id_map
        self._every = dt.timedelta(seconds=every_seconds)
        self.requests = 0  # NATS requests made, for the benchmarks

    def _key(self, connection: str) -> str:
        return f"{connection}.qb-changes"

    async def mark(self, connection: str) -> ChangeMark:
        kv = await self._js.key_value(KV_WATERMARKS)
        self.requests += 1
        try:
            entry = await kv.get(self._key(connection))
        except KeyNotFoundError:
            return ChangeMark()
        return ChangeMark.model_validate_json(entry.value or b"{}")

    async def due(self, connection: str) -> ChangeMark | None:
        """The connection's mark when a poll is due, else None (always None when polling
        is turned off: `every_seconds` 0)."""
        if not self._every:
            return None
        mark = await self.mark(connection)
        if mark.polled_at is not None and utcnow() - mark.polled_at < self._every:
            return None
        return mark

    def queries(self, mark: ChangeMark) -> list[etree._Element]:
        """CustomerQueryRq and VendorQueryRq for what changed since the mark."""
        since = _parse(mark.since)
        start = _qb_time(since - MARGIN) if since else _qb_time(utcnow() - FIRST_LOOK_BACK)
        elements = []
        for request_type in _OBJECTS:
            element = etree.Element(request_type)
            sub(element, "MaxReturned", str(MAX_RETURNED))
            sub(element, "ActiveStatus", "All")
            sub(element, "FromModifiedDate", start)
            elements.append(element)
        return elements

    async def settle(self, connection: str, mark: ChangeMark, answers: list[ResponseStatus]) -> int:
        """Publish the changes in QuickBooks' answers that are news (not seen in the margin,
        not ml-connector's own), move the mark; returns how many were published."""
        found: list[tuple[Literal["customer", "vendor"], etree._Element]] = []
        for status in answers:
            entity = _OBJECTS.get(status.response_type.removesuffix("Rs") + "Rq")
            if entity is None or status.status_severity == "Error":
                continue
            for ret in status.element:
                if isinstance(ret.tag, str) and ret.tag.endswith("Ret"):
                    found.append((entity, ret))
        news = [
            (entity, ret)
            for entity, ret in found
            if (mark.seen.get(ret.findtext("ListID") or "") or ("", ""))[0]
            != ret.findtext("EditSequence")
        ]
        owners = await self._id_map.owners(
            connection, [ret.findtext("ListID") or "" for _, ret in news]
        )
        changes: list[QbChange] = []
        for entity, ret in news:
            list_id = ret.findtext("ListID") or ""
            edit_sequence = ret.findtext("EditSequence") or ""
            owner = owners.get(list_id)
            if owner is not None and owner[1].edit_sequence == edit_sequence:
                continue  # ml-connector's own Add/Mod: never echoed back
            changes.append(_change(connection, entity, ret, owner[0] if owner else None))
        if changes:
            self.requests += len(changes)
            await asyncio.gather(*(self._publish(change) for change in changes))
        await self._move(connection, mark, found)
        return len(changes)

    async def _publish(self, change: QbChange) -> None:
        await self._broker.publish(
            change.model_dump_json().encode(),
            change_subject(change.connection, change.entity),
            headers={"Nats-Msg-Id": change.change_id},
            correlation_id=change.change_id,
            stream=QB_CHANGES.name,
            timeout=PUBLISH_TIMEOUT_SECONDS,
        )

    async def _move(
        self,
        connection: str,
        mark: ChangeMark,
        found: list[tuple[Literal["customer", "vendor"], etree._Element]],
    ) -> None:
        newest = _parse(mark.since)
        seen = dict(mark.seen)
        for _, ret in found:
            modified = ret.findtext("TimeModified") or ""
            seen[ret.findtext("ListID") or ""] = (ret.findtext("EditSequence") or "", modified)
            when = _parse(modified)
            if when is not None and (newest is None or when > newest):
                newest = when
        if newest is not None:
            floor = newest - MARGIN
            seen = {
                list_id: (edit_sequence, modified)
                for list_id, (edit_sequence, modified) in seen.items()
                if (_parse(modified) or newest) >= floor
            }
        moved = ChangeMark(
            since=newest.isoformat() if newest else mark.since,
            seen=seen,
            polled_at=utcnow(),
        )
        kv = await self._js.key_value(KV_WATERMARKS)
        self.requests += 1
        await kv.put(self._key(connection), moved.model_dump_json().encode())


def _change(
    connection: str,
    entity: Literal["customer", "vendor"],
    ret: etree._Element,
    st_id: int | None,
) -> QbChange:
    data: dict[str, object] = {}
    address = ret.find(_ADDRESS[entity])
    if address is not None:
        data["address"] = {
            tag: address.findtext(tag) for tag in _ADDRESS_FIELDS if address.findtext(tag)
        }
    for tag, name in _TEXT_FIELDS.items():
        value = ret.findtext(tag)
        if value:
            data[name] = value
    parent = ret.findtext("ParentRef/ListID")
    if parent:
        data["parent_list_id"] = parent
    if st_id is not None:
        data["st_id"] = st_id
    modified = ret.findtext("TimeModified")
    if modified:
        data["time_modified"] = modified
    return QbChange(
        connection=connection,
        entity=entity,
        list_id=ret.findtext("ListID") or "",
        edit_sequence=ret.findtext("EditSequence") or "",
        name=ret.findtext("Name") or "",
        active=(ret.findtext("IsActive") or "true") == "true",
        data=data,
    )
