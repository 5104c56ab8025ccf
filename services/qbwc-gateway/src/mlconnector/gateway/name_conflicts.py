"""Names after onboarding: the names the review decided, and no silent 3100.

- Names: a customer or vendor the review matched keeps its QuickBooks name, and one created
  with its ServiceTitan id suffix keeps that name (`ReviewStore` name overrides): its Add, its
  lookup and its Mods carry that name instead of the mapper's (`rename`).
- Linking: once a review is confirmed, the ledger records of the matched customers and
  vendors (the version matched, or older) are settled as posted, "linked" to the QuickBooks
  entry, with an outcome that says how it was matched (`link_confirmed`); newer versions go
  through the planner as Mods of that entry.
- 3100: QuickBooks answering "name in use" to a customer or vendor Add no longer fails it.
  The record is held (`Hold`), QuickBooks is asked what holds the name (a customer and a
  vendor query by FullName: names are unique across both), and the operator chooses, in audit
  or with `mlconnector onboard --resolve`: "link" (it is that customer) or "suffix" (a new one
  named with the ServiceTitan id). Until then the record and every record that depends on it,
  directly or through another (a payment through its invoice), stay queued, out of the plan:
  they wait, they never fail. The choice is carried out at the next session (`before_plan`).
"""

from __future__ import annotations

import logging

from lxml import etree

from mlconnector.common.envelopes import version_order
from mlconnector.common.idmap import IdMap, IdMapping
from mlconnector.common.onboarding.plan import Plan
from mlconnector.common.onboarding.store import (
    ExistingEntry,
    Hold,
    Holds,
    NameOverride,
    ReviewStore,
)
from mlconnector.common.qbxml import ResponseStatus, element_from_string, sub
from mlconnector.common.qbxml.status import NAME_IN_USE
from mlconnector.gateway.effects import Effects
from mlconnector.gateway.ledger import Change, LedgerStore, WorkEntry
from mlconnector.gateway.refs import xml_text
from mlconnector.gateway.sessions import Sent, SessionState

log = logging.getLogger(__name__)

PARTIES = ("customer", "vendor")
NAME_MAX = 41  # Customer/Vendor Name (qbxml130.xsd)
_OBJECT = {"customer": "Customer", "vendor": "Vendor"}
_ADD = {"customer": "CustomerAddRq", "vendor": "VendorAddRq"}


def suffixed(name: str, st_id: int) -> str:
    """`name` with " #<id>", cut to QuickBooks' 41 characters as the mapper cuts
    (mapper.naming.qb_name with always_suffix)."""
    suffix = f" #{st_id}"
    if len(name) + len(suffix) <= NAME_MAX:
        return f"{name}{suffix}"
    return f"{name[: NAME_MAX - len(suffix)].rstrip()}{suffix}"


def _settle(command_id: str) -> Change:
    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None or current.command_id == command_id:
            return None
        return current

    return change


def _forget(command_id: str) -> Change:
    def change(current: WorkEntry | None) -> WorkEntry | None:
        if current is None:
            return None
        kept = [a for a in current.unknown if a.command_id != command_id]
        return current.model_copy(update={"unknown": kept})

    return change


