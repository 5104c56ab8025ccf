"""Assembling one round: the qbXML message sendRequestXML returns.

Held and newly fetched commands become requests once their late references resolve; an Add
the id map already knows is never sent, an Add that may have posted unseen is looked up
first, and a command whose references are not in QuickBooks yet waits for a later session.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass, field
from typing import Literal

from lxml import etree
from opentelemetry.trace import Tracer

from mlconnector.common.envelopes import Command
from mlconnector.common.idmap import IdMap
from mlconnector.common.qbxml import Request, build_message, element_from_string
from mlconnector.common.qbxml import schema as qbschema
from mlconnector.gateway.markers import InflightMarker, InflightMarkers
from mlconnector.gateway.outcomes import Outcomes
from mlconnector.gateway.queue import CommandQueue
from mlconnector.gateway.refs import resolve_refs, xml_text
from mlconnector.gateway.sessions import Item, Sent, SessionState
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.gateway.tracing import command_span


@dataclass
class _Plan:
    """One round being assembled."""

    requests: list[tuple[Sent, etree._Element]] = field(default_factory=list)
    records: set[str] = field(default_factory=set)  # "<entity>:<st id>" sent this round

    def add(
        self,
        state: SessionState,
        item: Item,
        kind: Literal["request", "lookup"],
        element: etree._Element,
    ) -> None:
        sent = Sent(request_id=state.next_request_id(), kind=kind, item=item)
        self.requests.append((sent, element))
        self.records.add(f"{item.entity}:{item.st_id}")


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
        for item, command, missing in unresolved:
            await self._hold_or_wait(state, plan, item, command, missing)

        if not plan.requests:
            await self._queue.flush()
            if state.waiting:
                return "", (
                    f"Nothing more to send this cycle: {state.waiting} command(s) wait for "
                    "records that are not in QuickBooks yet. " + state.summary()
                )
            return "", "Nothing more to send this cycle. " + state.summary()
        message = await self._valid_message(state, plan)
        state.sent = [sent for sent, _ in plan.requests]
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
        if command.request_type.endswith("AddRq") and await self._already_posted(
            state, item, command
        ):
            return []
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

    async def _already_posted(self, state: SessionState, item: Item, command: Command) -> bool:
        """An Add for a record the id map already knows is never sent (DESIGN rule 1).

        Either this very command posted and its ack was lost (settle it as posted again), or
        ServiceTitan sent a newer version of a record that is already in the books: adding it
        would post it twice, so it is reported for the accountant instead.
        """
        posted = await self._id_map.get(state.connection, command.entity, command.st_id)
        if posted is None:
            return False
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
            return True
        await self._outcomes.finish(
            state,
            item,
            command,
            "failed",
            qb_id=posted.qb_id,
            message=(
                f"ServiceTitan {command.entity} {command.st_id} changed after it was posted to "
                f"QuickBooks (id {posted.qb_id}); the new version was not added again"
            ),
            hint=(
                "Compare the record in QuickBooks with ServiceTitan and correct QuickBooks by "
                "hand if needed; nothing was posted twice."
            ),
        )
        return True

    async def _hold_or_wait(
        self, state: SessionState, plan: _Plan, item: Item, command: Command, missing: list[str]
    ) -> None:
        if all(key in plan.records for key in missing):
            # Its dependency goes to QuickBooks in this very message: send it next round.
            state.held.append(item)
            return
        names = ", ".join(key.replace(":", " ") for key in missing if key not in plan.records)
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
        message = build_message([Request(s.request_id, e) for s, e in plan.requests])
        try:
            await asyncio.to_thread(qbschema.validate, message)
            return message
        except qbschema.QbxmlSchemaError:
            pass
        kept: list[tuple[Sent, etree._Element]] = []
        for sent, element in plan.requests:
            try:
                await asyncio.to_thread(
                    qbschema.validate, build_message([Request(sent.request_id, element)])
                )
            except qbschema.QbxmlSchemaError as exc:
                command = await self._queue.load(sent.item.stream_seq)
                await self._outcomes.finish(
                    state,
                    sent.item,
                    command,
                    "failed",
                    message=f"the qbXML does not match QuickBooks' schema ({exc}); not sent",
                    hint="The mapper produced an invalid request; report it with this record.",
                    request_qbxml=xml_text(element),
                )
                continue
            kept.append((sent, element))
        plan.requests = kept
        return build_message([Request(s.request_id, e) for s, e in kept]) if kept else ""

    async def _mark_sent(self, state: SessionState) -> None:
        """A "send" span for each request in the message, and an in-flight marker for each
        that is not a lookup."""
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
