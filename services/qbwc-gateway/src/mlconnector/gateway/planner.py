"""Planning the next qbXML message of a session from the connection's ledger.

Every queued record is considered each round, dependencies first (customers and vendors,
then invoices and bills, then payments), so a record that waits never hides the one it waits
for. For each record, what QuickBooks already holds (the id map) decides:
- an unanswered earlier attempt: its lookup first (rule 1), nothing else for the record;
- not in QuickBooks: its prerequisites (an item, a job) in one round, then the Add;
- in QuickBooks: nothing (the same version), a Mod after an EditSequence query in this
  session (rule 3), or a "changed" report for the accountant; a void follows ServiceTitan;
- older than what QuickBooks holds: superseded, never sent.
A record naming another that is not in QuickBooks yet goes later in the session when that one
goes in it, else waits for a later session, and fails at once when that one has failed.
Messages are cut at the connection's request limit and a byte limit (the Web Connector gives
QuickBooks about 60 s per message). A record that was in a message QuickBooks refused whole as
unreadable (0x80040400, `WorkEntry.refused`) goes in a message of its own after the others, so
that the request QuickBooks cannot read is found (settle.py) and the others post.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from lxml import etree

from mlconnector.common.envelopes import Command
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.qbxml import Request, build_message, element_from_string
from mlconnector.common.qbxml import schema as qbschema
from mlconnector.gateway.effects import Effects
from mlconnector.gateway.feed import CommandFeed
from mlconnector.gateway.ledger import Attempt, Change, LedgerStore, WorkEntry
from mlconnector.gateway.mods import (
    EditQuery,
    ModShapeError,
    describe,
    difference,
    edit_query,
    fill_mod,
    fill_void,
    id_label,
    object_of,
    query_element,
)
from mlconnector.gateway.refs import fill_refs, xml_text
from mlconnector.gateway.sessions import Progress, RequestKind, Sent, SessionState

# A Mod QuickBooks refuses as out of date (3200) is re-queried at most this many times in
# one session.
MAX_STALE_MODS = 3


@dataclass(frozen=True)
class Limits:
    """How much one message may carry, and how long records may wait or retry."""

    requests: int
    message_bytes: int
    wait_sessions: int
    retry_sessions: int


@dataclass
class _Round:
    state: SessionState
    limits: Limits
    entries: dict[str, WorkEntry]
    by_record: dict[str, WorkEntry]
    prerequisites: dict[str, WorkEntry]
    commands: dict[int, Command]
    known: dict[str, IdMapping]
    effects: Effects
    sents: list[Sent] = field(default_factory=list)
    queries: dict[EditQuery, list[tuple[WorkEntry, str]]] = field(default_factory=dict)
    size: int = 0
    # Records sent this round: their dependants go in a later round of this session.
    sending: set[str] = field(default_factory=set)
    # Records put off to a later session (or failed) in this round: not coming.
    blocked: set[str] = field(default_factory=set)
    # A record QuickBooks refused a message over (WorkEntry.refused) is in it: it goes alone.
    closed: bool = False

    @property
    def empty(self) -> bool:
        return not self.sents and not self.queries

    @property
    def full(self) -> bool:
        requests = len(self.sents) + len(self.queries)
        return (
            self.closed
            or requests >= self.limits.requests
            or self.size >= self.limits.message_bytes
        )

    def fits(self, xml: str, requests: int = 1) -> bool:
        if not self.sents and not self.queries:
            return True  # one record always goes, however large
        if len(self.sents) + len(self.queries) + requests > self.limits.requests:
            return False
        return self.size + len(xml) <= self.limits.message_bytes

    def add(
        self,
        entry: WorkEntry,
        kind: RequestKind,
        element: etree._Element,
        command: Command,
        *,
        qb_id: str | None = None,
    ) -> None:
        xml = xml_text(element)
        name = element.findtext("*/Name") if kind in ("add", "prerequisite") else None
        self.sents.append(
            Sent(
                request_id=self.state.next_request_id(),
                kind=kind,
                key=entry.key,
                command_id=command.command_id,
                stream_seq=entry.stream_seq
                if command.command_id == entry.command_id
                else _seq_of(entry, command.command_id),
                request_type=str(element.tag),
                xml=xml,
                name=name,
                qb_id=qb_id,
                entity=entry.entity,
                st_id=entry.st_id,
                trace=entry.trace,
            )
        )
        self.size += len(xml)
        self.sending.add(entry.record)


def _seq_of(entry: WorkEntry, command_id: str) -> int:
    for attempt in entry.unknown:
        if attempt.command_id == command_id:
            return attempt.stream_seq
    return entry.stream_seq


class Planner:
    def __init__(self, ledger: LedgerStore, feed: CommandFeed, id_map: IdMap) -> None:
        self._ledger = ledger
        self._feed = feed
        self._id_map = id_map

    async def plan(self, state: SessionState, limits: Limits) -> Effects:
        """Put the next message's requests in `state.planned` ([] when nothing more can go
        in this session); returns what must be written before it is handed out."""
        await self._fold_flights(state.connection)
        entries = await self._ledger.entries(state.connection)
        records = [e for e in entries.values() if e.kind == "record"]
        in_flight = {sent.key for sent in state.sent}
        candidates = sorted(
            (
                e
                for e in records
                if e.state == "queued"
                and e.key not in state.deferred
                and e.retry_ticket != state.ticket
                and e.key not in in_flight
            ),
            key=lambda e: (e.rank, e.first_seen, e.key),
        )
        round_ = _Round(
            state=state,
            limits=limits,
            entries=entries,
            by_record={e.record: e for e in records},
            prerequisites={e.command_id: e for e in entries.values() if e.kind == "prerequisite"},
            commands={},
            known={},
            effects=Effects(state),
        )
        self._drop_orphans(round_)
        await self._load(round_, candidates)
        suspects: list[WorkEntry] = []
        for entry in candidates:
            if round_.full:
                break
            if entry.refused:
                suspects.append(entry)  # alone, once nothing else goes (below)
                continue
            self._one(round_, entry)
        # A record in a message QuickBooks refused as unreadable goes alone, after the others
        # of the session: if it is the one QuickBooks cannot read, the Web Connector ends the
        # session on it (a negative percentage) with nothing else left behind.
        # Those refused least often first: the one QuickBooks cannot read is refused each
        # time it goes, and must not keep the ones that were only sent with it waiting.
        suspects.sort(key=lambda e: e.refused)
        for entry in suspects if round_.empty else ():
            self._one(round_, entry)
            if not round_.empty:
                round_.closed = True
                break
        self._build_queries(round_)
        state.planned = await self._valid(round_)
        return round_.effects

    async def _fold_flights(self, connection: str) -> None:
        """Messages whose answers never came (an abandoned session, a lost response, the Web
        Connector asking again): their Adds may have posted, so each becomes an unanswered
        attempt of its entry, looked up before anything else is sent for it (rule 1)."""
        flights = await self._ledger.flights(connection)
        if not flights:
            return
        by_key: dict[str, list[Attempt]] = {}
        for flight in flights.values():
            for key, attempt in flight.attempts:
                by_key.setdefault(key, []).append(attempt)

        def add(attempts: list[Attempt]) -> Change:
            def change(current: WorkEntry | None) -> WorkEntry | None:
                if current is None:
                    return None
                known = {a.command_id for a in current.unknown}
                new = [a for a in attempts if a.command_id not in known]
                return current.model_copy(update={"unknown": [*current.unknown, *new]})

            return change

        await self._ledger.write_many(connection, [(k, add(a)) for k, a in by_key.items()])
        for ticket in flights:
            await self._ledger.drop_flight(connection, ticket)

    def _drop_orphans(self, round_: _Round) -> None:
        """Prerequisites whose record has moved on (a newer version, or settled) leave the
        ledger: only the current version's prerequisites are ever sent."""
        for prerequisite in list(round_.prerequisites.values()):
            owner = round_.entries.get(
                f"{prerequisite.connection}.r.{prerequisite.entity}.{prerequisite.st_id}"
            )
            if owner is not None and (
                prerequisite.command_id in owner.requires
                or (owner.event_id, owner.generation)
                == (prerequisite.event_id, prerequisite.generation)
            ):
                continue
            round_.effects.change(prerequisite.key, lambda _: None)
            del round_.prerequisites[prerequisite.command_id]

    async def _load(self, round_: _Round, candidates: list[WorkEntry]) -> None:
        """The commands and id map entries this round may need, each read once."""
        seqs: list[int] = []
        wanted: set[str] = set()
        for entry in candidates:
            seqs.append(entry.stream_seq)
            seqs.extend(attempt.stream_seq for attempt in entry.unknown)
            wanted.add(entry.record)
            wanted.update(entry.refs)
            for prerequisite in _prerequisites_of(round_, entry):
                seqs.append(prerequisite.stream_seq)
                wanted.update(prerequisite.refs)
        keys = [_split(record) for record in wanted]
        commands, known = await asyncio.gather(
            self._feed.commands(seqs), self._id_map.get_many(round_.state.connection, keys)
        )
        round_.commands = commands
        round_.known = {_join(*key): mapping for key, mapping in known.items()}

    def _one(self, round_: _Round, entry: WorkEntry) -> None:
        command = round_.commands.get(entry.stream_seq)
        effects = round_.effects
        if command is None:
            effects.outcome(
                entry,
                "failed",
                f"the command for {entry.entity} {entry.st_id} is no longer in QB_COMMANDS "
                "(the stream lost it); it was not sent",
                hint="Retry the record: it is mapped again from its ServiceTitan event.",
            )
            self._fail(round_, entry, "its command was lost")
            return
        if entry.action == "fail":
            # The mapper could not translate this version; its own failed outcome has the
            # same id, so this one only tells the ledger.
            effects.outcome(entry, "failed", command.summary, hint=command.hint or None, attempt=1)
            self._fail(round_, entry, command.summary)
            return
        posted = round_.known.get(entry.record)
        if posted is not None and posted.missing and command.generation > posted.generation:
            posted = None  # gone from QuickBooks, and an operator retries it: add it again
        if posted is not None and self._settled_by_id_map(round_, entry, command, posted):
            return
        if entry.unknown and posted is None:
            self._lookups(round_, entry)
            return
        if entry.unknown:
            # QuickBooks holds the record: its unanswered Adds were looked up already (or
            # the id map was written by the answer itself before a crash).
            effects.change(entry.key, _forget_attempts)
        if entry.action == "void":
            self._void(round_, entry, command, posted)
        elif posted is not None:
            self._known(round_, entry, command, posted)
        elif self._references_ready(round_, entry, command):
            self._add(round_, entry, command)

    def _settled_by_id_map(
        self, round_: _Round, entry: WorkEntry, command: Command, posted: IdMapping
    ) -> bool:
        """True when the id map alone settles the entry: this very command already posted
        (its answer was read before a crash), or the version is older than QuickBooks'."""
        effects = round_.effects
        if posted.command_id == command.command_id:
            effects.outcome(
                entry,
                "voided" if posted.voided else "posted",
                "already in QuickBooks from an earlier attempt; not sent again",
                qb_id=posted.qb_id or None,
                edit_sequence=posted.edit_sequence,
            )
            self._settle(round_, entry)
            return True
        held = posted.order()
        if held is not None and command.version_order() <= held:
            effects.outcome(
                entry,
                "superseded",
                f"This version of {entry.entity} {entry.st_id} is not newer than the one "
                f"QuickBooks already holds ({id_label(entry.entity)} {posted.qb_id or '-'}); "
                "it is never applied over it.",
            )
            self._settle(round_, entry)
            return True
        return False

    def _lookups(self, round_: _Round, entry: WorkEntry) -> None:
        """Each unanswered attempt is looked up before anything else is sent for the record:
        whichever version it was, an object it posted is found by its ExternalGUID or name."""
        progress = round_.state.progress.setdefault(entry.key, Progress())
        if progress.looked_up:
            return
        for attempt in entry.unknown:
            command = round_.commands.get(attempt.stream_seq)
            if command is None or not command.lookup_qbxml:
                round_.effects.outcome(
                    entry,
                    "failed",
                    f"an earlier attempt to add {entry.entity} {entry.st_id} was sent to "
                    "QuickBooks and its answer never came back; without a lookup it cannot "
                    "be sent again safely",
                    hint="Check QuickBooks for this record; if it is not there, retry it.",
                )
                self._fail(round_, entry, "an unanswered attempt could not be looked up")
                return
        for attempt in entry.unknown:
            command = round_.commands[attempt.stream_seq]
            # A lookup may name other records too (a credit memo's application looks at the
            # credit memo by its TxnID).
            element, _ = fill_refs(command.lookup_qbxml or "", command, round_.known)
            round_.add(entry, "lookup", element, command)
        progress.looked_up = True

    def _void(
        self, round_: _Round, entry: WorkEntry, command: Command, posted: IdMapping | None
    ) -> None:
        effects = round_.effects
        what = f"{entry.entity.capitalize()} {entry.st_id}"
        if posted is None or posted.voided:
            message = (
                f"{what} is voided or deleted in ServiceTitan and was never posted to "
                "QuickBooks; nothing is posted."
                if posted is None
                else f"{what} is already voided in QuickBooks."
            )
            effects.map(entry, _mapping(entry, command, posted, voided=True))
            effects.outcome(entry, "voided", message, qb_id=(posted.qb_id if posted else None))
            self._settle(round_, entry)
            return
        if not command.qbxml:
            effects.outcome(
                entry,
                "changed",
                f"{what} was voided or deleted in ServiceTitan after it posted to QuickBooks "
                f"({id_label(entry.entity)} {posted.qb_id}); the mapping leaves it to you.",
                hint=f"Void or delete the {entry.entity} in QuickBooks by hand (or set the "
                "mapping to do it), so that QuickBooks matches ServiceTitan.",
                qb_id=posted.qb_id,
            )
            self._settle(round_, entry)
            return
        element = fill_void(element_from_string(command.qbxml), posted.qb_id, posted.request_type)
        round_.add(entry, "void", element, command, qb_id=posted.qb_id)

    def _references_ready(self, round_: _Round, entry: WorkEntry, command: Command) -> bool:
        """Whether everything the record names is in QuickBooks (or its prerequisites can go
        now). Otherwise the record goes later in this session, waits, or fails."""
        state, effects = round_.state, round_.effects
        failed: list[str] = []
        pending: list[str] = []
        for ref in entry.refs:
            mapping = round_.known.get(ref)
            if mapping is not None and mapping.voided:
                failed.append(f"{_label(ref)} was voided (in ServiceTitan, then QuickBooks)")
            elif mapping is None:
                dependency = round_.by_record.get(ref)
                if dependency is not None and dependency.state == "failed":
                    failed.append(f"{_label(ref)} failed: {dependency.failure}")
                else:
                    pending.append(ref)
        prerequisites: list[WorkEntry] = []
        for prerequisite in _prerequisites_of(round_, entry):
            if prerequisite.state == "failed":
                failed.append(
                    f"{_prerequisite_label(round_, prerequisite)} could not be "
                    f"created: {prerequisite.failure}"
                )
            else:
                prerequisites.append(prerequisite)
        if failed:
            names = "; ".join(failed)
            effects.outcome(
                entry,
                "failed",
                f"{entry.entity.capitalize()} {entry.st_id} cannot be posted: {names}.",
                hint="Fix that record first (its own outcome says how) and retry it, then "
                "retry this one.",
            )
            self._fail(round_, entry, names)
            return False
        if pending:
            coming = [
                ref
                for ref in pending
                if ref in round_.sending
                or (
                    ref in round_.by_record
                    and ref not in round_.blocked
                    and round_.by_record[ref].key not in state.deferred
                    and round_.by_record[ref].retry_ticket != state.ticket
                    and round_.by_record[ref].state == "queued"
                )
            ]
            if len(coming) < len(pending):
                self._wait(round_, entry, [ref for ref in pending if ref not in coming])
            return False  # its dependencies go first, in this session
        if prerequisites:
            self._prerequisites(round_, entry, prerequisites)
            return False
        return True

    def _prerequisites(
        self, round_: _Round, entry: WorkEntry, prerequisites: list[WorkEntry]
    ) -> None:
        """An item or job the record needs goes one round before it: a prerequisite that
        fails must not make the record fail with it in the same message."""
        state = round_.state
        for prerequisite in prerequisites:
            if prerequisite.retry_ticket == state.ticket:
                # QuickBooks refused it for now (locked list...): next session, with the record.
                state.deferred.append(entry.key)
                round_.blocked.add(entry.record)
                return
            if any(sent.key == prerequisite.key for sent in round_.sents):
                continue
            command = round_.commands.get(prerequisite.stream_seq)
            if command is None:
                continue
            element, missing = fill_refs(command.qbxml, command, round_.known)
            if missing:
                continue  # the job's customer goes first; the record follows after it
            if not round_.fits(xml_text(element)):
                return
            round_.add(prerequisite, "prerequisite", element, command)
        round_.sending.add(entry.record)

    def _add(self, round_: _Round, entry: WorkEntry, command: Command) -> None:
        element, missing = fill_refs(command.qbxml, command, round_.known)
        if missing:  # cannot happen after _references_ready; never send a placeholder
            return
        if round_.fits(xml_text(element)):
            round_.add(entry, "add", element, command)

    def _known(self, round_: _Round, entry: WorkEntry, command: Command, posted: IdMapping) -> None:
        """A newer version of a record QuickBooks holds."""
        effects = round_.effects
        what = f"{entry.entity.capitalize()} {entry.st_id}"
        where = f"{id_label(entry.entity)} {posted.qb_id}"
        if posted.voided:
            effects.outcome(
                entry,
                "changed",
                f"{what} is active again in ServiceTitan but was voided in QuickBooks "
                f"({where}); a voided transaction cannot be brought back.",
                hint=f"Enter the {entry.entity} in QuickBooks by hand if it should be there.",
                qb_id=posted.qb_id,
            )
            self._settle(round_, entry)
            return
        if posted.fingerprint and posted.fingerprint == command.fingerprint:
            effects.map(entry, _mapping(entry, command, posted))
            effects.outcome(
                entry,
                "posted",
                f"{what} is in QuickBooks ({where}) as ServiceTitan has it now: nothing "
                "QuickBooks holds changed in this version; not sent again",
                qb_id=posted.qb_id,
                edit_sequence=posted.edit_sequence,
            )
            self._settle(round_, entry)
            return
        mod = command.mod_qbxml
        mod_object = element_from_string(mod).tag.removesuffix("ModRq") if mod else None
        posted_as = object_of(posted.request_type)
        if mod is None or (posted_as is not None and mod_object != posted_as):
            self._report_changed(round_, entry, command, posted)
            return
        try:
            query = edit_query(mod)
        except ModShapeError as exc:
            effects.outcome(
                entry,
                "failed",
                f"the Mod request cannot be sent: {exc}",
                hint="The mapper produced an invalid Mod; report it with this record.",
                qb_id=posted.qb_id,
            )
            self._fail(round_, entry, str(exc))
            return
        if not self._references_ready(round_, entry, command):
            return
        progress = round_.state.progress.setdefault(entry.key, Progress())
        if progress.edit_sequence is None:
            # Rule 3: the EditSequence is read in this session; the Mod goes next round.
            round_.queries.setdefault(query, []).append((entry, posted.qb_id))
            round_.sending.add(entry.record)
            return
        element, missing = fill_refs(mod, command, round_.known)
        if missing:
            return
        element = fill_mod(element, posted.qb_id, progress.edit_sequence, posted.line_ids)
        if round_.fits(xml_text(element)):
            round_.add(entry, "mod", element, command, qb_id=posted.qb_id)

    def _report_changed(
        self, round_: _Round, entry: WorkEntry, command: Command, posted: IdMapping
    ) -> None:
        """A transaction that changed after it posted and that the mapping leaves to the
        accountant (or that cannot be modified into what it now is): nothing is sent."""
        what = f"{entry.entity.capitalize()} {entry.st_id}"
        where = f"{id_label(entry.entity)} {posted.qb_id}"
        if entry.entity == "bill":
            hint = (
                "Bills are never modified after they post. Edit the bill in QuickBooks to "
                "match ServiceTitan, or void it there and enter the new version by hand; "
                "ml-connector will not post it a second time."
            )
        else:
            hint = (
                f"Resolve it by hand in QuickBooks: edit the {entry.entity} to match "
                "ServiceTitan, or void it there and re-post the new version by hand. "
                "ml-connector will not post it a second time."
            )
        diff = None
        if posted.fingerprint and command.fingerprint:
            diff = difference(posted.fingerprint, command.fingerprint)
            detail = describe(diff)
        elif posted.fingerprint:
            detail = (
                "the new version carries nothing to compare, so compare QuickBooks with "
                "ServiceTitan by hand"
            )
        else:
            detail = (
                "the posted version is unknown (it posted before ml-connector kept what "
                "it sent), so compare QuickBooks with ServiceTitan by hand"
            )
        round_.effects.outcome(
            entry,
            "changed",
            f"{what} changed in ServiceTitan after it was posted to QuickBooks ({where}): {detail}",
            hint=hint,
            qb_id=posted.qb_id,
            difference=diff,
        )
        self._settle(round_, entry)

    def _wait(self, round_: _Round, entry: WorkEntry, missing: list[str]) -> None:
        """Put off to a later session; after `wait_sessions` sessions it fails, naming what
        it waited for (DESIGN rule 4)."""
        state = round_.state
        names = ", ".join(_label(ref) for ref in missing)
        state.deferred.append(entry.key)
        round_.blocked.add(entry.record)
        if entry.waited_ticket == state.ticket:
            return
        waited = entry.waited + 1
        if waited >= round_.limits.wait_sessions:
            round_.effects.outcome(
                entry,
                "failed",
                f"{names} has not been posted to QuickBooks yet (waited {waited} Web Connector "
                "sessions)",
                hint=f"See why {names} did not post (its own outcome), fix it, then retry "
                "this record.",
            )
            self._fail(round_, entry, f"waited for {names}")
            return
        ticket = state.ticket

        def waited_once(current: WorkEntry | None) -> WorkEntry | None:
            if current is None or current.command_id != entry.command_id:
                return current
            if current.waited_ticket == ticket:
                return current
            return current.model_copy(
                update={"waited": current.waited + 1, "waited_ticket": ticket}
            )

        round_.effects.change(entry.key, waited_once)
        round_.effects.outcome(
            entry,
            "waiting",
            f"waiting for {names} to be posted to QuickBooks "
            f"(session {waited} of {round_.limits.wait_sessions})",
        )

    def _fail(self, round_: _Round, entry: WorkEntry, why: str) -> None:
        round_.blocked.add(entry.record)
        command_id = entry.command_id

        def failed(current: WorkEntry | None) -> WorkEntry | None:
            if current is None or current.command_id != command_id:
                return current
            return current.model_copy(update={"state": "failed", "failure": why, "unknown": []})

        round_.effects.change(entry.key, failed)

    def _settle(self, round_: _Round, entry: WorkEntry) -> None:
        """The record is done: its entry (and its prerequisites') leave the ledger."""
        round_.blocked.add(entry.record)
        command_id = entry.command_id

        def done(current: WorkEntry | None) -> WorkEntry | None:
            if current is None or current.command_id != command_id:
                return current  # a newer version arrived meanwhile: it stays
            return None

        round_.effects.change(entry.key, done)
        for prerequisite in _prerequisites_of(round_, entry):
            round_.effects.change(prerequisite.key, lambda _: None)

    def _build_queries(self, round_: _Round) -> None:
        """One EditSequence query per object type, ahead of the round's other requests."""
        built: list[Sent] = []
        for query, items in round_.queries.items():
            request_id = round_.state.next_request_id()
            element = query_element(query, [qb_id for _, qb_id in items])
            xml = xml_text(element)
            for entry, qb_id in items:
                built.append(
                    Sent(
                        request_id=request_id,
                        kind="query",
                        key=entry.key,
                        command_id=entry.command_id,
                        stream_seq=entry.stream_seq,
                        request_type=query.request_type,
                        xml=xml,
                        qb_id=qb_id,
                        entity=entry.entity,
                        st_id=entry.st_id,
                        trace=entry.trace,
                    )
                )
        round_.queries = {}
        round_.sents = built + round_.sents

    async def _valid(self, round_: _Round) -> list[Sent]:
        """The planned requests; one the schema refuses fails alone, instead of making
        QuickBooks refuse the whole message (0x80040400) every cycle."""
        sents = round_.sents
        if not sents:
            return []
        try:
            await asyncio.to_thread(qbschema.validate, render(sents, "13.0"))
            return sents
        except qbschema.QbxmlSchemaError:
            pass
        kept: list[Sent] = []
        for sent in sents:
            try:
                await asyncio.to_thread(qbschema.validate, render([sent], "13.0"))
            except qbschema.QbxmlSchemaError as exc:
                entry = round_.entries.get(sent.key)
                if entry is not None:
                    round_.effects.outcome(
                        entry,
                        "failed",
                        f"the qbXML does not match QuickBooks' schema ({exc}); not sent",
                        hint="The mapper produced an invalid request; report it with this record.",
                        request_qbxml=sent.xml,
                    )
                    self._fail(round_, entry, "its qbXML does not match QuickBooks' schema")
                continue
            kept.append(sent)
        return kept


