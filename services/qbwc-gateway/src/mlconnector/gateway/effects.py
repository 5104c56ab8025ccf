"""What planning or settling a round decided, written in the order that keeps every rule.

1. The id map (what QuickBooks holds) first: once a record's posting is known it is never
   added again, whatever happens next.
2. Then the outcomes (confirmed by JetStream): nothing is lost (DESIGN rule 2).
3. Then the ledger: a settled entry is removed only after both, so a crash in between makes
   the next session settle it again (its unanswered attempt is looked up), never twice.
Each group is written with its requests pipelined: one round trip's latency, not one per item.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from mlconnector.common.envelopes import Outcome, OutcomeStatus
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.qbxml import ResponseStatus
from mlconnector.gateway.ledger import Change, LedgerStore, WorkEntry
from mlconnector.gateway.outcomes import OutcomePublisher, PendingOutcome
from mlconnector.gateway.sessions import SessionState


def _chain(changes: list[Change]) -> Change:
    def apply(entry: WorkEntry | None) -> WorkEntry | None:
        for change in changes:
            entry = change(entry)
        return entry

    return apply


def purge(_: WorkEntry | None) -> WorkEntry | None:
    return None


@dataclass
class Effects:
    """Writes collected while a round is planned or settled; `apply` makes them."""

    state: SessionState
    id_map: list[tuple[WorkEntry, IdMapping]] = field(default_factory=list)
    outcomes: list[PendingOutcome] = field(default_factory=list)
    ledger: dict[str, list[Change]] = field(default_factory=lambda: defaultdict(list))
    _attempts: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    def change(self, key: str, change: Change) -> None:
        self.ledger[key].append(change)

    def remove(self, entry: WorkEntry) -> None:
        """The entry is settled: it leaves the ledger (after its outcome is stored)."""
        self.ledger[entry.key].append(purge)

    def map(self, entry: WorkEntry, mapping: IdMapping) -> None:
        self.id_map.append((entry, mapping))

    def outcome(
        self,
        entry: WorkEntry,
        status: OutcomeStatus,
        message: str,
        *,
        command_id: str | None = None,
        event_id: str | None = None,
        hint: str | None = None,
        response: ResponseStatus | None = None,
        request_qbxml: str | None = None,
        response_qbxml: str | None = None,
        qb_id: str | None = None,
        edit_sequence: str | None = None,
        difference: dict[str, tuple[str | None, str | None]] | None = None,
        amounts: dict[str, str] | None = None,
        expected: dict[str, str] | None = None,
        attempt: int | None = None,
    ) -> None:
        """An outcome about `entry` (or about an earlier attempt's `command_id`); counted in
        the session's summary."""
        self._attempts[entry.key] += 1
        number = attempt if attempt is not None else entry.outcomes + self._attempts[entry.key]
        record = Outcome(
            command_id=command_id or entry.command_id,
            attempt=number,
            connection=entry.connection,
            tenant=entry.tenant,
            entity=entry.entity,
            st_id=entry.st_id,
            event_id=event_id or entry.event_id,
            status=status,
            qb_id=qb_id,
            edit_sequence=edit_sequence,
            status_code=response.status_code if response else None,
            status_severity=response.status_severity if response else None,
            status_message=message,
            hint=hint,
            request_qbxml=request_qbxml,
            response_qbxml=response_qbxml,
            role=entry.role,
            prerequisite=entry.kind == "prerequisite",
            difference=difference,
            amounts=amounts,
            expected=expected,
        )
        self.outcomes.append(PendingOutcome(record, entry.trace))
        if entry.kind == "record":
            self.state.count(status)

        def bump(current: WorkEntry | None) -> WorkEntry | None:
            # The number this outcome used: the next one must differ, or the stream's
            # de-duplication drops it (a record retried in 5 sessions, then failed, would
            # never tell audit it failed).
            if current is None or current.command_id != entry.command_id:
                return current
            return current.model_copy(update={"outcomes": max(current.outcomes, number)})

        self.ledger[entry.key].append(bump)

    async def apply(self, id_map: IdMap, publisher: OutcomePublisher, ledger: LedgerStore) -> None:
        connection = self.state.connection
        if self.id_map:
            await id_map.put_many(
                connection,
                [(e.entity, e.st_id, e.role, mapping) for e, mapping in self.id_map],
            )
        await publisher.publish(self.outcomes)
        if self.ledger:
            await ledger.write_many(
                connection, [(key, _chain(changes)) for key, changes in self.ledger.items()]
            )
        self.id_map, self.outcomes = [], []
        self.ledger = defaultdict(list)
