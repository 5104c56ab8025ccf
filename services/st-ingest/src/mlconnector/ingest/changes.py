"""Customers and vendors changed in QuickBooks, written to ServiceTitan.

Consumes QB_CHANGES (`qb.changes.<connection>.<entity>`, `QbChange`; its docstring says what
`data` carries) on the durable consumer `st-ingest-changes`. For a ListID whose ServiceTitan
id is known (`data["st_id"]`, or the link kept from the outcome that posted it), the current
record is read and only the fields QuickBooks holds differently are PATCHed
(Customers_Update: name, active, address; Vendors_Update: name, active, address, phone,
email, firstName, lastName). A ListID ServiceTitan does not have is POSTed when the
connection's mapping says `create_in_servicetitan` (Customers_Create needs a location: the
customer's own address; Vendors_Create its required flags), and the id map learns the pair
so that the new ServiceTitan record is not added to QuickBooks again.

No echo: before writing, the fingerprint of the record as it will read back is stored
(`StState.save_echo`); the poller does not publish a version that matches it, so the mapper
never turns st-ingest's own write into a QuickBooks Mod. QuickBooks-side: the gateway leaves
out changes ml-connector made (see `QbChange`).

What the mapper wrote into QuickBooks is read back its way: a name that is the ServiceTitan
name as QuickBooks stores it (ISO-8859-1, ':' as '-', cut to 41 with ' #<id>') is not a
change; Addr1 equal to the name is the addressee, then street, then unit. Customer phone and
email live in ServiceTitan's contacts, which are not written (a later step).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from typing import Any, Literal

import nats.errors
from nats.aio.msg import Msg
from nats.js import JetStreamContext
from nats.js.api import AckPolicy, ConsumerConfig, DeliverPolicy
from pydantic import ValidationError

from mlconnector.common.envelopes import QbChange, WriteBack
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.qbxml import to_qb_text
from mlconnector.common.streams import QB_CHANGES
from mlconnector.ingest.auth import StAuthError
from mlconnector.ingest.client import StApiError, StClient
from mlconnector.ingest.publisher import EventPublisher
from mlconnector.ingest.state import Link, StState, party_fingerprint
from mlconnector.ingest.tenants import TenantDirectory
from mlconnector.ingest.translate import translate_customer, translate_vendor

log = logging.getLogger(__name__)

DURABLE = "st-ingest-changes"
Kind = Literal["customer", "vendor"]
_SPACES = re.compile(r"\s+")


class ChangeRefused(RuntimeError):
    """ServiceTitan will not take this change as it is (retrying would not help)."""


def qb_form(text: str | None) -> str:
    """Text as QuickBooks stores what the mapper sent: ISO-8859-1, one line."""
    return _SPACES.sub(" ", to_qb_text(text or "")).strip()


def name_changed(qb_name: str, st_name: str, st_id: int) -> bool:
    """Whether QuickBooks' name is a new name rather than ServiceTitan's as the mapper
    stored it (mapper naming.qb_name: ':' -> '-', ' #<id>' when cut or always)."""
    stored = qb_form(st_name).replace(":", "-")
    suffix = f" #{st_id}"
    base = qb_name.removesuffix(suffix).rstrip() if qb_name.endswith(suffix) else qb_name
    if base == stored:
        return False
    # Cut to fit 41 characters: the kept head of ServiceTitan's name.
    return not (qb_name.endswith(suffix) and base and stored.startswith(base))


def qb_address(data: dict[str, Any], names: tuple[str, ...]) -> dict[str, str] | None:
    """QuickBooks' address as ServiceTitan fields (street, unit, city, state, zip, country)."""
    raw = data.get("address")
    if not isinstance(raw, dict):
        return None
    lines = [str(raw.get(f"Addr{n}") or "").strip() for n in range(1, 6)]
    lines = [line for line in lines if line]
    if lines and lines[0] in names:
        lines = lines[1:]  # the addressee the mapper put first
    return {
        "street": lines[0] if lines else "",
        "unit": ", ".join(lines[1:]),
        "city": str(raw.get("City") or ""),
        "state": str(raw.get("State") or ""),
        "zip": str(raw.get("PostalCode") or ""),
        "country": str(raw.get("Country") or ""),
    }


def address_patch(
    current: dict[str, Any] | None, qb: dict[str, str] | None, customer: bool
) -> dict[str, Any] | None:
    """The address to send, or None when QuickBooks holds the same (as it stores it)."""
    if qb is None:
        return None
    current = current or {}
    if all(qb_form(current.get(k)) == v for k, v in qb.items()):
        return None
    merged: dict[str, Any] = {
        k: (str(current.get(k) or "") if qb_form(current.get(k)) == v else v) for k, v in qb.items()
    }
    if customer:
        # UpdateCustomerAddress requires the coordinates (tenant-crm-v2.json); ServiceTitan
        # geocoded the old address, so they are sent back as they are.
        lat, lng = current.get("latitude"), current.get("longitude")
        if not isinstance(lat, int | float) or not isinstance(lng, int | float):
            return None
        merged |= {"latitude": lat, "longitude": lng}
    return merged


