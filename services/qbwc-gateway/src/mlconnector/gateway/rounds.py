"""Assembling one round: the qbXML message sendRequestXML returns.

Held and newly fetched commands become requests once their late references resolve; an Add
that may have posted unseen is looked up first, and a command whose references are not in
QuickBooks yet waits for a later session. A record the id map already knows is never added
again: a customer or vendor is modified (its EditSequence queried first, in the same
session, one query for all the Mods of a list), a transaction is reported as changed.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree
from opentelemetry.trace import Tracer

from mlconnector.common.envelopes import Command
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.qbxml import Request, build_message, element_from_string
from mlconnector.common.qbxml import schema as qbschema
from mlconnector.gateway.markers import InflightMarker, InflightMarkers
from mlconnector.gateway.mods import (
    Difference,
    EditQuery,
    ModShapeError,
    describe,
    difference,
    edit_query,
    fill_mod,
    id_label,
    query_element,
)
from mlconnector.gateway.outcomes import Outcomes
from mlconnector.gateway.queue import CommandQueue
from mlconnector.gateway.refs import resolve_refs, xml_text
from mlconnector.gateway.sessions import Item, Sent, SessionState
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.gateway.tracing import command_span


@dataclass
class _Request:
    """One request of the message and the commands it answers for (several for a query
    that reads the EditSequence of several objects)."""

    request_id: str
    element: etree._Element
    sents: list[Sent]


@dataclass
class _Plan:
    """One round being assembled."""

    requests: list[_Request] = field(default_factory=list)
    records: set[str] = field(default_factory=set)  # "<entity>:<st id>" sent this round
    # EditSequence queries to send, by query: the items whose Mods wait for them.
    queries: dict[EditQuery, list[Item]] = field(default_factory=dict)

    def add(
        self,
        state: SessionState,
        item: Item,
        kind: Literal["request", "lookup", "mod"],
        element: etree._Element,
    ) -> None:
        sent = Sent(request_id=state.next_request_id(), kind=kind, item=item)
        self.requests.append(_Request(sent.request_id, element, [sent]))
        self.records.add(f"{item.entity}:{item.st_id}")

    def add_query(self, query: EditQuery, item: Item) -> None:
        self.queries.setdefault(query, []).append(item)
        self.records.add(f"{item.entity}:{item.st_id}")

    def build_queries(self, state: SessionState) -> None:
        """One query request per object type, ahead of the round's other requests."""
        built: list[_Request] = []
        for query, items in self.queries.items():
            request_id = state.next_request_id()
            element = query_element(query, [item.qb_id or "" for item in items])
            sents = [Sent(request_id=request_id, kind="query", item=item) for item in items]
            built.append(_Request(request_id, element, sents))
        self.queries = {}
        self.requests = built + self.requests

    @property
    def sents(self) -> list[Sent]:
        return [sent for request in self.requests for sent in request.sents]


def _coming(records: set[str], unresolved: list[tuple[Item, Command, list[str]]]) -> set[str]:
    """The records that go to QuickBooks in this session: those in this round, and, round
    after round, those that only wait for them (a payment waits for an invoice that waits
    for its customer: all three post in one session)."""
    coming = set(records)
    grew = True
    while grew:
        grew = False
        for item, _, missing in unresolved:
            key = f"{item.entity}:{item.st_id}"
            if key not in coming and all(k in coming for k in missing):
                coming.add(key)
                grew = True
    return coming


