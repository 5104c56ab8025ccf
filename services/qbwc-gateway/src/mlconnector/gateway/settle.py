"""Turning QuickBooks' answer to a message into id map entries, outcomes and ledger changes.

- An Add or Mod QuickBooks posted goes into the id map with what it computed (its amounts,
  compared with ServiceTitan's: "posted" or "differs") and the TxnLineIDs of its lines.
- A lookup that finds what an unanswered attempt posted records it the same way; one that
  finds nothing (status 1, or 500 for a name or id QuickBooks does not have) clears the
  attempt, and the Add goes next round.
- An error is retried in a later session when QuickBooks says it may pass (a locked record,
  a list in use), at most `retry_sessions` sessions, else the record fails with QuickBooks'
  own text and what to do (qbxml.status.advice_for).
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal, InvalidOperation

from lxml import etree

from mlconnector.common.envelopes import Command
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.qbxml import ResponseStatus, advice_for, element_from_string
from mlconnector.common.qbxml.status import (
    EDIT_SEQUENCE_STALE,
    INVALID_REFERENCE,
    NAME_IN_USE,
    NO_MATCH,
    OBJECTS_NOT_FOUND,
)
from mlconnector.gateway.effects import Effects
from mlconnector.gateway.feed import CommandFeed
from mlconnector.gateway.ingest import entry_from_command
from mlconnector.gateway.ledger import Attempt, Change, LedgerStore, WorkEntry
from mlconnector.gateway.mods import (
    describe,
    difference,
    edit_query,
    line_ids_of,
    mod_line_keys,
    ret_for,
)
from mlconnector.gateway.planner import MAX_STALE_MODS, Limits
from mlconnector.gateway.readback import (
    amounts_of,
    describe_differences,
    differences,
    differs_hint,
)
from mlconnector.gateway.refs import xml_text
from mlconnector.gateway.sessions import Progress, Sent, SessionState

# HRESULTs with which the Web Connector says QuickBooks never ran the message (it could not
# start or reach QuickBooks, or refused the message whole before running any request): the
# Adds in it did not post, so no lookup is needed before sending them again. (QBWC/QBXMLRP2
# error table: 0x80040408 could not start QuickBooks, 0x80040401 could not access
# QuickBooks, 0x80040410 the company file is open in another mode, 0x80040400 QuickBooks
# found an error parsing the message.)
NEVER_RAN = frozenset({"0x80040408", "0x80040401", "0x80040410", "0x80040400"})
# QuickBooks refused the message itself: a request in it cannot be read (QBXMLRP2 parse
# error, hresults.py). Sent again as it is, it would be refused again in every session.
UNREADABLE = "0x80040400"
# Requests a record's own work travels in (not the EditSequence queries, change polls and
# probes the gateway adds).
_RECORD_REQUESTS = frozenset({"add", "mod", "void", "lookup", "prerequisite"})


def ran_in_quickbooks(hresult: str) -> bool:
    """Whether QuickBooks may have run the message the Web Connector reports `hresult` for."""
    return hresult.lower() not in NEVER_RAN


class AnswerMismatchError(ValueError):
    """The response does not answer the requests of the session's last message."""


def check_answers(sents: list[Sent], statuses: list[ResponseStatus]) -> None:
    """Refuse an answer that does not belong to the question: an unknown or repeated
    requestID, a response of another type than the request, or a list Add answered with
    another name. Raises AnswerMismatchError naming the first problem."""
    asked = {sent.request_id: sent for sent in sents}
    seen: set[str] = set()
    for status in statuses:
        request_id = status.request_id or ""
        sent = asked.get(request_id)
        if sent is None:
            raise AnswerMismatchError(
                f"response {status.response_type} answers requestID "
                f"{request_id!r}, which was not asked in this message"
            )
        if request_id in seen:
            raise AnswerMismatchError(f"requestID {request_id!r} is answered twice")
        seen.add(request_id)
        expected = sent.request_type.removesuffix("Rq") + "Rs"
        if status.response_type != expected:
            raise AnswerMismatchError(
                f"requestID {request_id!r} asked {sent.request_type} but the answer is "
                f"{status.response_type}"
            )
        if sent.name is not None and status.ret is not None:
            returned = status.ret.findtext("Name")
            if returned is not None and returned != sent.name:
                raise AnswerMismatchError(
                    f"requestID {request_id!r} added {sent.name!r} but QuickBooks' answer "
                    f"names {returned!r}"
                )


