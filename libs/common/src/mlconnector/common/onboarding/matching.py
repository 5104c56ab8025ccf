"""Matching ServiceTitan records to the entries of a QuickBooks company's lists.

Pure functions: ServiceTitan records (`StRecord`) and QuickBooks entries (`QbEntry`) in, one
`Match` per record out, each with a reason and a confidence (0-1). The rules, in order:

1. the name ServiceTitan's record carries its id in (" #<id>", as ServiceTitan's own QuickBooks
   connector and ml-connector's `name_id_suffix` name them): decisive, confidence 1.0, and it
   wins over an entry of the exact name (that one may be another customer of the same name);
2. the exact name (the ServiceTitan name, or the name ml-connector would give it): 1.0; for GL
   accounts also the account number, for business units ServiceTitan's own `quickbooksClass`;
3. the name normalised (case, spaces, punctuation, accents, "&" / "and"): 0.9;
4. customers only: the same address and the same phone, whatever the name: 0.8.

A rule that finds several entries is narrowed by address and phone (customers, vendors) or the
rate (tax zones); if that leaves more than one, the record is "ambiguous" with the candidates:
never guessed. An entry two records claim goes to the one with the better evidence, or makes
them all ambiguous. A customer or vendor nothing matches is created ("create"), named with its
ServiceTitan id suffix when QuickBooks already uses its name (names are unique across
customers and vendors, case-insensitively: it would fail with 3100 otherwise). Items, GL
accounts, business units (classes) and tax zones (sales tax items) are never created by
ml-connector: unmatched, they are "missing".
"""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mlconnector.common.onboarding.company import QbEntry

Section = Literal["customer", "vendor", "item", "account", "business_unit", "tax_zone"]
SECTIONS: tuple[Section, ...] = (
    "customer",
    "vendor",
    "item",
    "account",
    "business_unit",
    "tax_zone",
)
MatchStatus = Literal["matched", "create", "missing", "ambiguous"]

EXACT = 1.0
NORMALISED = 0.9
NORMALISED_CONFIRMED = 0.95
ADDRESS_AND_PHONE = 0.8
CANDIDATE = 0.5


class StRecord(BaseModel):
    """A ServiceTitan record to match.

    `name`: ServiceTitan's name (a customer's or vendor's name, an item's SKU code, a GL
    account's, business unit's or tax zone's name). `qb_name`: the Name ml-connector would
    give it in QuickBooks (customers and vendors: the mapper's naming); `suffixed_name`: that
    name with the " #<id>" suffix (within QuickBooks' 41 characters). `mapped_to`: the
    QuickBooks entry the mapping settings already name for it (item_map, gl_account_map,
    class_map). `rate`: a tax zone's total rate in percent ("8.25"). The version fields
    (`event_id`, `version_at`, `generation`) are the StEvent's, for the id map.
    """

    model_config = ConfigDict(frozen=True)

    section: Section
    st_id: int
    name: str
    qb_name: str = ""
    suffixed_name: str = ""
    active: bool = True
    number: str | None = None
    class_hint: str | None = None
    mapped_to: str | None = None
    phone: str | None = None
    email: str | None = None
    street: str | None = None
    city: str | None = None
    zip: str | None = None
    rate: str | None = None
    event_id: str = ""
    version_at: dt.datetime | None = None
    generation: int = 0


class Candidate(BaseModel):
    """A QuickBooks entry a record may be: why, and how sure (0-1)."""

    model_config = ConfigDict(frozen=True)

    list_id: str
    name: str = Field(description="its FullName (Name where the list has no FullName)")
    reason: str
    confidence: float
    active: bool = True


