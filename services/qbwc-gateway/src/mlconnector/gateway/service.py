"""The eight Web Connector operations, over sessions in KV and commands in JetStream.

One session round: sendRequestXML takes held and newly fetched commands, resolves their
late references, writes in-flight markers and returns one qbXML message (rounds.py);
receiveResponseXML publishes an outcome per request and only then acks (or naks) the
command (responses.py, outcomes.py).
"""

from __future__ import annotations

import logging

from faststream.nats import NatsBroker
from nats.js.kv import KeyValue
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from mlconnector.common.connections import ConnectionStore
from mlconnector.common.idmap import IdMap
from mlconnector.common.qbxml import QbxmlResponseError, parse_response
from mlconnector.common.streams import KV_AUTH_LIMITS, KV_INFLIGHT
from mlconnector.common.xmlsafe import UnsafeXMLError
from mlconnector.gateway.authn import Authenticator
from mlconnector.gateway.clientversion import client_version_answer
from mlconnector.gateway.hresults import explain_hresult
from mlconnector.gateway.markers import InflightMarkers
from mlconnector.gateway.outcomes import Outcomes
from mlconnector.gateway.qbxmlversion import UnsupportedQuickBooks, choose_qbxml_version
from mlconnector.gateway.queue import CommandQueue
from mlconnector.gateway.responses import ResponseSettler
from mlconnector.gateway.rounds import RoundPlanner
from mlconnector.gateway.sessions import Item, SessionState, SessionStore, new_ticket
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.gateway.throttle import LoginThrottle
from mlconnector.gateway.tracing import annotate_connection
from mlconnector.gateway.verifier import PasswordVerifier

log = logging.getLogger(__name__)

