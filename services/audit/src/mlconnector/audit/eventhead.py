"""What audit reads of a ServiceTitan event: its envelope and the few record fields people
recognise it by, validated without the record's lines.

st-ingest publishes validated `StEvent`s and the mapper validates each fully again; audit
stores the event as published and needs only these fields, so it does not pay for validating
every line amount of every version (the largest part of its decoding). A retry validates the
stored event fully (`StEvent`) before publishing it again.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict

from mlconnector.common.envelopes import StEvent, version_order
from mlconnector.common.models import EntityName


class RecordHead(BaseModel):
    """The fields of a canonical record (common.models) audit shows; the rest is ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    kind: Literal["customer", "vendor", "invoice", "payment", "bill"]
    name: str | None = None  # customer, vendor
    number: str | None = None  # invoice
    reference: str | None = None  # payment, bill
    customer_name: str | None = None
    vendor_name: str | None = None
    invoice_date: dt.date | None = None
    payment_date: dt.date | None = None
    bill_date: dt.date | None = None
    total: Decimal | None = None  # decimal dollars
    active: bool = True
    modified_on: dt.datetime | None = None

    @property
    def party(self) -> str | None:
        return self.customer_name or self.vendor_name or self.name

    @property
    def ref(self) -> str | None:
        return self.number or self.reference or None

    @property
    def date(self) -> dt.date | None:
        return self.invoice_date or self.payment_date or self.bill_date


class EventHead(BaseModel):
    """An StEvent as audit reads it (same JSON; ids and ordering as StEvent's)."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    tenant: str
    entity: EntityName
    st_id: int
    version: str
    source: str = "export"
    received_at: dt.datetime
    generation: int = 0
    record: RecordHead

    @classmethod
    def of(cls, event: StEvent) -> EventHead:
        return cls.model_validate_json(event.model_dump_json())

    @property
    def event_id(self) -> str:
        return f"{self.tenant}:{self.entity}:{self.st_id}:{self.version}"

    @property
    def message_id(self) -> str:
        return self.event_id if not self.generation else f"{self.event_id}:g{self.generation}"

    @property
    def version_at(self) -> dt.datetime | None:
        modified = self.record.modified_on
        if modified is None:
            return None
        return modified if modified.tzinfo else modified.replace(tzinfo=dt.UTC)

    def version_order(self) -> tuple[dt.datetime, int, str]:
        return version_order(self.version_at, self.generation, self.event_id)