class RoundPlanner:
    def __init__(
        self,
        queue: CommandQueue,
        id_map: IdMap,
        markers: InflightMarkers,
        outcomes: Outcomes,
        settings: GatewaySettings,
        tracer: Tracer,
    ) -> None:
        self._queue = queue
        self._id_map = id_map
        self._markers = markers
        self._outcomes = outcomes
        self._settings = settings
        self._tracer = tracer

    async def next_message(self, state: SessionState) -> tuple[str, str]:
        """The next qbXML message, or "" and why there is nothing to send."""
        candidates = await self._candidates(state)
        plan = _Plan()
        unresolved: list[tuple[Item, Command, list[str]]] = []
        for item, command in candidates:
            missing = await self._plan_one(state, plan, item, command)
            if missing:
                unresolved.append((item, command, missing))
        coming = _coming(plan.records, unresolved)
        for item, command, missing in unresolved:
            await self._hold_or_wait(state, coming, item, command, missing)
        plan.build_queries(state)

        if not plan.requests:
            await self._queue.flush()
            if state.waiting:
                return "", (
                    f"Nothing more to send this cycle: {state.waiting} command(s) wait for "
                    "records that are not in QuickBooks yet. " + state.summary()
                )
            return "", "Nothing more to send this cycle. " + state.summary()
        message = await self._valid_message(state, plan)
        state.sent = plan.sents
        await self._mark_sent(state)
        await self._queue.flush()
        return message or "", ""

    async def _candidates(self, state: SessionState) -> list[tuple[Item, Command]]:
        """The held commands, topped up to a batch with newly fetched ones."""
        candidates: list[tuple[Item, Command]] = []
        for item in state.held:
            candidates.append((item, await self._queue.load(item.stream_seq)))
        state.held = []
        room = self._settings.qbwc_batch_size - len(candidates)
        if room > 0:
            for delivery in await self._queue.fetch(state.connection, room):
                command = delivery.command
                if command.command_id in state.deferred:
                    await self._queue.nak(delivery.reply, self._settings.qbwc_retry_delay_seconds)
                    continue
                item = Item(
                    command_id=command.command_id,
                    entity=command.entity,
                    st_id=command.st_id,
                    stream_seq=delivery.stream_seq,
                    reply=delivery.reply,
                    attempt=delivery.attempt,
                    trace=delivery.trace,
                )
                candidates.append((item, command))
        return candidates

    async def _plan_one(
        self, state: SessionState, plan: _Plan, item: Item, command: Command
    ) -> list[str]:
        """Add the command's request (or lookup) to the plan; return unresolved refs."""
        if command.connection != state.connection:
            await self._outcomes.finish(
                state,
                item,
                command,
                "failed",
                message=(
                    f"command names connection {command.connection!r} but arrived on "
                    f"{state.connection!r}'s subject; it was not sent"
                ),
                hint="The mapper published it to the wrong subject; report it.",
            )
            return []
        if command.request_type.endswith("AddRq") and not command.is_prerequisite:
            posted = await self._id_map.get(state.connection, command.entity, command.st_id)
            if posted is not None:
                return await self._plan_known(state, plan, item, command, posted)
        if not item.lookup_done and await self._markers.exists(
            state.connection, command.command_id
        ):
            if command.lookup_qbxml:
                plan.add(state, item, "lookup", element_from_string(command.lookup_qbxml))
                return []
            if command.request_type.endswith("AddRq"):
                await self._outcomes.finish(
                    state,
                    item,
                    command,
                    "failed",
                    message=(
                        "an earlier attempt was sent to QuickBooks and its answer never came "
                        "back; without a lookup query it cannot be sent again safely"
                    ),
                    hint="Check QuickBooks for this record; replay it if it is not there.",
                )
                return []
        element, missing = await resolve_refs(self._id_map, state.connection, command)
        if missing:
            return missing
        plan.add(state, item, "request", element)
        return []

    async def _plan_known(
        self,
        state: SessionState,
        plan: _Plan,
        item: Item,
        command: Command,
        posted: IdMapping,
    ) -> list[str]:
        """A record the id map already knows is never added again (DESIGN rule 1).

        Either this very command posted and its ack was lost (settle it as posted again), or
        ServiceTitan sent a newer version: a list record is modified, a transaction is
        reported for the accountant.
        """
        if posted.command_id == command.command_id:
            await self._outcomes.finish(
                state,
                item,
                command,
                "posted",
                qb_id=posted.qb_id,
                edit_sequence=posted.edit_sequence,
                message="already posted to QuickBooks by an earlier attempt; not sent again",
            )
            return []
        if command.mod_qbxml is None:
            await self._report_changed(state, item, command, posted)
            return []
        try:
            query = edit_query(command.mod_qbxml)
        except ModShapeError as exc:
            await self._outcomes.finish(
                state,
                item,
                command,
                "failed",
                qb_id=posted.qb_id,
                message=f"the Mod request cannot be sent: {exc}",
                hint="The mapper produced an invalid Mod; report it with this record.",
            )
            return []
        element, missing = await resolve_refs(
            self._id_map, state.connection, command, command.mod_qbxml
        )
        if missing:
            return missing
        item.qb_id = posted.qb_id
        if item.edit_sequence is None:
            # Rule 3: read the EditSequence in this session; the Mod goes next round.
            plan.add_query(query, item)
        else:
            plan.add(state, item, "mod", fill_mod(element, posted.qb_id, item.edit_sequence))
        return []

    async def _report_changed(
        self, state: SessionState, item: Item, command: Command, posted: IdMapping
    ) -> None:
        """A transaction that changed in ServiceTitan after it posted: nothing is sent, the
        accountant gets what differs between the posted version and the new one."""
        what = f"{command.entity.capitalize()} {command.st_id}"
        where = f"{id_label(command.entity)} {posted.qb_id}"
        if posted.fingerprint and posted.fingerprint == command.fingerprint:
            await self._outcomes.finish(
                state,
                item,
                command,
                "posted",
                qb_id=posted.qb_id,
                edit_sequence=posted.edit_sequence,
                message=f"{what} is in QuickBooks ({where}) as ServiceTitan has it now: "
                "nothing QuickBooks holds changed in this version; not sent again",
            )
            return
        if command.entity == "bill":
            hint = (
                "Bills are never modified after they post. Edit the bill in QuickBooks to "
                "match ServiceTitan, or void it there and enter the new version by hand; "
                "ml-connector will not post it a second time."
            )
        else:
            hint = (
                f"Resolve it by hand in QuickBooks: edit the {command.entity} to match "
                "ServiceTitan, or void it there and re-post the new version by hand. "
                "ml-connector will not post it a second time."
            )
        diff: Difference | None = None
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
        await self._outcomes.finish(
            state,
            item,
            command,
            "changed",
            qb_id=posted.qb_id,
            message=f"{what} changed in ServiceTitan after it was posted to QuickBooks "
            f"({where}): {detail}",
            hint=hint,
            difference=diff,
        )

    async def _hold_or_wait(
        self,
        state: SessionState,
        coming: set[str],
        item: Item,
        command: Command,
        missing: list[str],
    ) -> None:
        if all(key in coming for key in missing):
            # Its dependencies go to QuickBooks in this session: send it in a later round.
            state.held.append(item)
            return
        names = ", ".join(key.replace(":", " ") for key in missing if key not in coming)
        waited = await self._queue.count_wait(state.connection, command.command_id)
        if waited >= self._settings.qbwc_max_wait_cycles:
            await self._outcomes.finish(
                state,
                item,
                command,
                "failed",
                message=f"{names} has not been posted to QuickBooks yet "
                f"(waited {waited} Web Connector sessions)",
                hint=f"See why {names} did not post (its own outcome), fix it, then replay "
                "this record.",
            )
            await self._queue.clear_waits(state.connection, command.command_id)
            return
        await self._outcomes.defer(
            state,
            item,
            command,
            "waiting",
            message=f"waiting for {names} to be posted to QuickBooks "
            f"(session {waited} of {self._settings.qbwc_max_wait_cycles})",
        )

    async def _valid_message(self, state: SessionState, plan: _Plan) -> str:
        """The qbXML message; a request the schema refuses fails alone instead of making
        QuickBooks refuse the whole message (0x80040400) every cycle."""
        message = build_message([Request(r.request_id, r.element) for r in plan.requests])
        try:
            await asyncio.to_thread(qbschema.validate, message)
            return message
        except qbschema.QbxmlSchemaError:
            pass
        kept: list[_Request] = []
        for request in plan.requests:
            try:
                await asyncio.to_thread(
                    qbschema.validate, build_message([Request(request.request_id, request.element)])
                )
            except qbschema.QbxmlSchemaError as exc:
                for sent in request.sents:
                    command = await self._queue.load(sent.item.stream_seq)
                    await self._outcomes.finish(
                        state,
                        sent.item,
                        command,
                        "failed",
                        message=f"the qbXML does not match QuickBooks' schema ({exc}); not sent",
                        hint="The mapper produced an invalid request; report it with this record.",
                        request_qbxml=xml_text(request.element),
                    )
                continue
            kept.append(request)
        plan.requests = kept
        return build_message([Request(r.request_id, r.element) for r in kept]) if kept else ""

    async def _mark_sent(self, state: SessionState) -> None:
        """A "send" span for each request in the message, and an in-flight marker for each
        command's own request (lookups, EditSequence queries and Mods are safe to repeat)."""
        now = dt.datetime.now(dt.UTC)
        for sent in state.sent:
            with command_span(
                self._tracer,
                f"qbwc send {sent.kind}",
                state.connection,
                sent.item,
                {"qbwc.request_id": sent.request_id},
            ):
                if sent.kind != "request":
                    continue
                # Written before QuickBooks can see the request: if its answer never comes
                # back, the next attempt looks the object up first (DESIGN rule 1).
                marker = InflightMarker(
                    ticket=state.ticket,
                    attempt=sent.item.attempt,
                    request_id=sent.request_id,
                    sent_at=now,
                )
                await self._markers.put(state.connection, sent.item.command_id, marker)