class NameConflicts:
    def __init__(self, review: ReviewStore, id_map: IdMap, ledger: LedgerStore) -> None:
        self._review = review
        self._id_map = id_map
        self._ledger = ledger

    # --- before the planner -----------------------------------------------------------------

    async def before_plan(self, state: SessionState) -> Effects:
        """Carry out the operator's choices, settle what a confirmed review linked, and keep
        held records and their dependants out of this session's plan."""
        effects = Effects(state)
        connection = state.connection
        plan = await self._review.plan_head(connection)
        if plan is not None and plan.state == "confirmed" and not plan.applied:
            full = await self._review.load_plan(connection)
            if full is not None:
                await self._link_confirmed(state, full, effects)
                await self._review.save_head(full.model_copy(update={"applied": True}))
        holds = await self._review.holds(connection)
        if not holds.items:
            return effects
        entries = await self._ledger.entries(connection)
        # A newer version (or an operator's retry) of a held record, or one settled some
        # other way, is tried afresh: the hold was about the version QuickBooks refused.
        stale = {
            key
            for key, hold in holds.items.items()
            if hold.state != "chosen"
            and (
                (entry := entries.get(hold.ledger_key)) is None
                or entry.command_id != hold.command_id
            )
        }
        if stale:

            def release(current: Holds) -> Holds:
                for key in stale:
                    current.items.pop(key, None)
                return current

            holds = await self._review.change_holds(connection, release)
        chosen = [hold for hold in holds.items.values() if hold.state == "chosen"]
        if chosen:
            await self._carry_out(state, chosen, effects)
            done = {hold.key for hold in chosen}

            def drop(current: Holds) -> Holds:
                for key in done:
                    if key in current.items and current.items[key].state == "chosen":
                        del current.items[key]
                return current

            holds = await self._review.change_holds(connection, drop)
        if holds.items:
            for key in self._held_keys(holds, entries):
                if key not in state.deferred:
                    state.deferred.append(key)
        return effects

    async def _link_confirmed(self, state: SessionState, plan: Plan, effects: Effects) -> None:
        entries = await self._ledger.entries(state.connection)
        for section in PARTIES:
            for match in plan.section(section):  # type: ignore[arg-type]
                if match.status != "matched" or match.qb is None:
                    continue
                entry = entries.get(f"{state.connection}.r.{section}.{match.st_id}")
                if entry is None or entry.state != "queued":
                    continue
                record = match.record
                matched = version_order(record.version_at, record.generation, record.event_id)
                if entry.order() > matched:
                    continue  # a newer version: a Mod of the linked entry, by the planner
                effects.outcome(
                    entry,
                    "posted",
                    f"linked at onboarding to QuickBooks {section} {match.qb.name!r} "
                    f"({match.qb.list_id}): {match.reason}; not added again",
                    qb_id=match.qb.list_id,
                )
                effects.change(entry.key, _settle(entry.command_id))

    async def _carry_out(self, state: SessionState, chosen: list[Hold], effects: Effects) -> None:
        entries = await self._ledger.entries(state.connection)
        names: list[tuple[str, int, NameOverride]] = []
        for hold in chosen:
            entry = entries.get(hold.ledger_key)
            if hold.choice == "link" and hold.existing is not None:
                names.append(
                    (
                        hold.entity,
                        hold.st_id,
                        NameOverride(
                            name=hold.existing.name,
                            why=f"linked by the operator to QuickBooks {hold.entity} "
                            f"{hold.existing.name!r} after a 3100",
                        ),
                    )
                )
                if entry is None:
                    continue
                mapping = IdMapping(
                    qb_id=hold.existing.list_id,
                    edit_sequence=hold.existing.edit_sequence or None,
                    command_id=entry.command_id,
                    version_at=entry.version_at,
                    generation=entry.generation,
                    event_id=entry.event_id,
                    request_type=_ADD[hold.entity],
                )
                effects.map(entry, mapping)
                effects.outcome(
                    entry,
                    "posted",
                    f"linked by the operator's choice to the existing QuickBooks {hold.entity} "
                    f"{hold.existing.name!r} ({hold.existing.list_id}); not added again",
                    qb_id=hold.existing.list_id,
                    edit_sequence=hold.existing.edit_sequence or None,
                )
                effects.change(entry.key, _settle(entry.command_id))
            elif hold.choice == "suffix":
                names.append(
                    (
                        hold.entity,
                        hold.st_id,
                        NameOverride(
                            name=hold.suffixed_name,
                            why=f"added with its ServiceTitan id: QuickBooks already uses "
                            f"{hold.name!r}",
                        ),
                    )
                )
        await self._review.put_names(state.connection, names)

    @staticmethod
    def _held_keys(holds: Holds, entries: dict[str, WorkEntry]) -> list[str]:
        """Ledger keys of the held records and of every record that names one of them,
        directly or through another held one."""
        held = {f"{hold.entity}:{hold.st_id}" for hold in holds.items.values()}
        keys = {hold.ledger_key for hold in holds.items.values()}
        records = [e for e in entries.values() if e.kind == "record" and e.state == "queued"]
        grew = True
        while grew:
            grew = False
            for entry in records:
                if entry.key not in keys and any(ref in held for ref in entry.refs):
                    keys.add(entry.key)
                    held.add(entry.record)
                    grew = True
        return sorted(keys)

    # --- after the planner -----------------------------------------------------------------

    async def after_plan(self, state: SessionState) -> None:
        """Rename what the review or a choice named otherwise, and ask QuickBooks what holds
        the names of new holds (first in the message)."""
        planned = state.planned
        wanted = {
            (sent.entity, sent.st_id)
            for sent in planned
            if sent.entity in PARTIES and sent.kind in ("add", "lookup", "mod")
        }
        if wanted:
            names = await self._review.names(state.connection, wanted)
            if names:
                state.planned = [self._rename(sent, names) for sent in planned]
        holds = await self._review.holds(state.connection)
        looking = [
            hold
            for hold in holds.items.values()
            if hold.state == "looking" and hold.asked_ticket != state.ticket
        ]
        asks: list[Sent] = []
        for hold in looking:
            for object_name in ("Customer", "Vendor"):
                element = etree.Element(f"{object_name}QueryRq")
                sub(element, "FullName", hold.name)
                asks.append(
                    Sent(
                        request_id=state.next_request_id(),
                        kind="existing",
                        key=hold.ledger_key,
                        command_id=hold.command_id,
                        stream_seq=0,
                        request_type=str(element.tag),
                        xml=xml_text(element),
                        entity=hold.entity,
                        st_id=hold.st_id,
                    )
                )
        if asks:
            state.planned = asks + state.planned

    @staticmethod
    def _rename(sent: Sent, names: dict[tuple[str, int], NameOverride]) -> Sent:
        override = names.get((sent.entity, sent.st_id))
        if override is None or sent.entity not in PARTIES:
            return sent
        element = element_from_string(sent.xml)
        path = "FullName" if sent.kind == "lookup" else "*/Name"
        node = element.find(path)
        if node is None:
            return sent
        node.text = override.name
        return sent.model_copy(
            update={
                "xml": xml_text(element),
                "name": override.name if sent.kind == "add" else sent.name,
            }
        )

    # --- answers ------------------------------------------------------------------------------

    async def record(
        self, state: SessionState, statuses: list[ResponseStatus]
    ) -> tuple[list[ResponseStatus], Effects]:
        """Take the answers that are this module's: the existing-entry lookups, and 3100 to a
        customer or vendor Add (held instead of failed). Returns the others and the writes."""
        effects = Effects(state)
        by_id = {status.request_id: status for status in statuses}
        mine: set[str] = set()
        found: dict[str, list[tuple[str, ResponseStatus]]] = {}
        refused: list[tuple[Sent, ResponseStatus]] = []
        for sent in state.sent:
            status = by_id.get(sent.request_id)
            if sent.kind == "existing":
                mine.add(sent.request_id)
                if status is not None:
                    found.setdefault(f"{sent.entity}:{sent.st_id}", []).append(
                        (sent.request_type, status)
                    )
            elif (
                sent.kind == "add"
                and sent.entity in PARTIES
                and status is not None
                and status.status_code == NAME_IN_USE
            ):
                mine.add(sent.request_id)
                refused.append((sent, status))
        if not mine:
            return statuses, effects
        entries = await self._ledger.entries(state.connection) if (found or refused) else {}
        if refused:
            await self._hold(state, refused, entries, effects)
        if found:
            await self._offer(state, found, entries, effects)
        state.sent = [sent for sent in state.sent if sent.request_id not in mine]
        return [s for s in statuses if s.request_id not in mine], effects

    async def _hold(
        self,
        state: SessionState,
        refused: list[tuple[Sent, ResponseStatus]],
        entries: dict[str, WorkEntry],
        effects: Effects,
    ) -> None:
        new: list[Hold] = []
        for sent, status in refused:
            name = sent.name or ""
            suffix = f" #{sent.st_id}"
            hold = Hold(
                entity="customer" if sent.entity == "customer" else "vendor",
                st_id=sent.st_id,
                ledger_key=sent.key,
                command_id=sent.command_id,
                name=name,
                suffixed_name="" if name.endswith(suffix) else suffixed(name, sent.st_id),
                message=status.status_message,
            )
            new.append(hold)
            # QuickBooks answered: this attempt did not post (no lookup before the next Add).
            effects.change(sent.key, _forget(sent.command_id))
            entry = entries.get(sent.key)
            if entry is not None:
                effects.outcome(
                    entry,
                    "waiting",
                    f"QuickBooks already has the name {name!r} ({status.status_code}: "
                    f"{status.status_message}); ml-connector is looking up what holds it, then "
                    "waits for your choice: link to the existing one, or add it with the "
                    f"ServiceTitan id suffix",
                    command_id=sent.command_id,
                    response=status,
                    request_qbxml=sent.xml,
                    hint=f"`mlconnector onboard {state.connection}` or audit's onboarding page "
                    "show the choice.",
                )

        def add(current: Holds) -> Holds:
            for hold in new:
                current.items.setdefault(hold.key, hold)
            return current

        await self._review.change_holds(state.connection, add)
        for hold in new:
            if hold.ledger_key not in state.deferred:
                state.deferred.append(hold.ledger_key)

    async def _offer(
        self,
        state: SessionState,
        found: dict[str, list[tuple[str, ResponseStatus]]],
        entries: dict[str, WorkEntry],
        effects: Effects,
    ) -> None:
        holds = await self._review.holds(state.connection)
        offered: dict[str, Hold] = {}
        for key, answers in found.items():
            hold = holds.items.get(key)
            if hold is None or hold.state != "looking":
                continue
            if any(status.status_severity == "Error" for _, status in answers):
                # Asked again next session, not in a loop in this one.
                offered[key] = hold.model_copy(update={"asked_ticket": state.ticket})
                continue
            existing = None
            for request_type, status in answers:
                kind = request_type.removesuffix("QueryRq")
                if status.ret is not None and kind in ("Customer", "Vendor"):
                    existing = _existing(kind, status.ret)
            can_link = existing is not None and existing.kind == _OBJECT[hold.entity]
            closure = self._held_keys(Holds(items={key: hold}), entries)
            dependants = [entries[k] for k in closure if k in entries and k != hold.ledger_key]
            offered[key] = hold.model_copy(
                update={
                    "state": "offered",
                    "existing": existing,
                    "can_link": can_link,
                    "dependants": len(dependants),
                }
            )
            what = (
                f"QuickBooks {existing.kind.lower()} {existing.name!r} ({existing.list_id})"
                if existing is not None
                else f"another kind of name in QuickBooks ({hold.name!r})"
            )
            for dependant in dependants:
                effects.outcome(
                    dependant,
                    "waiting",
                    f"waiting for your choice about {hold.entity} {hold.st_id}: its name "
                    f"{hold.name!r} is {what}",
                    hint=f"`mlconnector onboard {state.connection} --resolve {key}=link` (it "
                    "is that one) or `=suffix` (a new one), or audit's onboarding page.",
                )

        offered_count = sum(1 for hold in offered.values() if hold.state == "offered")

        def offer(current: Holds) -> Holds:
            for key, hold in offered.items():
                if key in current.items and current.items[key].state == "looking":
                    current.items[key] = hold
            return current

        if offered:
            await self._review.change_holds(state.connection, offer)
            log.info(
                "%s: %d name conflict(s) wait for the operator", state.connection, offered_count
            )


def _existing(kind: str, ret: etree._Element) -> ExistingEntry:
    address = ret.find("BillAddress") if kind == "Customer" else ret.find("VendorAddress")
    lines: tuple[str, ...] = ()
    if address is not None:
        lines = tuple(
            text
            for tag in ("Addr1", "Addr2", "Addr3", "Addr4", "Addr5", "City", "State", "PostalCode")
            if (text := address.findtext(tag))
        )
    return ExistingEntry(
        list_id=ret.findtext("ListID") or "",
        name=ret.findtext("FullName") or ret.findtext("Name") or "",
        kind="Customer" if kind == "Customer" else "Vendor",
        edit_sequence=ret.findtext("EditSequence") or "",
        phone=ret.findtext("Phone") or None,
        email=ret.findtext("Email") or None,
        address=lines,
        active=ret.findtext("IsActive") != "false",
    )
