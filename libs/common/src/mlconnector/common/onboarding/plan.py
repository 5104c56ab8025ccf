"""The onboarding review: one Match per ServiceTitan record, by section, and the operator's
choices over it.

A plan is built from a complete company read (company.py) and ServiceTitan's records
(matching.py); the operator changes matches (`choose`, also from a CSV: plan_csv.py) and
confirms it (confirm.py). Choices survive a rebuild of the plan (`carry_choices`).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable
from typing import Literal

from pydantic import BaseModel, Field

from mlconnector.common.envelopes import utcnow
from mlconnector.common.onboarding.company import CompanySnapshot, ListName, QbEntry
from mlconnector.common.onboarding.matching import (
    SECTIONS,
    Candidate,
    Match,
    Section,
)

PlanState = Literal["draft", "confirmed"]

# What each section is matched against in the company.
SECTION_LIST: dict[Section, ListName] = {
    "customer": "customer",
    "vendor": "vendor",
    "item": "item",
    "account": "account",
    "business_unit": "class",
    "tax_zone": "item",
}
SECTION_TITLES: dict[Section, str] = {
    "customer": "customers",
    "vendor": "vendors",
    "item": "items (by SKU)",
    "account": "GL accounts",
    "business_unit": "business units (classes)",
    "tax_zone": "tax zones (sales tax items)",
}
_TAX_KINDS = frozenset({"SalesTax", "SalesTaxGroup"})


def section_entries(section: Section, snapshot: CompanySnapshot) -> list[QbEntry]:
    """The QuickBooks entries a section's records may be: top-level customers (not jobs),
    vendors, items other than sales tax items, accounts, classes, sales tax items and groups."""
    entries = snapshot.entries(SECTION_LIST[section])
    if section == "customer":
        return [e for e in entries if e.sublevel == 0]
    if section == "item":
        return [e for e in entries if e.kind not in _TAX_KINDS]
    if section == "tax_zone":
        return [e for e in entries if e.kind in _TAX_KINDS]
    return entries


def names_in_use(snapshot: CompanySnapshot) -> list[str]:
    """Every name of QuickBooks' shared customer/vendor name list (jobs by their FullName)."""
    return [e.shown_name for e in snapshot.entries("customer")] + [
        e.name for e in snapshot.entries("vendor")
    ]


class Plan(BaseModel):
    """A connection's review. `read_id`: the company read it was built from; `notes`: what
    the builder wants the operator to know (ServiceTitan lists it could not read, ...);
    `mapping_problems`: the mapping settings' names QuickBooks does not have."""

    connection: str
    state: PlanState = "draft"
    read_id: str
    built_at: dt.datetime = Field(default_factory=utcnow)
    confirmed_at: dt.datetime | None = None
    # The gateway settled the ledger records the confirmed matches link (name_conflicts.py).
    applied: bool = False
    notes: list[str] = Field(default_factory=list)
    mapping_problems: list[str] = Field(default_factory=list)
    matches: dict[str, list[Match]] = Field(default_factory=dict)

    def section(self, section: Section) -> list[Match]:
        return self.matches.get(section, [])

    def all(self) -> Iterable[Match]:
        for section in SECTIONS:
            yield from self.section(section)

    def find(self, key: str) -> Match | None:
        section, _, st_id = key.partition(":")
        if not st_id.strip().isdigit():
            return None
        wanted = int(st_id)
        return next((m for m in self.section(section) if m.st_id == wanted), None)  # type: ignore[arg-type]

    def counts(self) -> dict[str, dict[str, int]]:
        """Per section, how many records are matched, to create, missing, ambiguous."""
        return {
            section: dict(Counter(m.status for m in self.section(section)))
            for section in SECTIONS
            if self.section(section)
        }

    def ambiguous(self) -> list[Match]:
        return [m for m in self.all() if m.status == "ambiguous"]

    def replace(self, match: Match) -> None:
        section = self.matches[match.section]
        for index, current in enumerate(section):
            if current.st_id == match.st_id:
                section[index] = match
                return
        section.append(match)


