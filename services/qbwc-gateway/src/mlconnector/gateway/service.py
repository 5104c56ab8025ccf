"""The eight Web Connector operations, over sessions in KV and commands in JetStream.

One session round: sendRequestXML takes held and newly fetched commands, resolves their
late references, writes in-flight markers and returns one qbXML message; receiveResponseXML
publishes an outcome per request and only then acks (or naks) the command.

Tracing: every SOAP call is a span (app.py). A command that arrived with a `traceparent`
header gets its "send" and "outcome" spans in that trace (the one st-ingest started for the
ServiceTitan event), linked to the SOAP call's span; outcomes are published through the
FastStream broker, so audit continues the same trace.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Literal

from faststream.nats import NatsBroker
from lxml import etree
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError
from nats.js.kv import KeyValue
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Link, Span, SpanKind, Tracer
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator
from opentelemetry.util.types import AttributeValue
from pydantic import BaseModel

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.envelopes import Command, Outcome, OutcomeStatus
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.passwords import hash_password, verify_password
from mlconnector.common.qbxml import (
    QbxmlResponseError,
    Request,
    ResponseStatus,
    advice_for,
    build_message,
    element_from_string,
    parse_response,
)
from mlconnector.common.qbxml import schema as qbschema
from mlconnector.common.qbxml.status import NO_MATCH
from mlconnector.common.streams import KV_INFLIGHT, QB_OUTCOMES, outcome_subject
from mlconnector.common.xmlsafe import UnsafeXMLError
from mlconnector.gateway.queue import CommandQueue
from mlconnector.gateway.sessions import Item, Sent, SessionState, SessionStore, new_ticket
from mlconnector.gateway.settings import GatewaySettings

log = logging.getLogger(__name__)

SERVER_VERSION = "ml-connector qbwc-gateway 0.1.0"
UNKNOWN_TICKET = "unknown or expired ticket"
# Verified when the user name is unknown, so a wrong name costs as long as a wrong password.
_DUMMY_HASH = hash_password("not-a-real-password")
# How long to wait for JetStream's PubAck of an outcome; FastStream's default (0.5 s) is
# shorter than nats-py's, and a timeout here leaves the command unsettled for a retry.
OUTCOME_PUBLISH_TIMEOUT_SECONDS = 5.0
_PROPAGATOR = TraceContextTextMapPropagator()


def annotate_connection(connection: str) -> None:
    """Name the connection on the SOAP call's span once the ticket or user says which."""
    trace.get_current_span().set_attribute("qbwc.connection", connection)


class InflightMarker(BaseModel):
    ticket: str
    attempt: int
    request_id: str
    sent_at: dt.datetime


def _xml(element: etree._Element) -> str:
    return str(etree.tostring(element, encoding="unicode"))


@dataclass
class _Plan:
    """One round being assembled by sendRequestXML."""

    requests: list[tuple[Sent, etree._Element]] = field(default_factory=list)
    records: set[str] = field(default_factory=set)  # "<entity>:<st id>" sent this round