class Match(BaseModel):
    """The plan for one ServiceTitan record.

    matched: `qb` is the entry it is; create: ml-connector adds it (named `create_as`);
    missing: QuickBooks has nothing it can be and ml-connector does not create it;
    ambiguous: `candidates` are what it may be, the operator chooses. `reason` says why in a
    sentence. `decided_by` "operator": a choice made in the review (never overwritten by a
    new plan).
    """

    section: Section
    st_id: int
    st_name: str
    status: MatchStatus
    reason: str
    qb: Candidate | None = None
    candidates: list[Candidate] = Field(default_factory=list)
    create_as: str | None = None
    decided_by: Literal["rules", "operator"] = "rules"
    record: StRecord

    @property
    def key(self) -> str:
        """'<section>:<st id>': how the review, its CSV and the dashboard name the record."""
        return f"{self.section}:{self.st_id}"


# --- normalising -------------------------------------------------------------------------

_AND = re.compile(r"\s*&\s*|\+")
_NOT_WORD = re.compile(r"[^0-9a-z]+")
_SUFFIX = re.compile(r"^(?P<head>.*?)\s*#\s*(?P<id>\d+)\s*$")
_DIGITS = re.compile(r"\D+")
_STREET_WORDS = {
    "street": "st",
    "avenue": "ave",
    "road": "rd",
    "drive": "dr",
    "boulevard": "blvd",
    "lane": "ln",
    "suite": "ste",
    "north": "n",
    "south": "s",
    "east": "e",
    "west": "w",
}


def normalise(name: str) -> str:
    """Case, accents, punctuation and spacing ignored; "&" and "+" read as "and".

    "Smith & Sons, Inc." and "SMITH AND SONS INC" both give "smith and sons inc".
    """
    text = unicodedata.normalize("NFKD", name)
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    text = _AND.sub(" and ", text)
    return " ".join(_NOT_WORD.sub(" ", text).split())


def phone_key(phone: str | None) -> str:
    """The last ten digits of a phone number ("" when it has fewer than seven)."""
    digits = _DIGITS.sub("", phone or "")
    return digits[-10:] if len(digits) >= 7 else ""


def street_key(street: str | None) -> str:
    """A street line normalised, with the usual abbreviations ("Street" -> "st")."""
    words = normalise(street or "").split()
    return " ".join(_STREET_WORDS.get(word, word) for word in words)


def _entry_streets(entry: QbEntry) -> set[str]:
    return {key for line in entry.address if (key := street_key(line))}


def _agrees(record: StRecord, entry: QbEntry) -> tuple[bool, bool]:
    """(same phone, same street) of a ServiceTitan record and a QuickBooks entry."""
    phone = phone_key(record.phone)
    same_phone = bool(phone) and phone == phone_key(entry.phone)
    street = street_key(record.street)
    same_street = bool(street) and street in _entry_streets(entry)
    if same_street and record.zip and entry.postal_code:
        same_street = record.zip.strip()[:5] == entry.postal_code.strip()[:5]
    return same_phone, same_street


# --- indexes of one QuickBooks list ---------------------------------------------------------


@dataclass
class _Index:
    entries: list[QbEntry]
    by_name: dict[str, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))
    by_norm: dict[str, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))
    by_suffix: dict[int, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))
    by_number: dict[str, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))
    by_phone: dict[str, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))
    by_street: dict[str, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))
    by_rate: dict[str, list[QbEntry]] = field(default_factory=lambda: defaultdict(list))

    @classmethod
    def build(cls, entries: Iterable[QbEntry]) -> _Index:
        index = cls(list(entries))
        for entry in index.entries:
            for text in {entry.name, entry.shown_name}:
                index.by_name[text.casefold()].append(entry)
                index.by_norm[normalise(text)].append(entry)
                suffix = _SUFFIX.match(text)
                if suffix:
                    index.by_suffix[int(suffix["id"])].append(entry)
            if entry.account_number:
                index.by_number[entry.account_number.strip()].append(entry)
            if phone := phone_key(entry.phone):
                index.by_phone[phone].append(entry)
            for street in _entry_streets(entry):
                index.by_street[street].append(entry)
            if entry.tax_rate:
                index.by_rate[_rate(entry.tax_rate)].append(entry)
        return index


def _rate(text: str) -> str:
    try:
        return f"{float(text):.4f}"
    except ValueError:
        return text.strip()