class ChoiceError(ValueError):
    """A choice the review refuses; the message says why and what to write instead."""


def choose(plan: Plan, key: str, value: str, snapshot: CompanySnapshot) -> Match:
    """The operator's choice for one record: `value` is "create" (customers and vendors:
    ml-connector adds it), "none" (other sections: leave it unmatched), or the QuickBooks
    entry it is, by ListID or by name (FullName, case as QuickBooks ignores it). Returns the
    changed match; raises ChoiceError."""
    if plan.state != "draft":
        raise ChoiceError(
            f"the review of {plan.connection} is confirmed already; choices change nothing now"
        )
    match = plan.find(key.strip())
    if match is None:
        raise ChoiceError(
            f"{key!r} is not a record of this review; keys look like customer:1001 "
            "(see the plan's first column)"
        )
    value = value.strip()
    parties = match.section in ("customer", "vendor")
    if value.lower() == "create":
        if not parties:
            raise ChoiceError(
                f"{key}: ml-connector does not create {SECTION_TITLES[match.section]}; choose "
                "the QuickBooks entry it is, or 'none'"
            )
        taken = {name.casefold() for name in names_in_use(snapshot)}
        name = match.record.qb_name or match.record.name
        create_as = name if name.casefold() not in taken else match.record.suffixed_name
        if not create_as or create_as.casefold() in taken:
            raise ChoiceError(
                f"{key}: QuickBooks already uses both {name!r} and its name with the "
                "ServiceTitan id; choose the QuickBooks entry it is"
            )
        chosen = match.model_copy(
            update={
                "status": "create",
                "qb": None,
                "create_as": create_as,
                "reason": f"the operator chose to add it as {create_as!r}",
                "decided_by": "operator",
            }
        )
    elif value.lower() == "none" and not parties:
        chosen = match.model_copy(
            update={
                "status": "missing",
                "qb": None,
                "reason": "the operator left it unmatched",
                "decided_by": "operator",
            }
        )
    else:
        entry = _entry_named(section_entries(match.section, snapshot), value)
        if entry is None:
            what = "'create'" if parties else "'none'"
            raise ChoiceError(
                f"{key}: QuickBooks has no {SECTION_TITLES[match.section]} entry {value!r}; give "
                f"a ListID or a name from the company, or {what}"
            )
        taken_by = next(
            (
                other
                for other in plan.section(match.section)
                if parties
                and other.st_id != match.st_id
                and other.status == "matched"
                and other.qb is not None
                and other.qb.list_id == entry.list_id
            ),
            None,
        )
        if taken_by is not None:
            raise ChoiceError(
                f"{key}: QuickBooks {match.section} {entry.shown_name!r} is already "
                f"{taken_by.key}'s match; change that one first"
            )
        reason = "chosen by the operator"
        chosen = match.model_copy(
            update={
                "status": "matched",
                "qb": Candidate(
                    list_id=entry.list_id,
                    name=entry.shown_name,
                    reason=reason,
                    confidence=1.0,
                    active=entry.active,
                ),
                "create_as": None,
                "reason": reason,
                "decided_by": "operator",
            }
        )
    plan.replace(chosen)
    return chosen


def _entry_named(entries: list[QbEntry], value: str) -> QbEntry | None:
    by_id = next((e for e in entries if e.list_id == value), None)
    if by_id is not None:
        return by_id
    folded = value.casefold()
    return next((e for e in entries if e.shown_name.casefold() == folded), None) or next(
        (e for e in entries if e.name.casefold() == folded), None
    )


def carry_choices(old: Plan | None, new: Plan) -> Plan:
    """A rebuilt plan keeps the operator's earlier choices (by record key)."""
    if old is None:
        return new
    for match in old.all():
        if match.decided_by == "operator" and new.find(match.key) is not None:
            new.replace(match.model_copy(update={"record": new.find(match.key).record}))  # type: ignore[union-attr]
    return new