SERVER_VERSION = "ml-connector qbwc-gateway 0.1.0"
UNKNOWN_TICKET = "unknown or expired ticket"


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
        authenticator: Authenticator,
    ) -> None:
        # Outcomes go through the broker (its telemetry middleware, outcomes.py); pulls, acks
        # and KV use its nats-py connection directly.
        self._nc = broker.connection
        self.tracer = tracer
        self.settings = settings
        self._connections = connections
        self._auth = authenticator
        self._sessions = sessions
        self._queue = queue
        markers = InflightMarkers(inflight)
        outcomes = Outcomes(broker, queue, markers, settings, tracer)
        self._rounds = RoundPlanner(queue, id_map, markers, outcomes, settings, tracer)
        self._responses = ResponseSettler(queue, id_map, outcomes)

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
        connections = await ConnectionStore.open(js)
        # Connections stored before the user-name index existed get indexed (one scan).
        await connections.reindex_usernames()
        verifier = PasswordVerifier(
            workers=settings.qbwc_auth_workers,
            max_waiting=settings.qbwc_auth_max_waiting,
            ttl=settings.qbwc_auth_cache_seconds,
        )
        throttle = LoginThrottle(await js.key_value(KV_AUTH_LIMITS))
        return cls(
            broker,
            settings,
            connections,
            await SessionStore.open(js),
            await IdMap.open(js),
            await js.key_value(KV_INFLIGHT),
            await CommandQueue.open(nc, settings.qbwc_ack_wait_seconds),
            trace.get_tracer("mlconnector.gateway", tracer_provider=tracer_provider),
            Authenticator(connections, throttle, verifier),
        )

    def is_connected(self) -> bool:
        return bool(self._nc.is_connected)

    # --- the eight operations ---------------------------------------------------------

    async def server_version(self) -> str:
        return SERVER_VERSION

    async def client_version(self, version: str) -> str:
        # "" go ahead, "W:" warn, "E:" refuse: which builds and why in clientversion.py.
        answer = client_version_answer(version)
        if answer:
            log.warning("Web Connector %r answered %s", version, answer[:2])
        return answer

    async def authenticate(self, username: str, password: str, address: str = "") -> list[str]:
        """`address`: the client address (rate limits per address; authn.py)."""
        result = await self._auth.authenticate(username, password, address)
        if result.verdict == "busy":
            return ["", "busy"]
        connection = result.connection
        if connection is None:
            return ["", "nvu"]
        annotate_connection(connection.name)
        await self._take_over(connection.name)
        state = SessionState(
            ticket=new_ticket(), connection=connection.name, tenant=connection.tenant
        )
        await self._sessions.put(state)
        await self._sessions.set_current(state)
        if not await self._queue.has_work(connection.name):
            return [state.ticket, "none", *self._idle_hints()]
        return [state.ticket, connection.company_file or ""]

    def _idle_hints(self) -> list[str]:
        """authenticate's optional third and fourth members for a "none": seconds to
        postpone the next update, and the least seconds between runs ("" = no postponing)."""
        postpone, min_run = self.settings.qbwc_postpone_seconds, self.settings.qbwc_min_run_seconds
        if min_run is not None:
            return ["" if postpone is None else str(postpone), str(min_run)]
        return [] if postpone is None else [str(postpone)]

    async def send_request_xml(
        self, ticket: str, hcp_response: str = "", major: str = "", minor: str = ""
    ) -> str:
        """`hcp_response`, `major`, `minor`: what the Web Connector reports of QuickBooks
        (strHCPResponse, qbXMLMajorVers, qbXMLMinorVers); they choose the qbXML version."""
        state = await self._session(ticket)
        if state is None:
            return ""
        try:
            # The version this session's messages are built in (qbxmlversion.py).
            # The round builder still builds envelope.QBXML_VERSION; the session-core rewrite
            # hands it `qbxml_version` (build_message(version=...)).
            qbxml_version = choose_qbxml_version(hcp_response, major, minor)
        except UnsupportedQuickBooks as exc:
            state.last_error = str(exc)
            await self._sessions.put(state)
            return ""
        log.debug("session %s... speaks qbXML %s", ticket[:8], qbxml_version)
        state.rounds += 1
        if state.sent:
            # Asked again without an answer to the last message: its outcome is unknown,
            # so those commands go back (their in-flight markers make the next try look up).
            await self._release(state.sent_items())
            state.sent = []
        message, reason = await self._rounds.next_message(state)
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
            state.last_error = explain_hresult(hresult, message, "request")
            await self._responses.retry_all(state, state.last_error)
            await self._sessions.put(state)
            return -1
        try:
            statuses = parse_response(response)
        except (QbxmlResponseError, UnsafeXMLError, ValueError) as exc:
            state.last_error = (
                f"Could not read QuickBooks' response ({exc}); "
                "the requests will be looked up and sent again next cycle."
            )
            await self._responses.retry_all(state, state.last_error)
            await self._sessions.put(state)
            return -1
        await self._responses.settle(state, statuses)
        await self._sessions.put(state)
        return await self._percent(state)

    async def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        state = await self._session(ticket)
        if state is None:
            return "done"
        state.last_error = explain_hresult(hresult, message, "connection")
        await self._release([*state.sent_items(), *state.held])
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
        await self._release([*state.sent_items(), *state.held])
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
        await self._release([*old.sent_items(), *old.held])
        await self._queue.flush()
        await self._sessions.delete(old)
        log.info("session %s... of %s abandoned; its commands were released", ticket, connection)

    async def _release(self, items: list[Item]) -> None:
        """Hand the commands back for immediate redelivery."""
        for item in items:
            await self._queue.nak(item.reply)

    async def _percent(self, state: SessionState) -> int:
        remaining = len(state.held) + await self._queue.undelivered(state.connection)
        if remaining == 0:
            return 100
        handled = state.posted + state.failed + state.retrying + state.waiting + state.changed
        # 1-99 keeps the Web Connector asking; the exact figure only drives its progress bar.
        return max(1, min(99, (100 * handled) // (handled + remaining)))