class Settler:
    def __init__(self, id_map: IdMap, ledger: LedgerStore, feed: CommandFeed) -> None:
        self._id_map = id_map
        self._ledger = ledger
        self._feed = feed

    async def settle(
        self, state: SessionState, statuses: list[ResponseStatus], limits: Limits
    ) -> Effects:
        """Settle every request of the last message by its answer (state.sent is emptied)."""
        effects = Effects(state)
        sents, state.sent = state.sent, []
        if not sents:
            return effects
        entries = await self._ledger.entries(state.connection)
        commands = await self._feed.commands([sent.stream_seq for sent in sents])
        # What QuickBooks held before this message: only a Mod, a void or an EditSequence
        # query needs it (an Add's record was not in the id map when it was planned).
        posted = await self._id_map.get_many(
            state.connection,
            {
                (entry.entity, entry.st_id, entry.role)
                for sent in sents
                if sent.kind in ("mod", "void", "query")
                and (entry := entries.get(sent.key)) is not None
            },
        )
        by_id = {status.request_id: status for status in statuses}
        for sent in sents:
            command = commands.get(sent.stream_seq)
            if command is None:
                continue
            entry = entries.get(sent.key) or entry_from_command(command, sent.stream_seq)
            status = by_id.get(sent.request_id)
            mapping = posted.get((entry.entity, entry.st_id, entry.role))
            _Settle(state, effects, limits, entry, command, sent, mapping).run(status)
        return effects

    async def unanswered(
        self, state: SessionState, hresult: str, why: str, limits: Limits | None = None
    ) -> Effects:
        """The Web Connector reported an error instead of QuickBooks' answer: the message's
        records go again next session (never dropped); Adds QuickBooks may have run keep
        their unanswered attempt, so they are looked up first.

        A message refused whole as unreadable (0x80040400) is not sent again as it was: its
        records are marked `refused` and each goes alone from then on; a request refused
        when it went alone is the one QuickBooks cannot read, retried like a retryable error
        (at most `limits.retry_sessions` sessions), then failed with QuickBooks' words."""
        effects = Effects(state)
        sents, state.sent = state.sent, []
        ran = ran_in_quickbooks(hresult)
        entries = await self._ledger.entries(state.connection) if sents else {}
        unreadable = hresult.lower() == UNREADABLE
        culprits = {s.key for s in sents if s.kind in _RECORD_REQUESTS}
        for sent in sents:
            if sent.kind in ("query", "probe", "changes"):
                continue
            entry = entries.get(sent.key) or _stub(sent)
            if not ran and sent.kind == "add":
                effects.change(sent.key, _forget(sent.command_id))
            if unreadable and len(culprits) == 1 and limits is not None:
                _Settle.unreadable(state, effects, limits, entry, sent, why)
                continue
            if unreadable:
                effects.change(sent.key, _refused(sent.command_id))
            effects.change(sent.key, _not_this_session(sent.command_id, state.ticket))
            if sent.kind == "prerequisite":
                continue
            effects.outcome(
                entry, "retrying", why, command_id=sent.command_id, request_qbxml=sent.xml
            )
        return effects


def _stub(sent: Sent) -> WorkEntry:
    """Enough of an entry to publish an outcome about `sent` when its ledger entry is gone."""
    entity, st_id, role = "invoice", 0, ""
    parts = sent.key.split(".")
    if len(parts) >= 4 and parts[1] == "r":
        entity, st_id = parts[2], int(parts[3])
        role = parts[4] if len(parts) > 4 else ""
    return WorkEntry(
        connection=parts[0],
        kind="record" if len(parts) >= 4 and parts[1] == "r" else "prerequisite",
        entity=entity,
        st_id=st_id,
        role=role,
        command_id=sent.command_id,
        stream_seq=sent.stream_seq,
        request_type=sent.request_type,
        event_id="",
        rank=0,
    )


