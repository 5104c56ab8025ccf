"""The eight Web Connector operations, over sessions in KV and the work ledger.

A session: authenticate takes the connection's new commands into its ledger and plans the
first message (nothing to send: "none"); sendRequestXML hands the planned message out after
recording its Adds as unanswered attempts; receiveResponseXML settles every answer (id map,
outcomes, ledger, in that order) and plans the next message at once, so the percentage it
returns says truthfully whether more is coming (100: nothing more this session).
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Literal

from faststream.nats import NatsBroker
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Tracer

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import SessionReport, utcnow
from mlconnector.common.idmap import IdMap
from mlconnector.common.onboarding.company import CompanyStore
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.common.qbxml import QbxmlResponseError, ResponseStatus, parse_response
from mlconnector.common.streams import KV_AUTH_LIMITS
from mlconnector.common.xmlsafe import UnsafeXMLError
from mlconnector.gateway.authn import Authenticator
from mlconnector.gateway.changes import ChangeMark, ChangeWatch
from mlconnector.gateway.clientversion import client_version_answer
from mlconnector.gateway.effects import Effects
from mlconnector.gateway.feed import CommandFeed
from mlconnector.gateway.hresults import explain_hresult
from mlconnector.gateway.ingest import Ingest
from mlconnector.gateway.ledger import Attempt, Flight, LedgerStore
from mlconnector.gateway.onboarding import Onboarding, waiting_for_review
from mlconnector.gateway.outcomes import OutcomePublisher
from mlconnector.gateway.planner import Limits, Planner, render
from mlconnector.gateway.qbxmlversion import UnsupportedQuickBooks, choose_qbxml_version
from mlconnector.gateway.refs import xml_text
from mlconnector.gateway.sessions import (
    BatchLimit,
    Sent,
    SessionState,
    SessionStore,
    new_ticket,
)
from mlconnector.gateway.settings import GatewaySettings
from mlconnector.gateway.settle import (
    AnswerMismatchError,
    Settler,
    check_answers,
    ran_in_quickbooks,
)
from mlconnector.gateway.throttle import LoginThrottle
from mlconnector.gateway.tracing import annotate_connection, command_span
from mlconnector.gateway.verifier import PasswordVerifier

log = logging.getLogger(__name__)

SERVER_VERSION = "ml-connector qbwc-gateway 0.1.0"
UNKNOWN_TICKET = "unknown or expired ticket"
# Sent only when the Web Connector asks for a message and none can be built after all (it
# expects one after a percentage under 100): a harmless query, never an empty string.
PROBE = "<HostQueryRq/>"


class QbwcService:
    def __init__(
        self,
        broker: NatsBroker,
        settings: GatewaySettings,
        connections: ConnectionStore,
        sessions: SessionStore,
        id_map: IdMap,
        ledger: LedgerStore,
        feed: CommandFeed,
        tracer: Tracer,
        authenticator: Authenticator,
        company: CompanyStore,
        review: ReviewStore,
    ) -> None:
        # Outcomes go through the broker (its telemetry middleware, outcomes.py); the feed,
        # the ledger and KV use its nats-py connection directly.
        self._nc = broker.connection
        self.tracer = tracer
        self.settings = settings
        self._connections = connections
        self._auth = authenticator
        self._sessions = sessions
        self._id_map = id_map
        self._ledger = ledger
        self._feed = feed
        self._publisher = OutcomePublisher(broker, tracer)
        self._ingest = Ingest(feed, ledger, self._publisher)
        self._planner = Planner(ledger, feed, id_map)
        self._settler = Settler(id_map, ledger, feed)
        self._changes = ChangeWatch(
            broker, broker.connection.jetstream(), id_map, settings.qbwc_changes_every_seconds
        )
        self._onboarding = Onboarding(
            company, review, id_map, ledger, settings.qbwc_company_page_size, self._apply
        )

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
            await LedgerStore.open(nc),
            await CommandFeed.open(nc, settings.qbwc_ack_wait_seconds),
            trace.get_tracer("mlconnector.gateway", tracer_provider=tracer_provider),
            Authenticator(connections, throttle, verifier),
            await CompanyStore.open(js),
            await ReviewStore.open(js),
        )

    def is_connected(self) -> bool:
        return bool(self._nc.is_connected)

    @property
    def nats_requests(self) -> int:
        """NATS requests made so far (ledger, feed, sessions, outcomes), for benchmarks."""
        return (
            self._ledger.requests
            + self._feed.requests
            + self._sessions.requests
            + self._publisher.requests
        )

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
            if result.refused is not None:
                await self._report_refused(result.refused)
            return ["", "nvu"]
        annotate_connection(connection.name)
        state = SessionState(
            ticket=new_ticket(), connection=connection.name, tenant=connection.tenant
        )
        window = await self._take_over(connection.name)
        state.batch_limit, state.batch_strikes = window.limit, window.strikes
        state.superseded += await self._ingest.run(connection.name)
        await self._plan(state, connection)
        if connection.onboarded:
            await self._ask_for_changes(state)
        await self._sessions.put(state)
        await self._sessions.set_current(state)
        if not state.planned:
            if not connection.onboarded:
                state.last_error = waiting_for_review(connection.name)
            await self._report(state, "none")
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
            state.qbxml_version = choose_qbxml_version(hcp_response, major, minor)
        except UnsupportedQuickBooks as exc:
            # A real error: the Web Connector shows getLastError's sentence to the office.
            state.last_error = str(exc)
            await self._sessions.put(state)
            return ""
        state.rounds += 1
        if state.sent:
            # Asked again without an answer to the last message: its Adds stay unanswered
            # attempts (looked up before they are sent again); plan afresh.
            state.sent, state.planned = [], []
            connection = await self._connections.get(state.connection)
            if connection is not None:
                await self._plan(state, connection)
        if not state.planned and state.finished:
            return ""  # asked after 100%: nothing more in this session
        sents = state.planned or [self._probe(state)]
        await self._record_attempts(state, sents)
        self._trace_sends(state, sents)
        state.sent, state.planned = sents, []
        state.sent_at = utcnow()
        await self._sessions.put(state)
        return render(sents, state.qbxml_version)

    async def receive_response_xml(
        self, ticket: str, response: str, hresult: str, message: str
    ) -> int:
        state = await self._session(ticket)
        if state is None:
            return -1
        if hresult:
            state.hresult = hresult
            state.last_error = explain_hresult(hresult, message, "request")
            await self._onboarding.unanswered(state, hresult)
            connection = await self._connections.get(state.connection)
            limits = self._limits(state, connection) if connection is not None else None
            effects = await self._settler.unanswered(state, hresult, state.last_error, limits)
            await self._apply(effects)
            if not ran_in_quickbooks(hresult):
                await self._ledger.drop_flight(state.connection, state.ticket)
            await self._sessions.put(state)
            return -1
        try:
            statuses = parse_response(response)
            check_answers(state.sent, statuses)
            statuses = await self._record_changes(state, statuses)
            statuses = await self._onboarding.record(state, statuses)
        except (QbxmlResponseError, UnsafeXMLError, ValueError) as exc:
            reason = (
                f"QuickBooks' answer does not belong to the last message ({exc})"
                if isinstance(exc, AnswerMismatchError)
                else f"Could not read QuickBooks' response ({exc})"
            )
            state.last_error = (
                f"{reason}; nothing of it was recorded, and the requests will be looked up "
                "and sent again next cycle."
            )
            log.warning("session %s...: %s", ticket[:8], state.last_error)
            state.sent = []
            await self._sessions.put(state)
            return -1
        connection = await self._connections.get(state.connection)
        if connection is None:
            state.last_error = f"connection {state.connection!r} was removed"
            await self._sessions.put(state)
            return -1
        limits = self._limits(state, connection)
        elapsed = (utcnow() - state.sent_at).total_seconds() if state.sent_at else 0.0
        sent_count = len({sent.request_id for sent in state.sent})
        await self._apply(await self._settler.settle(state, statuses, limits))
        # Every Add of the message is settled (or, unanswered, an attempt of its entry now).
        await self._ledger.drop_flight(state.connection, state.ticket)
        await self._adapt(state, elapsed, sent_count)
        state.superseded += await self._ingest.run(state.connection)
        await self._plan(state, connection)
        percent = await self._percent(state)
        state.finished = percent == 100
        await self._sessions.put(state)
        return percent

    async def connection_error(self, ticket: str, hresult: str, message: str) -> str:
        state = await self._session(ticket)
        if state is None:
            return "done"
        state.hresult = hresult
        state.last_error = explain_hresult(hresult, message, "connection")
        await self._onboarding.unanswered(state, hresult)
        await self._apply(await self._settler.unanswered(state, hresult, state.last_error))
        await self._shrink(state)
        state.planned = []
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
        await self._report(state, "error" if state.last_error else "ok")
        await self._sessions.delete(state)
        return state.summary()

    # --- sessions ------------------------------------------------------------------------

    async def _session(self, ticket: str) -> SessionState | None:
        state = await self._sessions.get(ticket)
        if state is not None:
            annotate_connection(state.connection)
        return state

    async def _take_over(self, connection: str) -> BatchLimit:
        """The Web Connector runs one session per application at a time: an earlier session
        still stored was abandoned (crash, timeout, network). Its unanswered Adds are already
        recorded in the ledger; a message it never answered was probably too big for the
        Web Connector's timeout, so the next ones are smaller. Returns the message limit."""
        window = await self._sessions.batch_limit(connection, self.settings.qbwc_batch_size)
        ticket = await self._sessions.current_ticket(connection)
        old = await self._sessions.get(ticket) if ticket else None
        if old is None:
            return window
        if old.sent:
            sent = len({s.request_id for s in old.sent})
            window = window.timed_out(sent, utcnow())
            await self._sessions.set_batch_limit(connection, window)
            log.info(
                "session %s... of %s was abandoned with a message of %d requests unanswered; "
                "messages of at most %d requests from now on",
                old.ticket[:8],
                connection,
                sent,
                window.limit,
            )
        await self._sessions.delete(old)
        return window

    async def _adapt(self, state: SessionState, elapsed: float, sent: int) -> None:
        """Smaller messages after a slow answer, larger again after full ones in time."""
        slow = self.settings.qbwc_slow_seconds
        if state.batch_strikes:
            # A message answered: the abandoned ones before were not about its size.
            window = await self._sessions.batch_limit(
                state.connection, self.settings.qbwc_batch_size
            )
            await self._sessions.set_batch_limit(
                state.connection, window.model_copy(update={"strikes": 0})
            )
            state.batch_strikes = 0
        if elapsed > slow:
            await self._shrink(state)
        elif sent >= state.batch_limit and elapsed < slow / 2:
            window = await self._sessions.batch_limit(
                state.connection, self.settings.qbwc_batch_size
            )
            grown = window.model_copy(update={"limit": state.batch_limit, "strikes": 0}).answered(
                sent, self.settings.qbwc_batch_size, utcnow()
            )
            if grown != window:
                state.batch_limit = grown.limit
                await self._sessions.set_batch_limit(state.connection, grown)

    async def _shrink(self, state: SessionState) -> None:
        if state.batch_limit > 1:
            window = await self._sessions.batch_limit(
                state.connection, self.settings.qbwc_batch_size
            )
            window = window.model_copy(update={"limit": state.batch_limit}).slow()
            state.batch_limit = window.limit
            await self._sessions.set_batch_limit(state.connection, window)

    def _limits(self, state: SessionState, connection: Connection) -> Limits:
        return Limits(
            requests=state.batch_limit,
            message_bytes=self.settings.qbwc_max_message_bytes,
            wait_sessions=self.settings.qbwc_max_wait_cycles,
            retry_sessions=connection.retry_sessions,
        )

    async def _plan(self, state: SessionState, connection: Connection) -> None:
        if not connection.onboarded:
            # Onboarding (onboarding.py): the company is read first; nothing posts before
            # the operator confirms the review, so the ledger is not planned at all.
            await self._onboarding.plan_read(state, connection)
            return
        await self._onboarding.before_plan(state)  # choices, links, held names: onboarding.py
        effects = await self._planner.plan(state, self._limits(state, connection))
        await self._apply(effects)
        await self._onboarding.after_plan(state)  # names the review decided: onboarding.py

    async def _apply(self, effects: Effects) -> None:
        await effects.apply(self._id_map, self._publisher, self._ledger)

    async def _ask_for_changes(self, state: SessionState) -> None:
        """When a poll is due, the first message also asks QuickBooks what changed there."""
        mark = await self._changes.due(state.connection)
        if mark is None:
            return
        state.change_mark = mark
        asks = [
            Sent(
                request_id=state.next_request_id(),
                kind="changes",
                key="",
                command_id="",
                stream_seq=0,
                request_type=str(element.tag),
                xml=xml_text(element),
            )
            for element in self._changes.queries(mark)
        ]
        state.planned = asks + state.planned

    async def _record_changes(
        self, state: SessionState, statuses: list[ResponseStatus]
    ) -> list[ResponseStatus]:
        """Publish what the change queries found; returns the other answers."""
        asked = {sent.request_id for sent in state.sent if sent.kind == "changes"}
        if not asked:
            return statuses
        answers = [s for s in statuses if s.request_id in asked]
        published = await self._changes.settle(
            state.connection, state.change_mark or ChangeMark(), answers
        )
        if published:
            log.info("%d QuickBooks change(s) of %s for ServiceTitan", published, state.connection)
        state.sent = [sent for sent in state.sent if sent.kind != "changes"]
        return [s for s in statuses if s.request_id not in asked]

    def _probe(self, state: SessionState) -> Sent:
        return Sent(
            request_id=state.next_request_id(),
            kind="probe",
            key="",
            command_id="",
            stream_seq=0,
            request_type="HostQueryRq",
            xml=PROBE,
        )

    async def _record_attempts(self, state: SessionState, sents: list[Sent]) -> None:
        """Before QuickBooks can see them, the message's Adds are recorded (one Flight write
        for the message): if its answer never comes back, the next plan turns them into
        unanswered attempts, looked up before anything is sent again (DESIGN rule 1)."""
        now = dt.datetime.now(dt.UTC)
        attempts = [
            (
                sent.key,
                Attempt(
                    command_id=sent.command_id,
                    stream_seq=sent.stream_seq,
                    ticket=state.ticket,
                    sent_at=now,
                ),
            )
            for sent in sents
            if sent.kind == "add"
        ]
        if attempts:
            await self._ledger.put_flight(
                state.connection, Flight(ticket=state.ticket, attempts=attempts)
            )

    def _trace_sends(self, state: SessionState, sents: list[Sent]) -> None:
        """A "send" span per request, in the trace of the command it carries."""
        for sent in sents:
            if sent.kind == "probe":
                continue
            with command_span(
                self.tracer,
                f"qbwc send {sent.kind}",
                state.connection,
                sent,
                sent.trace,
                {"qbwc.request_id": sent.request_id},
            ):
                pass

    async def _percent(self, state: SessionState) -> int:
        if not state.planned:
            return 100
        reading = self._onboarding.read_percent(state)
        if reading is not None:
            return reading
        entries = await self._ledger.entries(state.connection)
        remaining = sum(
            1
            for entry in entries.values()
            if entry.kind == "record"
            and entry.state == "queued"
            and entry.key not in state.deferred
        )
        handled = state.posted + state.failed + state.retrying + state.waiting + state.changed
        handled += state.voided + state.superseded + state.differs
        # 1-99 keeps the Web Connector asking; the figure only drives its progress bar.
        return max(1, min(99, (100 * handled) // max(1, handled + remaining)))

    async def _report_refused(self, connection: str) -> None:
        """The connection's Web Connector called with a wrong password: audit shows it."""
        report = SessionReport(
            connection=connection,
            started_at=utcnow(),
            result="refused",
            last_error=(
                "The Web Connector called with a wrong password: type the connection's "
                "password again in the Web Connector (right-click the application, Password)."
            ),
        )
        try:
            await self._publisher.report_session(report)
        except Exception:  # a report must never fail the Web Connector's call
            log.exception("could not publish the refused login of %s", connection)

    async def _report(
        self, state: SessionState, result: Literal["none", "ok", "error", "refused"]
    ) -> None:
        report = SessionReport(
            connection=state.connection,
            started_at=state.created_at,
            result=result,
            posted=state.posted + state.differs,
            failed=state.failed,
            waiting=state.waiting,
            retrying=state.retrying,
            changed=state.changed,
            hresult=state.hresult,
            last_error=state.last_error or None,
            qbxml_version=state.qbxml_version,
        )
        try:
            await self._publisher.report_session(report)
        except Exception:  # a report must never fail the Web Connector's call
            log.exception("could not publish the session report of %s", state.connection)
