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
    """One version of one ServiceTitan record, as st-ingest saw it.

    `generation` is 0 for what ServiceTitan sent; an operator's retry publishes the same
    version again with a higher generation (unix milliseconds of the retry), so that it is
    mapped afresh with the current mapping and supersedes the failed attempt. `event_id`
    names the version and stays the same across generations; `message_id` (the
    `Nats-Msg-Id`) tells generations apart.
    """

    tenant: str
    entity: EntityName
    st_id: int = Field(description="ServiceTitan id (int64 in ServiceTitan's documents)")
    version: str = Field(description="modifiedOn (or a content hash) of this version")
    source: Literal["export", "webhook", "list", "replay", "retry", "backfill"] = "export"
    received_at: dt.datetime = Field(default_factory=utcnow)
    generation: int = Field(default=0, ge=0)
    record: Record
    raw: dict[str, Any] = Field(default_factory=dict, description="ServiceTitan's JSON as sent")

    @property
    def event_id(self) -> str:
        return f"{self.tenant}:{self.entity}:{self.st_id}:{self.version}"

    @property
    def message_id(self) -> str:
        return self.event_id if not self.generation else f"{self.event_id}:g{self.generation}"

    @property
    def version_at(self) -> dt.datetime | None:
        """ServiceTitan's modifiedOn of this version (UTC), when the record carries one."""
        modified = getattr(self.record, "modified_on", None)
        if isinstance(modified, dt.datetime):
            return modified if modified.tzinfo else modified.replace(tzinfo=dt.UTC)
        return None


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
    role: str = Field(default="", description="Command.role of the transaction it names")

    @staticmethod
    def make(entity: EntityName, st_id: int, role: str = "") -> LateRef:
        return LateRef(
            placeholder=f"@ref:{record_key(entity, st_id, role)}",
            entity=entity,
            st_id=st_id,
            role=role,
        )

    @property
    def record(self) -> str:
        """The record key it names ('<entity>:<st id>[:<role>]')."""
        return record_key(self.entity, self.st_id, self.role)


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
# Other requests that post (or void) the record itself rather than something it needs: a
# negative ServiceTitan invoice is a QuickBooks credit memo; a record voided or deleted in
# ServiceTitan after it posted is voided (TxnVoidRq) or deleted (TxnDelRq) in QuickBooks.
RECORD_REQUEST_ALTERNATIVES: dict[str, frozenset[str]] = {
    "invoice": frozenset({"CreditMemoAddRq", "TxnVoidRq"}),
    "payment": frozenset({"TxnDelRq", "TxnVoidRq"}),
    "bill": frozenset({"TxnVoidRq"}),
    "customer": frozenset(),
    "vendor": frozenset(),
}

# Placeholder for a line's TxnLineID inside an InvoiceMod's line (`@line:<line key>`): the
# gateway puts the TxnLineID QuickBooks gave that line when it posted (`IdMapping.line_ids`),
# or -1 for a line QuickBooks does not have yet (qbXML: TxnLineID -1 adds a line).
LINE_ID_PREFIX = "@line:"