class _Settle:
    """One request's answer."""

    def __init__(
        self,
        state: SessionState,
        effects: Effects,
        limits: Limits,
        entry: WorkEntry,
        command: Command,
        sent: Sent,
        posted: IdMapping | None,
    ) -> None:
        self.state = state
        self.effects = effects
        self.limits = limits
        self.entry = entry
        self.command = command
        self.sent = sent
        self.posted = posted

    @staticmethod
    def unreadable(
        state: SessionState,
        effects: Effects,
        limits: Limits,
        entry: WorkEntry,
        sent: Sent,
        why: str,
    ) -> None:
        """QuickBooks refused a message holding only `sent` as unreadable (0x80040400): it
        is the request QuickBooks cannot read. Retried in later sessions (a QuickBooks
        upgrade, a repaired company file), at most `limits.retry_sessions`, then failed."""
        retries = entry.retries + (0 if entry.retry_ticket == state.ticket else 1)
        if retries < limits.retry_sessions:
            effects.change(sent.key, _refused(sent.command_id))
            effects.change(sent.key, _retry_later(sent.command_id, state.ticket))
            if entry.kind == "record":
                effects.outcome(
                    entry,
                    "retrying",
                    f"{why} (session {retries} of {limits.retry_sessions})",
                    command_id=sent.command_id,
                    request_qbxml=sent.xml,
                )
            return
        text = (
            f"QuickBooks could not read this request in {retries} sessions, sent alone each "
            f"time (0x80040400); it is not sent again. {why}"
        )
        effects.change(sent.key, _failed(sent.command_id, text))
        effects.outcome(
            entry,
            "failed",
            text,
            command_id=sent.command_id,
            hint="Send this record's trail to ml-connector support: the request it makes is "
            "one this QuickBooks cannot read. Retry it once the cause is fixed.",
            request_qbxml=sent.xml,
        )

    def run(self, status: ResponseStatus | None) -> None:
        if status is None:
            # QuickBooks' response skipped it: treat as unanswered (looked up next time).
            if self.sent.kind == "add":
                self.effects.change(
                    self.sent.key,
                    _unanswered(
                        Attempt(
                            command_id=self.sent.command_id,
                            stream_seq=self.sent.stream_seq,
                            ticket=self.state.ticket,
                        )
                    ),
                )
            self.effects.change(
                self.sent.key, _not_this_session(self.sent.command_id, self.state.ticket)
            )
            if self.entry.kind == "record" and self.sent.kind != "query":
                self._outcome(
                    "retrying",
                    "QuickBooks' response had no answer for this "
                    "request; it is looked up and sent again next session",
                )
            return
        handlers: dict[str, Callable[[ResponseStatus], None]] = {
            "add": self._add,
            "prerequisite": self._prerequisite,
            "lookup": self._lookup,
            "query": self._query,
            "mod": self._mod,
            "void": self._void,
        }
        handler = handlers.get(self.sent.kind)
        if handler is not None:  # a probe's answer needs nothing
            handler(status)

    # --- helpers ----------------------------------------------------------------------

    def _outcome(self, status: str, message: str, **extra: object) -> None:
        self.effects.outcome(
            self.entry,
            status,  # type: ignore[arg-type]
            message,
            command_id=self.command.command_id,
            event_id=self.command.event_id,
            **extra,  # type: ignore[arg-type]
        )

    def _response(self, status: ResponseStatus) -> dict[str, object]:
        return {
            "response": status,
            "request_qbxml": self.sent.xml,
            "response_qbxml": xml_text(status.element),
        }

    def _mapping(self, ret: etree._Element | None, line_ids: dict[str, str]) -> IdMapping:
        command = self.command
        base = self.posted or IdMapping(qb_id="")
        qb_id = _text(ret, "TxnID") or _text(ret, "ListID") or base.qb_id
        return base.model_copy(
            update={
                "qb_id": qb_id,
                "edit_sequence": _text(ret, "EditSequence"),
                "command_id": command.command_id,
                "fingerprint": command.fingerprint,
                "version_at": command.version_at,
                "generation": command.generation,
                "event_id": command.event_id,
                "request_type": base.request_type
                if self.sent.kind == "mod"
                else command.request_type,
                "line_ids": line_ids or base.line_ids,
                "missing": False,
            }
        )

    def _record_posted(
        self,
        status: ResponseStatus,
        ret: etree._Element | None,
        message: str,
        line_ids: dict[str, str],
    ) -> None:
        """QuickBooks holds this command's version now: id map, outcome, ledger."""
        mapping = self._mapping(ret, line_ids)
        self.effects.map(self.entry, mapping)
        amounts = amounts_of(ret)
        diff = differences(self.command.expected, amounts)
        extra = self._response(status)
        if diff:
            self._outcome(
                "differs",
                f"{message}, but QuickBooks' amounts differ from ServiceTitan's: "
                f"{describe_differences(diff)}",
                hint=differs_hint(diff),
                qb_id=mapping.qb_id,
                edit_sequence=mapping.edit_sequence,
                amounts=amounts,
                expected=dict(self.command.expected),
                **extra,
            )
        else:
            self._outcome(
                "posted",
                message,
                qb_id=mapping.qb_id,
                edit_sequence=mapping.edit_sequence,
                amounts=amounts or None,
                expected=dict(self.command.expected) or None,
                **extra,
            )
        self.effects.change(self.sent.key, _done(self.command.command_id))

    def _error(
        self,
        status: ResponseStatus,
        message: str | None = None,
        difference: dict[str, tuple[str | None, str | None]] | None = None,
    ) -> None:
        """A request QuickBooks refused: retried in a later session when it may pass."""
        advice = advice_for(status.status_code, status.status_message)
        text = message or status.status_message
        extra = self._response(status)
        if difference:
            extra["difference"] = difference
        if advice.retryable:
            retries = self.entry.retries + (
                0 if self.entry.retry_ticket == self.state.ticket else 1
            )
            if retries < self.limits.retry_sessions:
                self.effects.change(
                    self.sent.key,
                    _retry_later(self.command.command_id, self.state.ticket),
                )
                if self.entry.kind == "record":
                    self._outcome(
                        "retrying",
                        f"{text} (session {retries} of {self.limits.retry_sessions})",
                        hint=advice.hint or None,
                        **extra,
                    )
                return
            text = f"{text} (QuickBooks refused it in {retries} sessions; not retried again)"
        self.effects.change(self.sent.key, _failed(self.command.command_id, text))
        self._outcome("failed", text, hint=advice.hint or None, **extra)

    # --- per kind -----------------------------------------------------------------------

    def _add(self, status: ResponseStatus) -> None:
        ret = status.ret
        if _posted(status):
            line_ids = line_ids_of(ret, self.command.line_keys)
            self._record_posted(status, ret, status.status_message or "Status OK", line_ids)
            return
        # QuickBooks answered: this attempt did not post.
        self.effects.change(self.sent.key, _forget(self.command.command_id))
        self._error(status)

    def _prerequisite(self, status: ResponseStatus) -> None:
        if _posted(status) or status.status_code == NAME_IN_USE:
            message = (
                status.status_message
                if _posted(status)
                else "already in QuickBooks under this name; not added again"
            )
            self._outcome(
                "posted",
                message,
                qb_id=status.txn_or_list_id,
                **self._response(status),
            )
            self.effects.change(self.sent.key, lambda _: None)
            return
        self._error(status)

    def _lookup(self, status: ResponseStatus) -> None:
        found = _matching_ret(self.command, status) if status.ok else None
        if found is not None:
            line_ids = line_ids_of(found, self.command.line_keys)
            self._record_posted(
                status,
                found,
                "found already in QuickBooks (an earlier attempt posted it); not added again",
                line_ids,
            )
            return
        if status.status_code in (0, NO_MATCH, OBJECTS_NOT_FOUND):
            # Not there (a filter that matched nothing answers 1; a name or id QuickBooks
            # does not have answers 500): that attempt never posted.
            self.effects.change(self.sent.key, _forget(self.command.command_id))
            if self.command.command_id != self.entry.command_id:
                self._outcome(
                    "superseded",
                    "This version never reached QuickBooks (its lookup found nothing); a "
                    "newer version is posted instead.",
                    **self._response(status),
                )
            return
        self._error(status, f"the lookup before re-sending failed: {status.status_message}")

    def _query(self, status: ResponseStatus) -> None:
        """The EditSequence query before a Mod: the Mod goes next round with what it read."""
        query = edit_query(self.command.mod_qbxml or "")
        qb_id = self.sent.qb_id or ""
        ret = ret_for(status, query.id_tag, qb_id)
        edit_sequence = ret.findtext("EditSequence") if ret is not None else None
        progress = self.state.progress.setdefault(self.sent.key, Progress())
        if edit_sequence:
            progress.edit_sequence = edit_sequence
            return
        if status.status_severity != "Error":
            what = f"{self.entry.entity} {self.entry.st_id}"
            if self.posted is not None:
                self.effects.map(self.entry, self.posted.model_copy(update={"missing": True}))
            self.effects.change(
                self.sent.key,
                _failed(self.command.command_id, f"{what} is no longer in QuickBooks"),
            )
            self._outcome(
                "failed",
                f"ServiceTitan {what} is no longer in QuickBooks: {query.id_tag} {qb_id} was "
                f"not found (deleted, or merged into another {self.entry.entity}); its "
                "changes were not sent",
                hint="If it was deleted or merged in QuickBooks on purpose, nothing is to do. "
                f"Otherwise retry this record: the {self.entry.entity} is added to "
                "QuickBooks again.",
                qb_id=qb_id,
                **self._response(status),
            )
            return
        self._error(
            status,
            f"the query for a fresh EditSequence before the Mod failed: {status.status_message}",
        )

    def _mod(self, status: ResponseStatus) -> None:
        ret = status.ret
        progress = self.state.progress.setdefault(self.sent.key, Progress())
        if _posted(status):
            keys = mod_line_keys(self.command.mod_qbxml or "")
            self._record_posted(
                status,
                ret,
                f"updated in QuickBooks (EditSequence {progress.edit_sequence} read in this "
                "session)",
                line_ids_of(ret, keys),
            )
            return
        if status.status_code == EDIT_SEQUENCE_STALE:
            progress.stale_mods += 1
            progress.edit_sequence = None
            if progress.stale_mods < MAX_STALE_MODS:
                return  # changed in QuickBooks meanwhile: queried again, sent again
            self._error(
                status,
                f"{status.status_message} (QuickBooks reported the record changed "
                f"{progress.stale_mods} times between the query and the Mod in this session)",
            )
            return
        # What QuickBooks refused to change (a closed period, a business rule): the office
        # needs the difference to enter it by hand or to lift the rule and retry.
        diff = (
            difference(self.posted.fingerprint, self.command.fingerprint)
            if self.posted is not None and self.posted.fingerprint and self.command.fingerprint
            else None
        )
        if diff:
            self._error(
                status,
                f"{status.status_message.rstrip()} (the change QuickBooks refused: "
                f"{describe(diff)})",
                difference=diff,
            )
            return
        self._error(status)

    def _void(self, status: ResponseStatus) -> None:
        gone = status.status_code in (INVALID_REFERENCE, OBJECTS_NOT_FOUND)
        if status.ok or gone:
            mapping = (self.posted or IdMapping(qb_id=self.sent.qb_id or "")).model_copy(
                update={
                    "voided": True,
                    "command_id": self.command.command_id,
                    "version_at": self.command.version_at,
                    "generation": self.command.generation,
                    "event_id": self.command.event_id,
                }
            )
            self.effects.map(self.entry, mapping)
            verb = "deleted" if self.sent.request_type == "TxnDelRq" else "voided"
            message = (
                f"{verb} in QuickBooks ({self.sent.qb_id}) to follow ServiceTitan, where it "
                "is voided or deleted"
            )
            if gone:
                # QuickBooks has no such transaction any more: an earlier attempt whose
                # answer was lost deleted it (a second TxnDel of it answers "cannot be
                # found"), or someone removed it by hand. Either way QuickBooks matches
                # ServiceTitan, which has it voided or deleted: nothing is left to do.
                message = (
                    f"already gone from QuickBooks ({self.sent.qb_id} cannot be found: an "
                    "earlier attempt whose answer was lost, or someone in QuickBooks, removed "
                    "it); nothing more to do, as it is voided or deleted in ServiceTitan"
                )
            extra = self._response(status)
            if gone:
                del extra["response"]  # QuickBooks' "cannot be found" is not an error here
            self._outcome("voided", message, qb_id=self.sent.qb_id, **extra)
            self.effects.change(self.sent.key, _done(self.command.command_id))
            return
        self._error(status)