def _unique(entries: Iterable[QbEntry]) -> list[QbEntry]:
    seen: dict[str, QbEntry] = {}
    for entry in entries:
        seen.setdefault(entry.list_id, entry)
    return list(seen.values())


def _candidate(entry: QbEntry, reason: str, confidence: float) -> Candidate:
    inactive = " (inactive in QuickBooks)" if not entry.active else ""
    return Candidate(
        list_id=entry.list_id,
        name=entry.shown_name,
        reason=reason + inactive,
        confidence=confidence,
        active=entry.active,
    )


# --- one record ---------------------------------------------------------------------------

_WHAT = {
    "customer": "customer",
    "vendor": "vendor",
    "item": "item",
    "account": "account",
    "business_unit": "class",
    "tax_zone": "sales tax item",
}


def _match_one(record: StRecord, index: _Index) -> Match:
    """The record's match by the rules, before entries two records claim are settled."""
    what = _WHAT[record.section]

    def found(entry: QbEntry, reason: str, confidence: float) -> Match:
        return Match(
            section=record.section,
            st_id=record.st_id,
            st_name=record.name,
            status="matched",
            reason=reason,
            qb=_candidate(entry, reason, confidence),
            record=record,
        )

    def narrowed(entries: list[QbEntry], reason: str, confidence: float) -> Match | None:
        """One entry: matched; several: narrowed by address/phone or rate, else ambiguous."""
        entries = _unique(entries)
        if not entries:
            return None
        if len(entries) == 1:
            return found(entries[0], reason, confidence)
        agreeing = [e for e in entries if _tie_break(record, e)]
        if len(agreeing) == 1:
            return found(
                agreeing[0], f"{reason}, and {_tie_break(record, agreeing[0])}", confidence
            )
        return _ambiguous(
            record,
            f"{len(entries)} QuickBooks {what}s fit ({reason}); choose which one it is",
            [_candidate(e, reason, confidence) for e in entries],
        )

    if record.mapped_to:
        target = [
            e
            for e in index.by_name.get(record.mapped_to.casefold(), [])
            if e.shown_name.casefold() == record.mapped_to.casefold()
        ]
        if target:
            return found(target[0], "the mapping settings name it", EXACT)
        return Match(
            section=record.section,
            st_id=record.st_id,
            st_name=record.name,
            status="missing",
            reason=f"the mapping settings name {record.mapped_to!r}, which is not a "
            f"{what} in QuickBooks",
            record=record,
        )
    suffixed = [e for e in index.by_suffix.get(record.st_id, []) if _suffix_fits(e, record)]
    if match := narrowed(suffixed, f"named with its ServiceTitan id #{record.st_id}", EXACT):
        return match
    names = {record.name, record.qb_name} - {""}
    exact = [
        e
        for name in names
        for e in index.by_name.get(name.casefold(), [])
        if name in (e.name, e.shown_name)
    ]
    if match := narrowed(exact, "the same name", EXACT):
        return match
    by_number = index.by_number.get(record.number.strip(), []) if record.number else []
    if match := narrowed(by_number, f"the same account number {record.number}", EXACT):
        return match
    if record.class_hint:
        hinted = [
            e
            for e in index.by_name.get(record.class_hint.casefold(), [])
            if e.shown_name.casefold() == record.class_hint.casefold()
        ]
        if match := narrowed(hinted, "ServiceTitan's QuickBooks class for it", EXACT):
            return match
    keys = {normalise(name) for name in names} - {""}
    similar = [e for key in keys for e in index.by_norm.get(key, [])]
    if match := narrowed(
        similar, "the same name but for case, spacing, punctuation or '&'", NORMALISED
    ):
        if match.status == "matched" and match.qb is not None and record.section == "customer":
            phone, street = _agrees(record, _entry_of(index, match.qb.list_id))
            if phone or street:
                match = match.model_copy(
                    update={"qb": match.qb.model_copy(update={"confidence": NORMALISED_CONFIRMED})}
                )
        return match
    if record.section == "customer":
        return _by_address(record, index)
    return _unmatched(record)