# post: add the record, or modify/flag it when QuickBooks has it. void: follow a void or delete
# in ServiceTitan. fail: the mapper could not translate this version (`summary` says why,
# `hint` what to do); nothing is sent, but the gateway knows the record failed, so records
# that depend on it fail at once instead of waiting.
CommandAction = Literal["post", "void", "fail"]

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
    - `mod_qbxml` set (customers, vendors; invoices and credit memos whose mapping says
      `on_change: modify`): the gateway sends that Mod instead of the Add, after querying the
      object in the same session for a fresh EditSequence; its ListID (TxnID) and
      EditSequence elements hold `SELF_ID` and `FRESH_EDIT_SEQUENCE`, and each line's
      TxnLineID holds `LINE_ID_PREFIX` + the line's key (`line_keys`).
    - `mod_qbxml` unset (payments, bills, invoices whose mapping says `on_change: flag`):
      nothing is sent; the record becomes a "changed" outcome listing how `fingerprint`
      differs from the posted version's.

    `action` "fail": the mapper refused this version (`summary`, `hint`); its command id is
    the one of the mapper's failed outcome, so the gateway's outcome for it is the same message.

    `action` "void": the record is inactive (voided or deleted) in ServiceTitan. `qbxml` is
    the TxnVoidRq/TxnDelRq naming the record by `SELF_ID`, or "" when the mapping says to
    flag it for the accountant instead; nothing is sent for a record QuickBooks never had.

    Versions of one record (connection, entity, st_id) are ordered by `version_order()`:
    ServiceTitan's modifiedOn (`version_at`), then `generation` (an operator's retry), then
    the event's version string. A newer version supersedes a queued older one; an older one
    arriving after a newer one is never applied.
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
    action: CommandAction = "post"
    version_at: dt.datetime | None = Field(
        default=None, description="ServiceTitan's modifiedOn of the version (UTC); None: unknown"
    )
    generation: int = Field(default=0, ge=0, description="StEvent.generation it was mapped from")
    requires: tuple[str, ...] = Field(
        default=(),
        description="command ids of this event's prerequisites, sent before this command",
    )
    expected: dict[str, str] = Field(
        default_factory=dict,
        description="what QuickBooks must compute, in decimal dollars ('405.13'), by name: "
        "'subtotal', 'sales_tax', 'total' (compared with its read-back amounts)",
    )
    hint: str = Field(default="", description='action "fail": what the operator can do')
    role: str = Field(
        default="",
        description="'' for the record itself; another name for a second QuickBooks "
        "transaction the record owns, kept and versioned on its own (e.g. 'apply': the "
        "ReceivePayment that applies a credit memo to the invoice it adjusts)",
    )
    line_keys: tuple[str, ...] = Field(
        default=(),
        description="the ServiceTitan key of each line element of the Add, in order; the "
        "gateway records the TxnLineID QuickBooks gives each (IdMapping.line_ids)",
    )

    def version_order(self) -> tuple[dt.datetime, int, str]:
        """The key that orders versions of one record (later = newer)."""
        return version_order(self.version_at, self.generation, self.event_id)

    @property
    def record_key(self) -> str:
        """'<entity>:<st id>' (':<role>' for a transaction the record owns)."""
        return record_key(self.entity, self.st_id, self.role)

    @property
    def is_prerequisite(self) -> bool:
        """A command that makes sure something exists (ItemServiceAddRq, a job's CustomerAddRq)
        or follows the record (a credit memo's application, a ReceivePaymentAddRq of an
        invoice event) rather than posting, voiding or deleting the event's record itself
        (`RECORD_REQUEST_TYPES`, `RECORD_REQUEST_ALTERNATIVES`).

        Its QuickBooks id is not the record's, so it never enters the id map under the
        command's (entity, st_id); when its lookup finds the object, or QuickBooks answers 3100
        (name in use), the object exists and the command is done.
        """
        if self.action != "post" or self.role:
            return False
        if self.request_type == RECORD_REQUEST_TYPES.get(self.entity):
            return False
        return self.request_type not in RECORD_REQUEST_ALTERNATIVES.get(self.entity, frozenset())

    @staticmethod
    def make_id(connection: str, event_id: str, request_type: str) -> str:
        """Deterministic: the same event mapped twice yields the same command id."""
        digest = hashlib.sha256(f"{connection}|{event_id}|{request_type}".encode()).hexdigest()
        return f"cmd-{digest[:32]}"


def record_key(entity: str, st_id: int, role: str = "") -> str:
    """'<entity>:<st id>', or '<entity>:<st id>:<role>' for a transaction the record owns."""
    return f"{entity}:{st_id}:{role}" if role else f"{entity}:{st_id}"


def record_guid(connection: str, entity: str, st_id: int, purpose: str = "") -> str:
    """The ExternalGUID (qbXML GUIDTYPE, "{8-4-4-4-12}" upper-case hex) the mapper puts on a
    record's transaction: the same for every version, generation and attempt of one
    ServiceTitan record in one connection, so that a lookup before re-sending finds a
    transaction posted by any earlier version. `purpose` tells apart another transaction the
    same record makes (e.g. "credit-application")."""
    digest = hashlib.sha256(f"{connection}|{entity}|{st_id}|{purpose}".encode()).hexdigest()
    h = digest[:32].upper()
    return "{" + f"{h[0:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" + "}"


def version_order(
    version_at: dt.datetime | None, generation: int, event_id: str
) -> tuple[dt.datetime, int, str]:
    """ServiceTitan's modifiedOn, then the retry generation, then the event's version text;
    a version without modifiedOn sorts before every dated one."""
    at = version_at or dt.datetime.min.replace(tzinfo=dt.UTC)
    return (at if at.tzinfo else at.replace(tzinfo=dt.UTC), generation, event_id)


# "changed": the record changed in ServiceTitan after it posted and is left for an accountant.
# "superseded": a newer version of the record was queued before this one was sent (or this
# one is older than what QuickBooks already has): never sent.
# "voided": voided/deleted in QuickBooks to follow ServiceTitan (or never posted because it
# was inactive before it could be).
# "differs": posted, but QuickBooks computed other amounts than ServiceTitan (`amounts`).
OutcomeStatus = Literal[
    "posted", "failed", "retrying", "waiting", "changed", "superseded", "voided", "differs"
]


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
    role: str = Field(default="", description="Command.role: '' when about the record itself")
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
    amounts: dict[str, str] | None = Field(
        default=None,
        description="what QuickBooks holds after posting, decimal dollars by name: 'subtotal', "
        "'sales_tax', 'total', 'balance' (read back from its response)",
    )
    expected: dict[str, str] | None = Field(
        default=None, description="what ServiceTitan says, same names (Command.expected)"
    )
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def outcome_id(self) -> str:
        return f"{self.command_id}:{self.attempt}"