def build_patch(kind: Kind, current: dict[str, Any], change: QbChange) -> dict[str, Any]:
    """The fields of a ServiceTitan Update request that QuickBooks holds differently."""
    st_id = int(current["id"])
    patch: dict[str, Any] = {}
    if name_changed(change.name, str(current.get("name") or ""), st_id):
        patch["name"] = change.name
    if bool(current.get("active", True)) != change.active:
        patch["active"] = change.active
    names = (change.name, qb_form(str(current.get("name") or "")))
    address = address_patch(
        current.get("address"), qb_address(change.data, names), kind == "customer"
    )
    if address is not None:
        patch["address"] = address
    if kind == "vendor":
        contact = current.get("contactInfo") or {}
        for field, key in (
            ("phone", "phone"),
            ("email", "email"),
            ("firstName", "first_name"),
            ("lastName", "last_name"),
        ):
            value = change.data.get(key)
            if isinstance(value, str) and qb_form(contact.get(field)) != value:
                patch[field] = value
    return patch


def create_body(kind: Kind, change: QbChange) -> dict[str, Any]:
    """A ServiceTitan Create request for a record QuickBooks has and ServiceTitan has not."""
    address = qb_address(change.data, (change.name,)) or {
        "street": "",
        "unit": "",
        "city": "",
        "state": "",
        "zip": "",
        "country": "",
    }
    if kind == "customer":
        body_address = {k: v for k, v in address.items() if k != "unit" or v}
        return {
            "name": change.name,
            "address": body_address,
            # Customers_Create requires a location: the customer's own address.
            "locations": [{"name": change.name, "address": body_address}],
        }
    body: dict[str, Any] = {
        "name": change.name,
        "active": change.active,
        "isTruckReplenishment": False,
        "taxRate": 0,
        "restrictedMobileCreation": False,
        "address": address,
    }
    for field, key in (
        ("phone", "phone"),
        ("email", "email"),
        ("firstName", "first_name"),
        ("lastName", "last_name"),
    ):
        if isinstance(change.data.get(key), str):
            body[field] = change.data[key]
    return body


def _newer(change: str, last: str | None) -> bool:
    """EditSequence orders a ListID's changes (QuickBooks: a number that grows)."""
    if last is None:
        return True
    if change.isdigit() and last.isdigit():
        return int(change) > int(last)
    return change != last