class QbwcService:
    def __init__(
        self,
        broker: NatsBroker,
        settings: GatewaySettings,
        connections: ConnectionStore,
        sessions: SessionStore,
        id_map: IdMap,
        inflight: KeyValue,
        queue: CommandQueue,
        tracer: Tracer,
    ) -> None:
        # Outcomes go through the broker (its telemetry middleware); pulls, acks and KV use
        # its nats-py connection directly.
        self._broker = broker
        self._nc = broker.connection
        self._js: JetStreamContext = self._nc.jetstream()
        self.tracer = tracer
        self.settings = settings
        self._connections = connections
        self._sessions = sessions
        self._id_map = id_map
        self._inflight = inflight
        self._queue = queue

    @classmethod
    async def open(
        cls,
        broker: NatsBroker,
        settings: GatewaySettings,
        *,
        tracer_provider: TracerProvider | None = None,
    ) -> QbwcService:
        """`broker` must be connected; `tracer_provider` should be the broker's own, so the
        gateway's spans and the middleware's are exported together (default: the global)."""
        nc = broker.connection
        js = nc.jetstream()
        return cls(
            broker,
            settings,
            await ConnectionStore.open(js),
            await SessionStore.open(js),
            await IdMap.open(js),
            await js.key_value(KV_INFLIGHT),
            await CommandQueue.open(nc, settings.qbwc_ack_wait_seconds),
            trace.get_tracer("mlconnector.gateway", tracer_provider=tracer_provider),
        )

    def is_connected(self) -> bool:
        return bool(self._nc.is_connected)

    # --- the eight operations ---------------------------------------------------------

    async def server_version(self) -> str:
        return SERVER_VERSION

    async def client_version(self, version: str) -> str:
        # Every Web Connector version that speaks qbXML 13 is fine; "" means "go ahead".
        return ""

    async def authenticate(self, username: str, password: str) -> list[str]:
        connection = await self._connections.by_username(username) if username else None
        password_hash = connection.password_hash if connection else _DUMMY_HASH
        # argon2 is deliberately slow: keep it off the event loop.
        valid = await asyncio.to_thread(verify_password, password_hash, password)
        if connection is None or not valid:
            log.warning("authenticate refused for QBWC user %r", username)
            return ["", "nvu"]
        annotate_connection(connection.name)
        await self._take_over(connection.name)
        state = SessionState(
            ticket=new_ticket(), connection=connection.name, tenant=connection.tenant
        )
        await self._sessions.put(state)
        await self._sessions.set_current(state)
        if not await self._queue.has_work(connection.name):
            return [state.ticket, "none"]
        return [state.ticket, connection.company_file or ""]

    async def send_request_xml(self, ticket: str) -> str:
        state = await self._session(ticket)
        if state is None:
            return ""
        state.rounds += 1
        if state.sent:
            # Asked again without an answer to the last message: its outcome is unknown,
            # so those commands go back (their in-flight markers make the next try look up).
            await self._release(state.sent_items(), 0.0)
            state.sent = []
        message, reason = await self._next_message(state)
        if not message:
            state.last_error = reason
        await self._sessions.put(state)
        return message

    async def receive_response_xml(
        self, ticket: str, response: str, hresult: str, message: str
    ) -> int:
        state = await self._session(ticket)
        if state is None:
            return -1
        if hresult:
            state.last_error = (
                f"QuickBooks reported {hresult}: {message or 'no message'}; "
                "the requests will be sent again next cycle."
            )
            await self._retry_all(state, state.last_error)
            await self._sessions.put(state)
            return -1
        try:
            statuses = parse_response(response)
        except (QbxmlResponseError, UnsafeXMLError, ValueError) as exc:
            state.last_error = (
                f"Could not read QuickBooks' response ({exc}); "
                "the requests will be looked up and sent again next cycle."
            )
            await self._retry_all(state, state.last_error)
            await self._sessions.put(state)
            return -1
        by_id = {s.request_id: s for s in statuses if s.request_id is not None}
        for sent in state.sent:
            await self._settle(state, sent, by_id.get(sent.request_id))
        state.sent = []
        await self._queue.flush()
        await self._sessions.put(state)
        return await self._percent(state)

    async def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        state = await self._session(ticket)
        if state is None:
            return "done"
        state.last_error = (
            f"The Web Connector could not reach QuickBooks ({hresult}: {message}); "
            "nothing was lost, the commands go next cycle."
        )
        await self._release([*state.sent_items(), *state.held], 0.0)
        state.sent, state.held = [], []
        await self._sessions.put(state)
        return "done"

    async def get_last_error(self, ticket: str) -> str:
        state = await self._session(ticket)
        if state is None:
            return UNKNOWN_TICKET
        # Never "NoOp": that would make the Web Connector poll a session with nothing to do.
        return state.last_error or "No error"

    async def close_connection(self, ticket: str) -> str:
        state = await self._session(ticket)
        if state is None:
            return "Unknown ticket"
        await self._release([*state.sent_items(), *state.held], 0.0)
        await self._queue.flush()
        await self._sessions.delete(state)
        return state.summary()

    # --- sessions ------------------------------------------------------------------------

    async def _session(self, ticket: str) -> SessionState | None:
        state = await self._sessions.get(ticket)
        if state is not None:
            annotate_connection(state.connection)
        return state

    async def _take_over(self, connection: str) -> None:
        """The Web Connector runs one session per application at a time: an earlier session
        of this connection that is still stored was abandoned (crash, timeout, network).
        Its commands go back now instead of after the ack wait."""
        ticket = await self._sessions.current_ticket(connection)
        old = await self._sessions.get(ticket) if ticket else None
        if old is None:
            return
        await self._release([*old.sent_items(), *old.held], 0.0)
        await self._queue.flush()
        await self._sessions.delete(old)
        log.info("session %s... of %s abandoned; its commands were released", ticket, connection)

    async def _release(self, items: list[Item], delay: float) -> None:
        for item in items:
            await self._queue.nak(item.reply, delay)

    async def _percent(self, state: SessionState) -> int:
        remaining = len(state.held) + await self._queue.undelivered(state.connection)
        if remaining == 0:
            return 100
        handled = state.posted + state.failed + state.retrying + state.waiting
        # 1-99 keeps the Web Connector asking; the exact figure only drives its progress bar.
        return max(1, min(99, (100 * handled) // (handled + remaining)))

    # --- sendRequestXML ----------------------------------------------------------------

    async def _next_message(self, state: SessionState) -> tuple[str, str]:
        candidates: list[tuple[Item, Command]] = []
        for item in state.held:
            candidates.append((item, await self._queue.load(item.stream_seq)))
        state.held = []
        room = self.settings.qbwc_batch_size - len(candidates)
        if room > 0:
            for delivery in await self._queue.fetch(state.connection, room):
                command = delivery.command
                if command.command_id in state.deferred:
                    await self._queue.nak(delivery.reply, self.settings.qbwc_retry_delay_seconds)
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
        now = dt.datetime.now(dt.UTC)
        for sent in state.sent:
            with self._command_span(
                f"qbwc send {sent.kind}",
                state,
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
                await self._inflight.put(
                    self._inflight_key(state.connection, sent.item.command_id),
                    marker.model_dump_json().encode(),
                )
        await self._queue.flush()
        return message or "", ""

    async def _plan_one(
        self, state: SessionState, plan: _Plan, item: Item, command: Command
    ) -> list[str]:
        """Add the command's request (or lookup) to the plan; return unresolved refs."""
        if command.connection != state.connection:
            await self._finish(
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
        if not item.lookup_done and await self._has_marker(state.connection, command.command_id):
            if command.lookup_qbxml:
                self._add(state, plan, item, "lookup", element_from_string(command.lookup_qbxml))
                return []
            if command.request_type.endswith("AddRq"):
                await self._finish(
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
        element = element_from_string(command.qbxml)
        missing: list[str] = []
        for ref in command.refs:
            mapping = await self._id_map.get(state.connection, ref.entity, ref.st_id)
            if mapping is None:
                missing.append(f"{ref.entity}:{ref.st_id}")
                continue
            for node in element.iter():
                if node.text == ref.placeholder:
                    node.text = mapping.qb_id
        if missing:
            return missing
        self._add(state, plan, item, "request", element)
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
            await self._finish(
                state,
                item,
                command,
                "posted",
                qb_id=posted.qb_id,
                edit_sequence=posted.edit_sequence,
                message="already posted to QuickBooks by an earlier attempt; not sent again",
            )
            return True
        await self._finish(
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

    def _add(
        self,
        state: SessionState,
        plan: _Plan,
        item: Item,
        kind: Literal["request", "lookup"],
        element: etree._Element,
    ) -> None:
        sent = Sent(request_id=state.next_request_id(), kind=kind, item=item)
        plan.requests.append((sent, element))
        plan.records.add(f"{item.entity}:{item.st_id}")

    async def _hold_or_wait(
        self, state: SessionState, plan: _Plan, item: Item, command: Command, missing: list[str]
    ) -> None:
        if all(key in plan.records for key in missing):
            # Its dependency goes to QuickBooks in this very message: send it next round.
            state.held.append(item)
            return
        names = ", ".join(key.replace(":", " ") for key in missing if key not in plan.records)
        waited = await self._queue.count_wait(state.connection, command.command_id)
        if waited >= self.settings.qbwc_max_wait_cycles:
            await self._finish(
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
        state.waiting += 1
        state.deferred.append(command.command_id)
        await self._publish(
            state,
            item,
            command,
            "waiting",
            message=f"waiting for {names} to be posted to QuickBooks "
            f"(session {waited} of {self.settings.qbwc_max_wait_cycles})",
        )
        await self._queue.nak(item.reply, self.settings.qbwc_retry_delay_seconds)

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
                await self._finish(
                    state,
                    sent.item,
                    command,
                    "failed",
                    message=f"the qbXML does not match QuickBooks' schema ({exc}); not sent",
                    hint="The mapper produced an invalid request; report it with this record.",
                    request_qbxml=_xml(element),
                )
                continue
            kept.append((sent, element))
        plan.requests = kept
        return build_message([Request(s.request_id, e) for s, e in kept]) if kept else ""

    # --- receiveResponseXML ------------------------------------------------------------

    async def _settle(self, state: SessionState, sent: Sent, status: ResponseStatus | None) -> None:
        item = sent.item
        command = await self._queue.load(item.stream_seq)
        if status is None:
            state.retrying += 1
            state.deferred.append(command.command_id)
            await self._publish(
                state,
                item,
                command,
                "retrying",
                message="QuickBooks' response had no answer for this request; "
                "it will be looked up and sent again next cycle",
            )
            await self._queue.nak(item.reply, self.settings.qbwc_retry_delay_seconds)
            return
        response_xml = _xml(status.element)
        if sent.kind == "lookup":
            await self._settle_lookup(state, sent, command, status, response_xml)
            return
        request_xml = await self._request_xml(state, command)
        qb_id = status.txn_or_list_id
        if status.ok or (status.status_severity != "Error" and qb_id):
            await self._posted(state, item, command, status, request_xml, response_xml, "")
            return
        advice = advice_for(status.status_code)
        outcome: OutcomeStatus = "retrying" if advice.retryable else "failed"
        await self._finish(
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
        await self._finish(
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
        if qb_id:
            await self._id_map.put(
                state.connection,
                command.entity,
                command.st_id,
                IdMapping(qb_id=qb_id, edit_sequence=edit_sequence, command_id=command.command_id),
            )
        await self._finish(
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

    async def _retry_all(self, state: SessionState, reason: str) -> None:
        for sent in state.sent:
            command = await self._queue.load(sent.item.stream_seq)
            state.retrying += 1
            state.deferred.append(command.command_id)
            await self._publish(state, sent.item, command, "retrying", message=reason)
            await self._queue.nak(sent.item.reply, self.settings.qbwc_retry_delay_seconds)
        state.sent = []
        await self._queue.flush()

    async def _request_xml(self, state: SessionState, command: Command) -> str:
        element = element_from_string(command.qbxml)
        for ref in command.refs:
            mapping = await self._id_map.get(state.connection, ref.entity, ref.st_id)
            if mapping is not None:
                for node in element.iter():
                    if node.text == ref.placeholder:
                        node.text = mapping.qb_id
        return _xml(element)

    # --- outcomes ----------------------------------------------------------------------

    async def _finish(
        self,
        state: SessionState,
        item: Item,
        command: Command,
        outcome: OutcomeStatus,
        *,
        message: str,
        hint: str | None = None,
        status: ResponseStatus | None = None,
        request_qbxml: str | None = None,
        response_qbxml: str | None = None,
        qb_id: str | None = None,
        edit_sequence: str | None = None,
        keep_marker: bool = False,
    ) -> None:
        """Publish the outcome, wait for JetStream to store it, then settle the command."""
        await self._publish(
            state,
            item,
            command,
            outcome,
            message=message,
            hint=hint,
            status=status,
            request_qbxml=request_qbxml,
            response_qbxml=response_qbxml,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
        )
        if outcome == "retrying":
            state.retrying += 1
            state.deferred.append(command.command_id)
            await self._queue.nak(item.reply, self.settings.qbwc_retry_delay_seconds)
        elif outcome == "posted":
            state.posted += 1
            await self._queue.ack(item.reply)
        else:
            state.failed += 1
            await self._queue.term(item.reply)
        if not keep_marker:
            # QuickBooks answered (or never saw it): the next attempt needs no lookup.
            await self._clear_marker(state.connection, command.command_id)
        if outcome != "retrying" and item.attempt > 1:
            await self._queue.clear_waits(state.connection, command.command_id)

    async def _publish(
        self,
        state: SessionState,
        item: Item,
        command: Command,
        outcome: OutcomeStatus,
        *,
        message: str,
        hint: str | None = None,
        status: ResponseStatus | None = None,
        request_qbxml: str | None = None,
        response_qbxml: str | None = None,
        qb_id: str | None = None,
        edit_sequence: str | None = None,
    ) -> None:
        record = Outcome(
            command_id=command.command_id,
            attempt=item.attempt,
            connection=state.connection,
            tenant=command.tenant,
            entity=command.entity,
            st_id=command.st_id,
            event_id=command.event_id,
            status=outcome,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
            status_code=status.status_code if status else None,
            status_severity=status.status_severity if status else None,
            status_message=message,
            hint=hint,
            request_qbxml=request_qbxml,
            response_qbxml=response_qbxml,
        )
        with self._command_span(
            f"qbwc outcome {outcome}",
            state,
            item,
            {"mlconnector.outcome": outcome, "mlconnector.event_id": command.event_id},
        ):
            # Inside the span: the broker's producer spans are its children and the outcome
            # message's traceparent continues the command's trace.
            await self._broker.publish(
                record.model_dump_json().encode(),
                outcome_subject(state.connection),
                headers={"Nats-Msg-Id": record.outcome_id},
                correlation_id=record.outcome_id,
                # With a stream the broker waits for the PubAck: the command is settled
                # (acked, naked or terminated) only after its outcome is stored.
                stream=QB_OUTCOMES.name,
                timeout=OUTCOME_PUBLISH_TIMEOUT_SECONDS,
            )

    # --- tracing -----------------------------------------------------------------------

    @contextmanager
    def _command_span(
        self,
        name: str,
        state: SessionState,
        item: Item,
        attributes: dict[str, AttributeValue],
    ) -> Iterator[Span]:
        """A span about one command: in the command's own trace when it arrived with one
        (linked to the SOAP call's span), else a child of the SOAP call's span."""
        soap_call = trace.get_current_span().get_span_context()
        incoming = _PROPAGATOR.extract(item.trace) if item.trace else None
        links: list[Link] = []
        if incoming is not None and trace.get_current_span(incoming).get_span_context().is_valid:
            if soap_call.is_valid:
                links.append(Link(soap_call))
        else:
            incoming = None  # no (valid) traceparent: stay in the SOAP call's trace
        with self.tracer.start_as_current_span(
            name,
            context=incoming,
            kind=SpanKind.INTERNAL,
            links=links,
            attributes={
                "qbwc.connection": state.connection,
                "mlconnector.command_id": item.command_id,
                "mlconnector.entity": item.entity,
                "mlconnector.st_id": item.st_id,
                "mlconnector.attempt": item.attempt,
                **attributes,
            },
        ) as span:
            yield span

    # --- in-flight markers -------------------------------------------------------------

    @staticmethod
    def _inflight_key(connection: str, command_id: str) -> str:
        return f"{connection}.{command_id}"

    async def _has_marker(self, connection: str, command_id: str) -> bool:
        try:
            entry = await self._inflight.get(self._inflight_key(connection, command_id))
        except KeyNotFoundError:
            return False
        return bool(entry.value)

    async def _clear_marker(self, connection: str, command_id: str) -> None:
        # Purge, not delete: nothing needs the history of a settled marker.
        await self._inflight.purge(self._inflight_key(connection, command_id))


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