def _posted(status: ResponseStatus) -> bool:
    return status.ok or (status.status_severity != "Error" and bool(status.txn_or_list_id))


def _text(ret: etree._Element | None, tag: str) -> str | None:
    if ret is None:
        return None
    found = ret.find(tag)
    return found.text if found is not None and found.text else None


def _matching_ret(command: Command, status: ResponseStatus) -> etree._Element | None:
    """The returned object that is this command's record, if any.

    When the Add carries an ExternalGUID (the record's, set by the mapper), only an object
    with that GUID is ours: another transaction may share a RefNumber or date. Otherwise the
    lookup is by a unique key (a list name), so the first object is the one.
    """
    rets = [c for c in status.element if isinstance(c.tag, str) and c.tag.endswith("Ret")]
    if not rets:
        return None
    request = element_from_string(command.qbxml)
    if next(request.iter("SetCredit"), None) is not None:
        # Applying a credit memo creates no transaction (Intuit's ReceivePayment reference):
        # its lookup reads the credit memo, and the whole credit applied means it happened.
        return next((ret for ret in rets if _credit_applied(ret)), None)
    guid = next((n.text for n in request.iter("ExternalGUID") if n.text), None)
    if guid is None:
        return rets[0]
    for ret in rets:
        found = ret.find("ExternalGUID")
        if found is not None and (found.text or "").upper() == guid.upper():
            return ret
    return None