class ChangeWriter:
    def __init__(
        self,
        js: JetStreamContext,
        directory: TenantDirectory,
        publisher: EventPublisher,
        state: StState,
        idmap: IdMap,
        attempts: int = 5,
        retry_seconds: float = 30.0,
    ) -> None:
        self._js = js
        self._directory = directory
        self._publisher = publisher
        self._state = state
        self._idmap = idmap
        self._attempts = attempts
        self._retry = retry_seconds
        self.written = 0

    async def run(self, stop: asyncio.Event) -> None:
        sub = await self._js.pull_subscribe(
            "qb.changes.>",
            durable=DURABLE,
            stream=QB_CHANGES.name,
            config=ConsumerConfig(
                ack_policy=AckPolicy.EXPLICIT, deliver_policy=DeliverPolicy.ALL, ack_wait=120
            ),
        )
        while not stop.is_set():
            try:
                msgs = await sub.fetch(20, timeout=1.0)
            except (nats.errors.TimeoutError, TimeoutError):
                continue
            except Exception as exc:
                log.error("cannot read QB_CHANGES: %s", exc)
                await asyncio.sleep(1.0)
                continue
            for msg in msgs:
                await self.handle(msg)
        with contextlib.suppress(Exception):
            await sub.unsubscribe()

    async def handle(self, msg: Msg) -> None:
        try:
            change = QbChange.model_validate_json(msg.data)
        except ValidationError:
            await msg.ack()
            return
        attempt = int(msg.metadata.num_delivered or 1)
        try:
            write = await self.apply(change)
        except ChangeRefused as exc:
            await self._report(change, None, "update", "failed", attempt, str(exc))
            await msg.ack()
            return
        except (StApiError, StAuthError) as exc:
            final = attempt >= self._attempts
            await self._report(
                change, None, "update", "failed" if final else "retrying", attempt, str(exc)
            )
            if final:
                await msg.ack()
            else:
                await msg.nak(delay=self._retry)
            return
        if write is not None:
            action, st_id = write
            self.written += 1
            await self._report(change, st_id, action, "done", attempt, None)
        await msg.ack()

    async def apply(self, change: QbChange) -> tuple[Literal["update", "create"], int] | None:
        """Write one change; (action, ServiceTitan id) when something was written."""
        found = self._directory.for_connection(change.connection)
        connection = self._directory.connections.get(change.connection)
        if connection is None:
            return None
        mapping = connection.mapping
        if not mapping.update_servicetitan or change.data.get("parent_list_id"):
            return None  # turned off, or a job (a ServiceTitan location): not written back
        if found is None or found[1].client is None:
            raise StApiError(
                f"ServiceTitan is not reachable for tenant {connection.tenant}: "
                + (found[1].problem if found and found[1].problem else "no client")
            )
        client = found[1].client
        tenant = connection.tenant
        kind: Kind = change.entity
        link = await self._state.link(change.connection, kind, change.list_id)
        if link is not None and not _newer(change.edit_sequence, link.edit_sequence):
            return None  # already written (a redelivery) or older than what was
        st_id = change.data.get("st_id")
        if not isinstance(st_id, int) and link is not None:
            st_id = link.st_id
        if isinstance(st_id, int):
            await self._update(client, tenant, kind, st_id, change)
            action: Literal["update", "create"] = "update"
        elif mapping.create_in_servicetitan:
            st_id = await self._create(client, tenant, kind, change)
            action = "create"
        else:
            log.info(
                "%s %r was added in QuickBooks; not added to ServiceTitan "
                "(create_in_servicetitan is off)",
                kind,
                change.name,
            )
            return None
        await self._state.save_link(
            change.connection,
            kind,
            change.list_id,
            Link(st_id=st_id, edit_sequence=change.edit_sequence),
        )
        return action, st_id

    async def _update(
        self, client: StClient, tenant: str, kind: Kind, st_id: int, change: QbChange
    ) -> None:
        current = await client.get_record(kind, st_id)
        patch = build_patch(kind, current, change)
        if not patch:
            return
        expected = _apply(kind, current, patch)
        # Stored before the write: a poll that reads the new version at once recognises it.
        await self._remember(tenant, kind, expected)
        try:
            answer = await client.update_record(kind, st_id, patch)
        except StApiError as exc:
            if exc.status in (400, 404):
                raise ChangeRefused(
                    f"ServiceTitan refused the QuickBooks change of {kind} {change.name!r}: {exc}"
                ) from exc
            raise
        after = answer if kind == "customer" else await client.get_record(kind, st_id)
        await self._remember(tenant, kind, after)

    async def _create(self, client: StClient, tenant: str, kind: Kind, change: QbChange) -> int:
        try:
            st_id = await client.create_record(kind, create_body(kind, change))
        except StApiError as exc:
            if exc.status == 400:
                raise ChangeRefused(
                    f"ServiceTitan refused to add {kind} {change.name!r} from QuickBooks: {exc}"
                ) from exc
            raise
        await self._remember(tenant, kind, await client.get_record(kind, st_id))
        await self._idmap.put(
            change.connection,
            kind,
            st_id,
            IdMapping(qb_id=change.list_id, edit_sequence=change.edit_sequence),
        )
        return st_id

    async def _remember(self, tenant: str, kind: Kind, record: Any) -> None:
        party = translate_customer(record) if kind == "customer" else translate_vendor(record)
        await self._state.save_echo(tenant, kind, party.st_id, party_fingerprint(party))

    async def _report(
        self,
        change: QbChange,
        st_id: int | None,
        action: Literal["update", "create"],
        status: Literal["done", "retrying", "failed"],
        attempt: int,
        error: str | None,
    ) -> None:
        connection = self._directory.connections.get(change.connection)
        await self._publisher.write_back(
            WriteBack(
                connection=change.connection,
                tenant=connection.tenant if connection else "unknown",
                entity=change.entity,
                st_id=st_id,
                action=action,
                status=status,
                qb_id=change.list_id,
                source_id=change.change_id,
                attempt=attempt,
                max_attempts=self._attempts,
                error=error,
            )
        )


def _apply(kind: Kind, current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """The record as ServiceTitan will answer it after the patch (for the echo mark)."""
    record = dict(current)
    if kind == "customer":
        record.update(patch)
        return record
    contact = dict(record.get("contactInfo") or {})
    for field in ("phone", "email", "firstName", "lastName"):
        if field in patch:
            contact[field] = patch[field]
    record["contactInfo"] = contact
    for field in ("name", "active", "address"):
        if field in patch:
            record[field] = patch[field]
    return record
