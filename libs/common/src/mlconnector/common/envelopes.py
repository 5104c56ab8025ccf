"""Message contracts on the four streams: event, command, outcome, QuickBooks change."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from mlconnector.common.models import EntityName, Record


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Envelope(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class StEvent(Envelope):
    """One version of one ServiceTitan record, as st-ingest saw it."""

    tenant: str
    entity: EntityName
    st_id: int
    version: str = Field(description="modifiedOn (or a content hash) of this version")
    source: Literal["export", "webhook", "list", "replay"] = "export"
    received_at: dt.datetime = Field(default_factory=utcnow)
    record: Record
    raw: dict[str, Any] = Field(default_factory=dict, description="ServiceTitan's JSON as sent")

    @property
    def event_id(self) -> str:
        return f"{self.tenant}:{self.entity}:{self.st_id}:{self.version}"


class StRejection(Envelope):
    """A ServiceTitan record st-ingest could not read: kept, explained, never silently dropped.

    Published on `st.rejected.<tenant>.<entity>` (stream ST_EVENTS, outside the mapper's
    `st.events.>` filter) so that audit shows it to the operator with ServiceTitan's JSON.
    """

    tenant: str
    entity: EntityName
    st_id: int | None
    error: str = Field(description="what is wrong, naming the record and the field")
    raw: dict[str, Any] = Field(default_factory=dict)
    received_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def rejection_id(self) -> str:
        digest = hashlib.sha256(
            json.dumps(self.raw, sort_keys=True, default=str).encode()
        ).hexdigest()[:16]
        return f"{self.tenant}:{self.entity}:{self.st_id}:rejected:{digest}"


class LateRef(Envelope):
    """A reference the gateway resolves from the id map when it sends the command.

    The command's qbXML carries `placeholder` as the text of a ListID/TxnID element.
    """

    placeholder: str
    entity: EntityName
    st_id: int

    @staticmethod
    def make(entity: EntityName, st_id: int) -> LateRef:
        return LateRef(placeholder=f"@ref:{entity}:{st_id}", entity=entity, st_id=st_id)


# The request that posts the record itself, per entity. An event may also produce commands
# before it that make sure something the record names exists (an item per GL account, a
# location's job): prerequisites.
RECORD_REQUEST_TYPES: dict[str, str] = {
    "customer": "CustomerAddRq",
    "vendor": "VendorAddRq",
    "invoice": "InvoiceAddRq",
    "payment": "ReceivePaymentAddRq",
    "bill": "BillAddRq",
}

# Placeholders inside `Command.mod_qbxml`: the gateway puts the record's own ListID/TxnID
# (from the id map) and the EditSequence it has just queried in the same session (rule 3).
SELF_ID = "@self"
FRESH_EDIT_SEQUENCE = "@edit-sequence"


class Command(Envelope):
    """One intended QuickBooks change.

    `qbxml` is one request element (e.g. `<InvoiceAddRq>...</InvoiceAddRq>`) without the
    QBXML/QBXMLMsgsRq wrapper or requestID: the gateway batches and numbers requests.
    `lookup_qbxml` is a query that finds the object if an earlier attempt already posted it.

    What happens when the id map already knows the record:
    - `mod_qbxml` set (customers, vendors): the gateway sends that Mod instead of the Add,
      after querying the object in the same session for a fresh EditSequence; its ListID and
      EditSequence elements hold `SELF_ID` and `FRESH_EDIT_SEQUENCE`.
    - `mod_qbxml` unset (invoices, payments, bills): nothing is sent; the record becomes a
      "changed" outcome listing how `fingerprint` differs from the posted version's.
    """

    command_id: str
    connection: str
    tenant: str
    entity: EntityName
    st_id: int
    event_id: str
    request_type: str
    qbxml: str
    lookup_qbxml: str | None = None
    refs: tuple[LateRef, ...] = ()
    summary: str = ""
    mod_qbxml: str | None = None
    fingerprint: dict[str, str] = Field(
        default_factory=dict,
        description="what an accountant compares between two versions, label -> value "
        "(e.g. 'total' -> '408.05', 'line 1' -> 'Labor: 2 x 125.00 = 250.00')",
    )
    created_at: dt.datetime = Field(default_factory=utcnow)

    @property
    def is_prerequisite(self) -> bool:
        """A command that makes sure something exists (ItemServiceAddRq, a job's CustomerAddRq)
        rather than posting the event's record itself.

        Its QuickBooks id is not the record's, so it never enters the id map under the
        command's (entity, st_id); when its lookup finds the object, or QuickBooks answers 3100
        (name in use), the object exists and the command is done.
        """
        return self.request_type != RECORD_REQUEST_TYPES.get(self.entity)

    @staticmethod
    def make_id(connection: str, event_id: str, request_type: str) -> str:
        """Deterministic: the same event mapped twice yields the same command id."""
        digest = hashlib.sha256(f"{connection}|{event_id}|{request_type}".encode()).hexdigest()
        return f"cmd-{digest[:32]}"


# "changed": the record changed in ServiceTitan after it posted; an accountant resolves it.
OutcomeStatus = Literal["posted", "failed", "retrying", "waiting", "changed"]


class Outcome(Envelope):
    """What QuickBooks did (or why nothing happened yet) with one command attempt."""

    command_id: str
    attempt: int
    connection: str
    tenant: str
    entity: EntityName
    st_id: int
    event_id: str
    status: OutcomeStatus
    qb_id: str | None = Field(default=None, description="TxnID or ListID once posted")
    edit_sequence: str | None = None
    status_code: int | None = None
    status_severity: str | None = None
    status_message: str | None = None
    hint: str | None = Field(default=None, description="what the operator can do")
    request_qbxml: str | None = None
    response_qbxml: str | None = None
    prerequisite: bool = Field(
        default=False,
        description="the command made sure something the record needs exists (an item, a "
        "job); its posting is not the record's",
    )
    difference: dict[str, tuple[str | None, str | None]] | None = Field(
        default=None,
        description='status "changed": label -> (posted value, new value), None where the '
        "version has no such label; None when the posted version is not known",
    )
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def outcome_id(self) -> str:
        return f"{self.command_id}:{self.attempt}"


class QbChange(Envelope):
    """A customer or vendor that changed inside QuickBooks."""

    connection: str
    entity: Literal["customer", "vendor"]
    list_id: str
    edit_sequence: str
    name: str
    active: bool = True
    data: dict[str, Any] = Field(default_factory=dict)
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def change_id(self) -> str:
        return f"{self.connection}:{self.list_id}:{self.edit_sequence}"