class QbChange(Envelope):
    """A customer or vendor that changed inside QuickBooks (published by the gateway on
    `qb.changes.<connection>.<entity>`, stream QB_CHANGES, message id `change_id`); st-ingest
    writes it to ServiceTitan (PATCH, or POST for one ServiceTitan does not have yet when the
    connection's mapping says `create_in_servicetitan`).

    `name` is QuickBooks' Name (not FullName); `active` its IsActive; `edit_sequence` orders
    changes of one ListID (a change not newer than the last one written is ignored).
    `data` carries the rest, keys named like QuickBooks' CustomerRet/VendorRet elements, each
    absent when QuickBooks has no value (all strings unless said otherwise):

    - "address": {"Addr1".."Addr5", "City", "State", "PostalCode", "Country"}, the
      BillAddress (customers) or VendorAddress (vendors) element's children as QuickBooks
      answered them. The mapper writes Addr1 = the name, Addr2 = street, Addr3 = unit;
      st-ingest reads them back that way (an Addr1 equal to the name is the addressee).
    - "phone", "email": Phone and Email. "first_name", "last_name": FirstName/LastName
      (vendors: ServiceTitan's contact name). "company_name": CompanyName.
    - "parent_list_id": ParentRef/ListID of a job (sub-customer): ServiceTitan locations are
      not written back, so st-ingest ignores such changes.
    - "st_id": int, the ServiceTitan id when the gateway knows it (the id map); without it
      st-ingest finds it from the outcomes that posted the ListID.
    - "time_modified": TimeModified as QuickBooks reported it (ISO 8601, local time).

    Changes ml-connector made itself are never published: the gateway recognises them by the
    EditSequence its own Add/Mod answered for that ListID (IdMapping.edit_sequence in the id
    map): a queried record whose EditSequence equals it was last written by ml-connector.
    """

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


class SessionReport(Envelope):
    """One Web Connector contact, as the gateway saw it (published on `qb.sessions.<connection>`,
    stream QB_OUTCOMES), so that audit can tell whether the Web Connector is running.

    `result`: "none" (authenticated, nothing to do), "ok" (the session ended normally),
    "error" (QuickBooks or the Web Connector reported an error: `hresult`, `last_error`),
    "refused" (wrong user name or password, or a client version refused). Counts are of
    this session's outcomes.
    """

    connection: str
    started_at: dt.datetime
    ended_at: dt.datetime = Field(default_factory=utcnow)
    result: Literal["none", "ok", "error", "refused"]
    posted: int = 0
    failed: int = 0
    waiting: int = 0
    retrying: int = 0
    changed: int = 0
    hresult: str | None = None
    last_error: str | None = Field(default=None, description="in plain words, for the office")
    client_version: str | None = None
    qbxml_version: str | None = None

    @property
    def report_id(self) -> str:
        return f"{self.connection}:{self.started_at.isoformat()}:{self.result}"


class FeedReport(Envelope):
    """The state of one ServiceTitan feed of one tenant after a poll (published on
    `st.feeds.<tenant>.<entity>`, stream ST_EVENTS, when the state changes or a problem is
    new), so that audit and `mlconnector status` can show a stuck or failing feed.

    `state`: "ok", "stuck" (the export repeats its continuation token or does not advance),
    "failing" (errors N polls in a row: `error`), "forbidden" (403: the tenant lacks the
    module), "unauthorized" (credentials refused).
    """

    tenant: str
    entity: str
    state: Literal["ok", "stuck", "failing", "forbidden", "unauthorized"]
    error: str | None = Field(default=None, description="in plain words, for the operator")
    failures: int = 0
    published: int = 0
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def report_id(self) -> str:
        return f"{self.tenant}:{self.entity}:{self.at.isoformat()}"


WriteBackAction = Literal["mark_exported", "payment_status", "update", "create"]


class WriteBack(Envelope):
    """What st-ingest wrote (or could not write) to ServiceTitan for one record, published on
    `st.writeback.<tenant>.<entity>` (stream ST_EVENTS) so that audit can show it on the
    record's trail.

    `action`: "mark_exported" (invoices/markasexported with the TxnID as externalId, or
    inventory-bills/markasexported), "payment_status" (payments/status Exported), "update"
    (a QuickBooks customer/vendor change PATCHed into ServiceTitan), "create" (POSTed).
    `status`: "done"; "retrying" (ServiceTitan refused it or did not answer; `attempt` of
    `max_attempts`, tried again); "failed" (given up: `error` says why, in plain words).
    `source_id` is what caused it: the outcome id (`<command id>:<attempt>`) or the QbChange
    id. `qb_id` is the QuickBooks TxnID/ListID concerned.
    """

    connection: str
    tenant: str
    entity: EntityName
    st_id: int | None = Field(description="ServiceTitan id; None for a POST that failed")
    action: WriteBackAction
    status: Literal["done", "retrying", "failed"]
    qb_id: str | None = None
    source_id: str = ""
    attempt: int = Field(default=1, ge=1)
    max_attempts: int = Field(default=1, ge=1)
    error: str | None = None
    at: dt.datetime = Field(default_factory=utcnow)

    @property
    def write_id(self) -> str:
        """The Nats-Msg-Id: one message per record, action, cause, attempt and status."""
        return (
            f"{self.tenant}:{self.entity}:{self.st_id}:{self.action}:{self.source_id}:"
            f"{self.attempt}:{self.status}"
        )
