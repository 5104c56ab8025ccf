"""Onboarding in a Web Connector session: what service.py asks of it, in one place.

- A connection not onboarded (`Connection.onboarded` False) posts nothing: its sessions read
  the company (company_read.py) and, once it is read, answer "none" until the operator
  confirms the review (`mlconnector onboard`, audit's onboarding page). Its ledger records stay
  queued meanwhile: never planned, so never waiting, retrying or failing.
- A connection onboarded: QuickBooks' 3100 (name in use) for a customer or vendor Add is
  turned into a choice for the operator instead of a failure, the names the review or such a
  choice decided are the ones sent, and the records a choice links are settled
  (name_conflicts.py).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from lxml import etree

from mlconnector.common.connections import Connection
from mlconnector.common.idmap import IdMap
from mlconnector.common.onboarding.company import CompanyStore
from mlconnector.common.onboarding.store import ReviewStore
from mlconnector.common.qbxml import ResponseStatus
from mlconnector.gateway.company_read import CompanyReader, CompanyReadFailed
from mlconnector.gateway.effects import Effects
from mlconnector.gateway.ledger import LedgerStore
from mlconnector.gateway.name_conflicts import NameConflicts
from mlconnector.gateway.refs import xml_text
from mlconnector.gateway.sessions import Sent, SessionState

log = logging.getLogger(__name__)

# HRESULTs with which the Web Connector says QuickBooks never ran the message (settle.py).
_NEVER_RAN = frozenset({"0x80040408", "0x80040401", "0x80040410", "0x80040400"})


def waiting_for_review(connection: str) -> str:
    """What a session of a connection whose review is not confirmed yet reports."""
    return (
        f"Nothing is posted for {connection} until its onboarding review is confirmed: see "
        f"`mlconnector onboard {connection}` or the dashboard's onboarding page."
    )


_ONBOARDING_KINDS = ("company", "existing")


class Onboarding:
    """`apply` writes Effects as the service does (id map, outcomes, ledger, in that order)."""

    def __init__(
        self,
        company: CompanyStore,
        review: ReviewStore,
        id_map: IdMap,
        ledger: LedgerStore,
        page_size: int,
        apply: Callable[[Effects], Awaitable[None]],
    ) -> None:
        self._company_store = company
        self._review = review
        self._reader = CompanyReader(company, page_size)
        self._names = NameConflicts(review, id_map, ledger)
        self._apply = apply

    @property
    def requests(self) -> int:
        """NATS requests made so far, for the benchmarks."""
        return self._company_store.requests + self._review.requests

    # --- a connection onboarded: names, links, 3100 -----------------------------------------

    async def before_plan(self, state: SessionState) -> None:
        """Before the ledger is planned: choices carried out, confirmed links settled, held
        records (and what depends on them) put off."""
        await self._apply(await self._names.before_plan(state))

    async def after_plan(self, state: SessionState) -> None:
        """After: names as the review decided, and the lookups of refused names."""
        await self._names.after_plan(state)

    # --- a connection not onboarded: read the company ---------------------------------

    async def plan_read(self, state: SessionState, connection: Connection) -> None:
        """`state.planned`: the next message of the company read ([] when there is nothing
        to read: the company is read and the review waits for the operator)."""
        read = state.company_read
        if read is not None and read.asked:
            # Asked for a message again without an answer to the last: QuickBooks may have
            # moved its iterators; the read starts over next session.
            await self._reader.abandon(connection.name, lost=True)
            state.company_read, state.planned = None, []
            return
        if read is None:
            manifest = await self._reader.due(connection.name)
            if manifest is None:
                state.planned = []
                return
            read = await self._reader.begin(connection.name, state.ticket, manifest)
            state.company_read = read
        if read.done:
            state.company_read, state.planned = None, []
            return
        state.planned = [self._sent(state, element) for element in self._reader.requests(read)]

    @staticmethod
    def _sent(state: SessionState, element: etree._Element) -> Sent:
        return Sent(
            request_id=state.next_request_id(),
            kind="company",
            key="",
            command_id="",
            stream_seq=0,
            request_type=str(element.tag),
            xml=xml_text(element),
        )

    def read_percent(self, state: SessionState) -> int | None:
        """The progress of a company read in this session (None when none is going on)."""
        read = state.company_read
        return read.percent() if read is not None and not read.done else None

    # --- answers --------------------------------------------------------------------------

    async def record(
        self, state: SessionState, statuses: list[ResponseStatus]
    ) -> list[ResponseStatus]:
        """Settle the answers that are onboarding's (the company read's, the lookups of
        refused names, 3100 to a customer or vendor Add); returns the others (the ledger's)."""
        statuses, effects = await self._names.record(state, statuses)
        await self._apply(effects)
        asked = {sent.request_id for sent in state.sent if sent.kind == "company"}
        if not asked:
            return statuses
        answers = [s for s in statuses if s.request_id in asked]
        read = state.company_read
        if read is not None:
            try:
                await self._reader.settle(state.connection, read, answers)
            except CompanyReadFailed as exc:
                state.last_error = (
                    f"{exc}; the company is read again next session (nothing is posted before)."
                )
                log.warning("%s: %s", state.connection, state.last_error)
                await self._reader.abandon(state.connection, lost=False)
                state.company_read = None
        state.sent = [sent for sent in state.sent if sent.kind != "company"]
        return [s for s in statuses if s.request_id not in asked]

    async def unanswered(self, state: SessionState, hresult: str) -> None:
        """The Web Connector reported an error instead of QuickBooks' answer: onboarding's
        requests leave `state.sent` (the ledger's are settled as unanswered by settle.py)."""
        if any(sent.kind == "company" for sent in state.sent):
            await self._reader.abandon(state.connection, lost=hresult.lower() not in _NEVER_RAN)
            state.company_read = None
        state.sent = [sent for sent in state.sent if sent.kind not in _ONBOARDING_KINDS]