def _entry_of(index: _Index, list_id: str) -> QbEntry:
    return next(e for e in index.entries if e.list_id == list_id)


def _suffix_fits(entry: QbEntry, record: StRecord) -> bool:
    """A name ending in " #<this record's id>" whose head is the record's name, or its start
    (names cut to fit 41 characters keep the id)."""
    suffix = _SUFFIX.match(entry.name) or _SUFFIX.match(entry.shown_name)
    if suffix is None or int(suffix["id"]) != record.st_id:
        return False
    head = normalise(suffix["head"])
    return bool(head) and any(
        normalise(name).startswith(head) for name in (record.name, record.qb_name) if name
    )


def _tie_break(record: StRecord, entry: QbEntry) -> str:
    """What agrees beyond the name ("" when nothing does)."""
    if record.section in ("customer", "vendor"):
        phone, street = _agrees(record, entry)
        return " and ".join(
            text for ok, text in ((street, "the same address"), (phone, "the same phone")) if ok
        )
    if record.section == "tax_zone" and record.rate and entry.tax_rate:
        return "the same rate" if _rate(record.rate) == _rate(entry.tax_rate) else ""
    return ""


def _by_address(record: StRecord, index: _Index) -> Match:
    """Rule 4: a customer whose address and phone are those of one QuickBooks customer."""
    phone, street = phone_key(record.phone), street_key(record.street)
    near = _unique(
        [*index.by_phone.get(phone, []), *index.by_street.get(street, [])]
        if phone or street
        else []
    )
    both = [e for e in near if all(_agrees(record, e))]
    if len(both) == 1 and len(near) == 1:
        reason = "the same address and phone (another name in QuickBooks)"
        return Match(
            section=record.section,
            st_id=record.st_id,
            st_name=record.name,
            status="matched",
            reason=reason,
            qb=_candidate(both[0], reason, ADDRESS_AND_PHONE),
            record=record,
        )
    if near:
        candidates = [
            _candidate(e, f"{_tie_break(record, e) or 'nothing else'} in common", CANDIDATE)
            for e in near
        ]
        return _ambiguous(
            record,
            "no QuickBooks customer has its name, but some share its address or phone; choose "
            "one, or create it",
            candidates,
        )
    return _unmatched(record)


def _ambiguous(record: StRecord, reason: str, candidates: list[Candidate]) -> Match:
    return Match(
        section=record.section,
        st_id=record.st_id,
        st_name=record.name,
        status="ambiguous",
        reason=reason,
        candidates=sorted(candidates, key=lambda c: (-c.confidence, c.name.casefold())),
        record=record,
    )


def _unmatched(record: StRecord) -> Match:
    what = _WHAT[record.section]
    if record.section in ("customer", "vendor"):
        return Match(
            section=record.section,
            st_id=record.st_id,
            st_name=record.name,
            status="create",
            reason=f"no QuickBooks {what} matches: ml-connector adds it when it first posts",
            create_as=record.qb_name or record.name,
            record=record,
        )
    fix = {
        "item": "create the item in QuickBooks, or choose the QuickBooks item it posts as",
        "account": "create the account in QuickBooks, or choose the QuickBooks account it posts to",
        "business_unit": "create the class in QuickBooks, or choose the class it posts with "
        "(only used when classes come from business units)",
        "tax_zone": "create the sales tax item in QuickBooks, or choose the one it is",
    }[record.section]
    return Match(
        section=record.section,
        st_id=record.st_id,
        st_name=record.name,
        status="missing",
        reason=f"no QuickBooks {what} matches; {fix}",
        record=record,
    )


# --- a whole section ----------------------------------------------------------------------