def render(sents: list[Sent], version: str) -> str:
    """The qbXML message carrying `sents` (each request once; a shared query once)."""
    requests: dict[str, etree._Element] = {}
    for sent in sents:
        if sent.request_id not in requests:
            requests[sent.request_id] = element_from_string(sent.xml)
    return build_message(
        [Request(rid, element) for rid, element in requests.items()], version=version
    )


def _forget_attempts(current: WorkEntry | None) -> WorkEntry | None:
    if current is None:
        return None
    return current.model_copy(update={"unknown": []})


def _mapping(
    entry: WorkEntry, command: Command, posted: IdMapping | None, *, voided: bool = False
) -> IdMapping:
    """The id map entry after `command`'s version is what QuickBooks holds."""
    base = posted or IdMapping(qb_id="")
    return base.model_copy(
        update={
            "command_id": command.command_id,
            "fingerprint": command.fingerprint or base.fingerprint,
            "version_at": command.version_at,
            "generation": command.generation,
            "event_id": command.event_id,
            "voided": voided or base.voided,
        }
    )


def _split(record: str) -> tuple[str, int, str]:
    parts = record.split(":")
    return parts[0], int(parts[1]), parts[2] if len(parts) > 2 else ""


def _join(entity: str, st_id: int, role: str) -> str:
    return f"{entity}:{st_id}:{role}" if role else f"{entity}:{st_id}"


def _label(record: str) -> str:
    entity, st_id, role = _split(record)
    return f"{entity} {st_id}" + (f" ({role})" if role else "")


def _prerequisites_of(round_: _Round, entry: WorkEntry) -> list[WorkEntry]:
    """The prerequisites still in the ledger that the record needs: those its command names
    (`requires`), and those its event produced (commands from mappers older than `requires`
    name none). One that is gone is done: it leaves the ledger once QuickBooks has it."""
    found = {
        p.command_id: p
        for p in round_.prerequisites.values()
        if (p.event_id, p.generation, p.entity, p.st_id)
        == (entry.event_id, entry.generation, entry.entity, entry.st_id)
    }
    for command_id in entry.requires:
        prerequisite = round_.prerequisites.get(command_id)
        if prerequisite is not None:
            found[command_id] = prerequisite
    return sorted(found.values(), key=lambda p: p.stream_seq)


def _prerequisite_label(round_: _Round, prerequisite: WorkEntry) -> str:
    command = round_.commands.get(prerequisite.stream_seq)
    if command is not None and command.summary:
        return command.summary
    return prerequisite.request_type.removesuffix("AddRq")
