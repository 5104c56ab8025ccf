"""New commands into the ledger: one record, one pending version.

Versions of a record are ordered by `Command.version_order()` (ServiceTitan's modifiedOn,
then an operator's retry generation, then the event's version text). Folding a command into
the record's entry:
- no entry: it becomes the entry;
- the entry's own command again (redelivery, replay): nothing changes;
- newer than the entry's: it replaces it, keeping the entry's unanswered attempts (they may
  have posted; their lookups run before any Add) and its place in line; the replaced version
  is "superseded" (when it was never sent; an unanswered one is settled by its lookup);
- older than (or as old as) the entry's: it is "superseded" at once, never sent.
Whether it is older than what QuickBooks already holds is decided when it is planned, against
the id map (planner.py). Prerequisites (an item, a job) are kept once per command.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from mlconnector.common.envelopes import Command, Outcome, utcnow
from mlconnector.gateway.feed import CommandFeed, Delivery
from mlconnector.gateway.ledger import (
    LedgerStore,
    WorkEntry,
    prerequisite_key,
    record_entry_key,
)
from mlconnector.gateway.outcomes import OutcomePublisher, PendingOutcome

# Dependencies before dependants: a payment applies to invoices, invoices and bills name a
# customer or vendor; a credit memo's application (role "apply") needs both transactions.
_RANK = {"customer": 0, "vendor": 0, "invoice": 1, "bill": 1, "payment": 2}


def rank_of(command: Command) -> int:
    if command.role:
        return 3
    return _RANK.get(command.entity, 3)


def entry_for(delivery: Delivery) -> WorkEntry:
    """The ledger entry a newly arrived command becomes."""
    return entry_from_command(delivery.command, delivery.stream_seq, delivery.trace)


def entry_from_command(
    command: Command, stream_seq: int, trace: dict[str, str] | None = None
) -> WorkEntry:
    """The ledger entry of `command` (stored at `stream_seq` in QB_COMMANDS). Built without
    validation: every field comes from a validated Command (this runs once per command)."""
    return WorkEntry.model_construct(
        state="queued",
        waited=0,
        waited_ticket="",
        retries=0,
        retry_ticket="",
        unknown=[],
        failure="",
        first_seen=utcnow(),
        outcomes=0,
        connection=command.connection,
        tenant=command.tenant,
        kind="prerequisite" if command.is_prerequisite else "record",
        entity=command.entity,
        st_id=command.st_id,
        role=command.role,
        command_id=command.command_id,
        stream_seq=stream_seq,
        action=command.action,
        request_type=command.request_type,
        version_at=command.version_at,
        generation=command.generation,
        event_id=command.event_id,
        rank=rank_of(command),
        refs=[ref.record for ref in command.refs],
        requires=list(command.requires),
        trace=dict(trace or {}),
    )


@dataclass
class _Fold:
    """Folding one record's new commands into its entry; re-run on a compare-and-set retry,
    so `superseded` describes the run that was written."""

    incoming: list[WorkEntry]
    superseded: list[tuple[WorkEntry, str]] = field(default_factory=list)

    def __call__(self, current: WorkEntry | None) -> WorkEntry | None:
        self.superseded = []
        entry = current
        for new in self.incoming:
            entry = self._one(entry, new)
        return entry

    def _one(self, current: WorkEntry | None, new: WorkEntry) -> WorkEntry:
        if current is None or current.command_id == new.command_id:
            return current or new
        if new.kind == "prerequisite":
            return current
        if new.order() > current.order():
            unanswered = {a.command_id for a in current.unknown}
            # A failed version has its outcome already; an unanswered one is settled by its
            # lookup (it may have posted).
            if current.state != "failed" and current.command_id not in unanswered:
                self.superseded.append((current, _newer_arrived(current, new)))
            return new.model_copy(
                update={"unknown": current.unknown, "first_seen": current.first_seen}
            )
        self.superseded.append((new, _older_arrived(new, current)))
        return current


def _when(entry: WorkEntry) -> str:
    if entry.version_at is None:
        return "undated"
    return entry.version_at.strftime("%Y-%m-%d %H:%M:%S UTC")


def _newer_arrived(old: WorkEntry, new: WorkEntry) -> str:
    reason = "a retry" if new.generation > old.generation else f"modified {_when(new)}"
    return (
        f"A newer version of {old.entity} {old.st_id} ({reason}) arrived before this one "
        "was sent; only the newest is posted."
    )


def _older_arrived(old: WorkEntry, current: WorkEntry) -> str:
    return (
        f"This version of {old.entity} {old.st_id} (modified {_when(old)}) is older than one "
        f"already queued (modified {_when(current)}); it is never sent."
    )


def misplaced_outcome(command: Command, connection: str) -> Outcome:
    """A command published on `connection`'s subject that names another connection."""
    return Outcome(
        command_id=command.command_id,
        attempt=1,
        connection=command.connection,
        tenant=command.tenant,
        entity=command.entity,
        st_id=command.st_id,
        event_id=command.event_id,
        status="failed",
        status_message=(
            f"command names connection {command.connection!r} but arrived on "
            f"{connection!r}'s subject; it was not sent"
        ),
        hint="The mapper published it to the wrong subject; report it.",
    )


def superseded_outcome(entry: WorkEntry, message: str, attempt: int = 1) -> Outcome:
    return Outcome(
        command_id=entry.command_id,
        attempt=attempt,
        connection=entry.connection,
        tenant=entry.tenant,
        entity=entry.entity,
        st_id=entry.st_id,
        event_id=entry.event_id,
        status="superseded",
        status_message=message,
        role=entry.role,
        prerequisite=entry.kind == "prerequisite",
    )


class Ingest:
    """Drains a connection's new commands into its ledger, then acknowledges them."""

    def __init__(self, feed: CommandFeed, ledger: LedgerStore, outcomes: OutcomePublisher):
        self._feed = feed
        self._ledger = ledger
        self._outcomes = outcomes

    async def run(self, connection: str) -> int:
        """Take every command waiting on the connection's subject; returns how many record
        versions were superseded on arrival (for the session's summary)."""
        deliveries = await self._feed.drain(connection)
        if not deliveries:
            return 0
        folds: dict[str, _Fold] = {}
        misplaced: list[Delivery] = []
        for delivery in deliveries:
            command = delivery.command
            if command.connection != connection:
                # Published to the wrong subject: never sent for another company (rule 7).
                misplaced.append(delivery)
                continue
            entry = entry_for(delivery)
            key = (
                prerequisite_key(connection, command.command_id)
                if entry.kind == "prerequisite"
                else record_entry_key(connection, entry.entity, entry.st_id, entry.role)
            )
            folds.setdefault(key, _Fold([])).incoming.append(entry)
        try:
            await self._ledger.write_many(connection, folds.items())
        except Exception:
            await self._feed.nak(deliveries)
            raise
        pending = [
            PendingOutcome(superseded_outcome(entry, message), entry.trace)
            for fold in folds.values()
            for entry, message in fold.superseded
        ]
        pending.extend(
            PendingOutcome(misplaced_outcome(delivery.command, connection), delivery.trace)
            for delivery in misplaced
        )
        await self._outcomes.publish(pending)
        await self._feed.ack(connection, deliveries)
        return sum(
            1 for fold in folds.values() for entry, _ in fold.superseded if entry.kind == "record"
        )
