"""Turning QuickBooks' answers to a round into outcomes, one per request sent.

A request QuickBooks posted (or a lookup that found the object an earlier attempt posted)
goes into the id map; an error is retried or failed as its status code advises; a lookup
that found nothing sends the request itself next round. An EditSequence query sends its Mod
next round; a Mod QuickBooks finds out of date (3200) is queried and sent again.
"""

from __future__ import annotations

from lxml import etree

from mlconnector.common.envelopes import Command, OutcomeStatus
from mlconnector.common.idmap import IdMap, IdMapping, id_map_key
from mlconnector.common.qbxml import ResponseStatus, advice_for, element_from_string
from mlconnector.common.qbxml.status import EDIT_SEQUENCE_STALE, NAME_IN_USE, NO_MATCH
from mlconnector.gateway.mods import MAX_STALE_MODS, edit_query, fill_mod, query_element, ret_for
from mlconnector.gateway.outcomes import Outcomes
from mlconnector.gateway.queue import CommandQueue
from mlconnector.gateway.refs import resolve_refs, xml_text
from mlconnector.gateway.sessions import Item, Sent, SessionState


class ResponseSettler:
    def __init__(self, queue: CommandQueue, id_map: IdMap, outcomes: Outcomes) -> None:
        self._queue = queue
        self._id_map = id_map
        self._outcomes = outcomes

    async def settle(self, state: SessionState, statuses: list[ResponseStatus]) -> None:
        """Settle every request of the last message by its status in QuickBooks' response."""
        by_id = {s.request_id: s for s in statuses if s.request_id is not None}
        for sent in state.sent:
            await self._settle_one(state, sent, by_id.get(sent.request_id))
        state.sent = []
        await self._queue.flush()

    async def retry_all(self, state: SessionState, reason: str) -> None:
        """The whole response is lost or unreadable: every request of the message retries."""
        for sent in state.sent:
            command = await self._queue.load(sent.item.stream_seq)
            await self._outcomes.defer(state, sent.item, command, "retrying", message=reason)
        state.sent = []
        await self._queue.flush()

    async def _settle_one(
        self, state: SessionState, sent: Sent, status: ResponseStatus | None
    ) -> None:
        item = sent.item
        command = await self._queue.load(item.stream_seq)
        if status is None:
            await self._outcomes.defer(
                state,
                item,
                command,
                "retrying",
                message="QuickBooks' response had no answer for this request; "
                "it will be looked up and sent again next cycle",
            )
            return
        response_xml = xml_text(status.element)
        if sent.kind == "lookup":
            await self._settle_lookup(state, sent, command, status, response_xml)
            return
        if sent.kind == "query":
            await self._settle_query(state, sent, command, status, response_xml)
            return
        if sent.kind == "mod":
            await self._settle_mod(state, sent, command, status, response_xml)
            return
        request_xml = await self._request_xml(state, command)
        qb_id = status.txn_or_list_id
        if status.ok or (status.status_severity != "Error" and qb_id):
            await self._posted(state, item, command, status, request_xml, response_xml, "")
            return
        if command.is_prerequisite and status.status_code == NAME_IN_USE:
            # An item or job the record needs that QuickBooks already has: nothing to add.
            await self._posted(
                state,
                item,
                command,
                status,
                request_xml,
                response_xml,
                "already in QuickBooks under this name; not added again",
            )
            return
        advice = advice_for(status.status_code)
        outcome: OutcomeStatus = "retrying" if advice.retryable else "failed"
        await self._outcomes.finish(
            state,
            item,
            command,
            outcome,
            message=status.status_message,
            hint=advice.hint or None,
            status=status,
            request_qbxml=request_xml,
            response_qbxml=response_xml,
        )

    async def _settle_lookup(
        self,
        state: SessionState,
        sent: Sent,
        command: Command,
        status: ResponseStatus,
        response_xml: str,
    ) -> None:
        item = sent.item
        if status.ok:
            found = _matching_ret(command, status)
            if found is not None:
                await self._posted(
                    state,
                    item,
                    command,
                    status,
                    command.lookup_qbxml or "",
                    response_xml,
                    "found already in QuickBooks (an earlier attempt posted it); not added again",
                    ret=found,
                )
                return
        if status.ok or status.status_code == NO_MATCH:
            # Not there: the earlier attempt never posted. The request itself goes next round.
            item.lookup_done = True
            state.held.append(item)
            return
        advice = advice_for(status.status_code)
        await self._outcomes.finish(
            state,
            item,
            command,
            "retrying" if advice.retryable else "failed",
            message=f"the lookup before re-sending failed: {status.status_message}",
            hint=advice.hint or None,
            status=status,
            request_qbxml=command.lookup_qbxml,
            response_qbxml=response_xml,
            keep_marker=True,
        )

    async def _settle_query(
        self,
        state: SessionState,
        sent: Sent,
        command: Command,
        status: ResponseStatus,
        response_xml: str,
    ) -> None:
        """The EditSequence query before a Mod: the Mod goes next round with what it read."""
        item = sent.item
        query = edit_query(command.mod_qbxml or "")
        qb_id = item.qb_id or ""
        ret = ret_for(status, query.id_tag, qb_id)
        edit_sequence = ret.findtext("EditSequence") if ret is not None else None
        if edit_sequence:
            item.edit_sequence = edit_sequence
            state.held.append(item)
            return
        request_xml = xml_text(query_element(query, [qb_id]))
        if status.status_severity != "Error":
            # Status 1 (nothing found) or 500 (some of the objects asked for are not there):
            # this one was deleted in QuickBooks, or merged into another.
            what = f"{command.entity} {command.st_id}"
            await self._outcomes.finish(
                state,
                item,
                command,
                "failed",
                message=f"ServiceTitan {what} is no longer in QuickBooks: {query.id_tag} "
                f"{qb_id} was not found (deleted, or merged into another {command.entity}); "
                "its changes were not sent",
                hint=f"If it was deleted or merged in QuickBooks on purpose, nothing is to do. "
                f"Otherwise re-create it in QuickBooks, or remove the id-map entry "
                f"{id_map_key(state.connection, command.entity, command.st_id)} and replay "
                "this record so that it is added again.",
                status=status,
                request_qbxml=request_xml,
                response_qbxml=response_xml,
                qb_id=qb_id,
            )
            return
        advice = advice_for(status.status_code)
        await self._outcomes.finish(
            state,
            item,
            command,
            "retrying" if advice.retryable else "failed",
            message=f"the query for a fresh EditSequence before the Mod failed: "
            f"{status.status_message}",
            hint=advice.hint or None,
            status=status,
            request_qbxml=request_xml,
            response_qbxml=response_xml,
            qb_id=qb_id,
        )

    async def _settle_mod(
        self,
        state: SessionState,
        sent: Sent,
        command: Command,
        status: ResponseStatus,
        response_xml: str,
    ) -> None:
        item = sent.item
        element, _ = await resolve_refs(self._id_map, state.connection, command, command.mod_qbxml)
        request_xml = xml_text(fill_mod(element, item.qb_id or "", item.edit_sequence or ""))
        if status.ok or (status.status_severity != "Error" and status.txn_or_list_id):
            await self._posted(
                state,
                item,
                command,
                status,
                request_xml,
                response_xml,
                f"updated in QuickBooks (EditSequence {item.edit_sequence} read in this session)",
            )
            return
        if status.status_code == EDIT_SEQUENCE_STALE:
            item.stale_mods += 1
            if item.stale_mods < MAX_STALE_MODS:
                # Someone changed it in QuickBooks between the query and the Mod: read it
                # again and send the Mod again, in this session.
                item.edit_sequence = None
                state.held.append(item)
                return
        advice = advice_for(status.status_code)
        message = status.status_message
        if status.status_code == EDIT_SEQUENCE_STALE:
            message = (
                f"{message} (QuickBooks reported the record changed {item.stale_mods} times "
                "between the query and the Mod in this session)"
            )
        await self._outcomes.finish(
            state,
            item,
            command,
            "retrying" if advice.retryable else "failed",
            message=message,
            hint=advice.hint or None,
            status=status,
            request_qbxml=request_xml,
            response_qbxml=response_xml,
            qb_id=item.qb_id,
        )

    async def _posted(
        self,
        state: SessionState,
        item: Item,
        command: Command,
        status: ResponseStatus,
        request_xml: str,
        response_xml: str,
        message: str,
        ret: etree._Element | None = None,
    ) -> None:
        ret = ret if ret is not None else status.ret
        qb_id = _ret_text(ret, "TxnID") or _ret_text(ret, "ListID")
        edit_sequence = _ret_text(ret, "EditSequence")
        if qb_id and not command.is_prerequisite:
            await self._id_map.put(
                state.connection,
                command.entity,
                command.st_id,
                IdMapping(
                    qb_id=qb_id,
                    edit_sequence=edit_sequence,
                    command_id=command.command_id,
                    fingerprint=command.fingerprint,
                ),
            )
        await self._outcomes.finish(
            state,
            item,
            command,
            "posted",
            message=message or status.status_message,
            status=status,
            request_qbxml=request_xml,
            response_qbxml=response_xml,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
        )

    async def _request_xml(self, state: SessionState, command: Command) -> str:
        """The request with its references filled in, for the outcome."""
        element, _ = await resolve_refs(self._id_map, state.connection, command)
        return xml_text(element)


def _ret_text(ret: etree._Element | None, tag: str) -> str | None:
    if ret is None:
        return None
    found = ret.find(tag)
    return found.text if found is not None and found.text else None


def _matching_ret(command: Command, status: ResponseStatus) -> etree._Element | None:
    """The returned object that is this command's, if any.

    When the request carries an ExternalGUID (our command id, set by the mapper), only an
    object with that GUID is ours: another invoice may share a cut RefNumber. Otherwise
    the lookup is by a unique key (a list name), so the first object is the one.
    """
    rets = [c for c in status.element if isinstance(c.tag, str) and c.tag.endswith("Ret")]
    if not rets:
        return None
    request = element_from_string(command.qbxml)
    guid = next((n.text for n in request.iter("ExternalGUID") if n.text), None)
    if guid is None:
        return rets[0]
    for ret in rets:
        found = ret.find("ExternalGUID")
        if found is not None and (found.text or "").upper() == guid.upper():
            return ret
    return None