def _credit_applied(ret: etree._Element) -> bool:
    total = _decimal(ret.findtext("TotalAmount"))
    remaining = _decimal(ret.findtext("CreditRemaining"))
    return total is not None and remaining is not None and remaining < total


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except InvalidOperation:
        return None


# --- ledger changes (re-applied on a compare-and-set retry: decide from `current`) --------


def _unanswered(attempt: Attempt) -> Change:
    """An Add QuickBooks may have run and whose answer was not read: looked up first."""

    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or any(a.command_id == attempt.command_id for a in current.unknown):
            return current
        return current.model_copy(update={"unknown": [*current.unknown, attempt]})

    return change


def _forget(command_id: str) -> Change:
    """QuickBooks answered this attempt: it is no longer unknown."""

    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None:
            return None
        kept = [a for a in current.unknown if a.command_id != command_id]
        return current.model_copy(update={"unknown": kept})

    return change


def _done(command_id: str) -> Change:
    """QuickBooks holds `command_id`'s version: the entry is settled unless a newer version
    replaced it meanwhile (then only the attempt is forgotten)."""

    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or current.command_id == command_id:
            return None
        kept = [a for a in current.unknown if a.command_id != command_id]
        return current.model_copy(update={"unknown": kept})

    return change


def _failed(command_id: str, why: str) -> Change:
    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or current.command_id != command_id:
            return current
        return current.model_copy(update={"state": "failed", "failure": why})

    return change


def _retry_later(command_id: str, ticket: str) -> Change:
    """One more session with a retryable error; not sent again in this one."""

    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or current.command_id != command_id:
            return current
        if current.retry_ticket == ticket:
            return current
        return current.model_copy(update={"retries": current.retries + 1, "retry_ticket": ticket})

    return change


def _refused(command_id: str) -> Change:
    """A message carrying it was refused whole as unreadable: it goes alone from now on."""

    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or current.command_id != command_id:
            return current
        return current.model_copy(update={"refused": current.refused + 1})

    return change


def _not_this_session(command_id: str, ticket: str) -> Change:
    """Not sent again in this session (no retry counted: QuickBooks was not reachable)."""

    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or current.command_id != command_id:
            return current
        return current.model_copy(update={"retry_ticket": ticket})

    return change