def match_section(
    section: Section,
    records: Sequence[StRecord],
    entries: Sequence[QbEntry],
    *,
    names_in_use: Iterable[str] = (),
) -> list[Match]:
    """One Match per record (in the records' order).

    `entries`: the QuickBooks list the section matches (customers: top-level customers;
    business units: classes; tax zones: sales tax items and groups). `names_in_use`: every
    name QuickBooks holds in the section's name space (customers and vendors together), so
    that a record to create is named with its id suffix where its plain name is taken.
    """
    index = _Index.build(entries)
    matches = [_match_one(record, index) for record in records]
    matches = _settle_claims(matches, index)
    if section in ("customer", "vendor"):
        matches = _name_creates(matches, names_in_use)
    return matches


def _settle_claims(matches: list[Match], index: _Index) -> list[Match]:
    """A customer or vendor entry claimed by several records goes to the one with the best
    evidence (the confidence, then address and phone); the others are other people of the
    same name, added as new ones. If none stands out, every claimant is ambiguous.

    Only customers and vendors are one-to-one: two ServiceTitan SKUs or GL accounts may well
    post to one QuickBooks item or account.
    """
    claims: dict[str, list[int]] = defaultdict(list)
    for position, match in enumerate(matches):
        if match.section in ("customer", "vendor") and match.status == "matched" and match.qb:
            claims[match.qb.list_id].append(position)
    out = list(matches)
    for list_id, positions in claims.items():
        if len(positions) < 2:
            continue
        entry = _entry_of(index, list_id)

        def evidence(position: int, entry: QbEntry = entry) -> tuple[float, int]:
            match = matches[position]
            assert match.qb is not None
            return (match.qb.confidence, _tie_break(match.record, entry).count("same"))

        ranked = sorted(positions, key=evidence, reverse=True)
        winner = ranked[0] if evidence(ranked[0]) > evidence(ranked[1]) else None
        what = _WHAT[matches[ranked[0]].section]
        for position in ranked:
            if position == winner:
                continue
            match = matches[position]
            assert match.qb is not None
            if winner is not None:
                best = matches[winner]
                reason = (
                    f"QuickBooks {what} {entry.shown_name!r} is ServiceTitan {best.section} "
                    f"{best.st_id} ({best.reason}); this one is another {what} of that name "
                    "and is added as a new one"
                )
                created = _unmatched(match.record)
                out[position] = created.model_copy(
                    update={"reason": reason, "candidates": [match.qb]}
                )
            else:
                out[position] = _ambiguous(
                    match.record,
                    f"QuickBooks {what} {entry.shown_name!r} fits it and "
                    f"{len(positions) - 1} other ServiceTitan {what}(s) as well "
                    f"({match.reason}); choose which one it is",
                    [match.qb],
                )
    return out


def _name_creates(matches: list[Match], names_in_use: Iterable[str]) -> list[Match]:
    """A customer or vendor to create whose name QuickBooks already uses is created with its
    ServiceTitan id suffix (QuickBooks would answer 3100); two records to create with the same
    name are both suffixed."""
    taken = {name.casefold() for name in names_in_use}
    wanted: dict[str, int] = defaultdict(int)
    for match in matches:
        if match.status == "create" and match.create_as:
            wanted[match.create_as.casefold()] += 1
    out = []
    for match in matches:
        name = match.create_as
        if match.status == "create" and name:
            clash = name.casefold() in taken or wanted[name.casefold()] > 1
            suffixed = match.record.suffixed_name
            if clash and suffixed and suffixed.casefold() not in taken:
                why = (
                    f"QuickBooks already has {name!r}"
                    if name.casefold() in taken
                    else f"another ServiceTitan record is also named {name!r}"
                )
                match = match.model_copy(
                    update={
                        "create_as": suffixed,
                        "reason": f"{match.reason}; {why}, so it is added as {suffixed!r}",
                    }
                )
            elif clash:
                match = _ambiguous(
                    match.record,
                    f"QuickBooks already has {name!r} and {suffixed or 'its suffixed name'!r}; "
                    "choose the QuickBooks entry it is",
                    match.candidates,
                )
        out.append(match)
    return out
