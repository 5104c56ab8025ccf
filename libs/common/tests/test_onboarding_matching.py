"""Matching ServiceTitan records to QuickBooks list entries: every rule, its reason and
confidence, ambiguity never guessed, and properties over random lists."""

from __future__ import annotations

from collections import Counter

from hypothesis import given
from hypothesis import strategies as st

from mlconnector.common.onboarding.company import QbEntry
from mlconnector.common.onboarding.matching import (
    Match,
    StRecord,
    match_section,
    normalise,
    phone_key,
    street_key,
)


def qb(list_id: str, name: str, **fields: object) -> QbEntry:
    return QbEntry.model_validate({"list_id": list_id, "name": name, **fields})


def customer(st_id: int, name: str, **fields: object) -> StRecord:
    suffix = f" #{st_id}"
    return StRecord.model_validate(
        {
            "section": "customer",
            "st_id": st_id,
            "name": name,
            "qb_name": name[:41],
            "suffixed_name": name[: 41 - len(suffix)] + suffix,
            **fields,
        }
    )


def one(matches: list[Match]) -> Match:
    assert len(matches) == 1
    return matches[0]


def test_normalising_ignores_case_spacing_punctuation_accents_and_ampersands() -> None:
    assert normalise("Smith & Sons, Inc.") == "smith and sons inc"
    assert normalise("  SMITH AND   SONS INC ") == "smith and sons inc"
    assert normalise("Peña Plumbing+Heating") == "pena plumbing and heating"
    assert phone_key("(512) 555-0142") == phone_key("+1 512.555.0142") == "5125550142"
    assert phone_key("555") == ""
    assert street_key("1418 Maple Ridge Drive") == street_key("1418 maple ridge dr.")


def test_the_exact_name_matches_with_full_confidence() -> None:
    match = one(
        match_section(
            "customer", [customer(1001, "Hernandez, Maria")], [qb("80-1", "Hernandez, Maria")]
        )
    )
    assert (match.status, match.reason) == ("matched", "the same name")
    assert match.qb is not None
    assert (match.qb.list_id, match.qb.confidence) == ("80-1", 1.0)


def test_the_servicetitan_id_suffix_is_decisive_even_beside_an_exact_name() -> None:
    entries = [qb("80-1", "Smith, John"), qb("80-2", "Smith, John #1002")]
    match = one(match_section("customer", [customer(1002, "Smith, John")], entries))
    assert match.status == "matched"
    assert match.qb is not None
    assert (match.qb.list_id, match.reason) == ("80-2", "named with its ServiceTitan id #1002")
    # A cut name keeps its id: the head is the start of ServiceTitan's name.
    long = "Brightside Property Management Association of Austin"
    cut = qb("80-3", "Brightside Property Management Ass #1003")
    match = one(match_section("customer", [customer(1003, long)], [cut]))
    assert match.qb is not None
    assert match.qb.list_id == "80-3"
    # Another record's id never matches.
    match = one(match_section("customer", [customer(1004, "Smith, John")], [entries[1]]))
    assert match.status == "create"


def test_a_normalised_name_matches_below_full_confidence_and_address_raises_it() -> None:
    entries = [qb("80-1", "ACME PLUMBING & HEATING", phone="512-555-0101")]
    plain = one(match_section("customer", [customer(1, "Acme Plumbing and Heating")], entries))
    assert plain.status == "matched"
    assert plain.qb is not None
    assert plain.qb.confidence == 0.9
    assert plain.reason == "the same name but for case, spacing, punctuation or '&'"
    confirmed = one(
        match_section(
            "customer",
            [customer(1, "Acme Plumbing and Heating", phone="(512) 555-0101")],
            entries,
        )
    )
    assert confirmed.qb is not None
    assert confirmed.qb.confidence == 0.95


def test_several_normalised_candidates_are_ambiguous_unless_address_or_phone_tells() -> None:
    entries = [
        qb("80-1", "Smith & Sons", address=("Smith & Sons", "12 Oak St"), postal_code="78701"),
        qb("80-2", "Smith and Sons", phone="512-555-0199"),
    ]
    unclear = one(match_section("customer", [customer(7, "smith and sons")], entries))
    assert unclear.status == "ambiguous"
    assert unclear.qb is None
    assert [c.list_id for c in unclear.candidates] == ["80-1", "80-2"]
    assert unclear.reason.startswith("2 QuickBooks customers fit")
    told = one(
        match_section(
            "customer",
            [customer(7, "smith and sons", street="12 Oak Street", zip="78701")],
            entries,
        )
    )
    assert told.status == "matched"
    assert told.qb is not None
    assert told.qb.list_id == "80-1"
    assert told.reason.endswith("and the same address")


def test_address_and_phone_match_a_customer_named_otherwise() -> None:
    entries = [
        qb(
            "80-1",
            "Maria Hernandez",
            phone="512-555-0142",
            address=("Maria Hernandez", "1418 Maple Ridge Dr"),
            postal_code="78745",
        )
    ]
    both = customer(
        1001, "Hernandez, Maria", phone="5125550142", street="1418 Maple Ridge Drive", zip="78745"
    )
    match = one(match_section("customer", [both], entries))
    assert match.status == "matched"
    assert match.qb is not None
    assert match.qb.confidence == 0.8
    assert match.reason == "the same address and phone (another name in QuickBooks)"
    # The phone alone is a suggestion for the operator, never a match.
    phone_only = customer(1001, "Hernandez, Maria", phone="5125550142")
    match = one(match_section("customer", [phone_only], entries))
    assert match.status == "ambiguous"
    assert [c.list_id for c in match.candidates] == ["80-1"]
    assert match.candidates[0].reason == "the same phone in common"


def test_an_entry_two_records_claim_goes_to_the_better_evidence_the_other_is_created() -> None:
    entries = [qb("80-1", "Smith, John", address=("Smith, John", "1 Elm St"))]
    records = [
        customer(1001, "Smith, John", street="9 Oak St"),
        customer(1002, "Smith, John", street="1 Elm Street"),
    ]
    first, second = match_section(
        "customer", records, entries, names_in_use=[e.name for e in entries]
    )
    assert second.status == "matched"
    assert second.qb is not None
    assert second.qb.list_id == "80-1"
    assert first.status == "create"
    assert first.create_as == "Smith, John #1001"
    assert "is added as 'Smith, John #1001'" in first.reason
    # Nothing tells them apart: both ambiguous, nobody guessed.
    records = [customer(1001, "Smith, John"), customer(1002, "Smith, John")]
    statuses = [m.status for m in match_section("customer", records, entries)]
    assert statuses == ["ambiguous", "ambiguous"]


def test_a_record_to_create_whose_name_quickbooks_uses_gets_its_id_suffix() -> None:
    # A vendor of that name: customers and vendors share QuickBooks' names, case aside.
    match = one(
        match_section(
            "customer",
            [customer(1005, "Ferguson Supply")],
            [],
            names_in_use=["FERGUSON SUPPLY"],
        )
    )
    assert (match.status, match.create_as) == ("create", "Ferguson Supply #1005")
    fresh = one(match_section("customer", [customer(1006, "Chen, Wei")], []))
    assert (fresh.status, fresh.create_as) == ("create", "Chen, Wei")


def test_items_accounts_classes_and_tax_items_are_matched_or_missing_never_created() -> None:
    items = [qb("I-1", "WH-50G", full_name="Parts:WH-50G"), qb("I-2", "Labor")]
    skus = [
        StRecord(section="item", st_id=1, name="WH-50G"),
        StRecord(section="item", st_id=2, name="labor"),
        StRecord(section="item", st_id=3, name="LABOR "),
        StRecord(section="item", st_id=4, name="FLUSH-KIT"),
    ]
    matched = match_section("item", skus, items)
    assert [(m.status, m.qb.list_id if m.qb else None) for m in matched] == [
        ("matched", "I-1"),
        ("matched", "I-2"),
        ("matched", "I-2"),  # two SKUs may post as one item
        ("missing", None),
    ]
    assert matched[3].reason.startswith("no QuickBooks item matches; create the item")
    accounts = [qb("A-1", "Sales", full_name="Income:Sales", account_number="4010")]
    gl = StRecord(section="account", st_id=4010, name="Service Income", number="4010")
    match = one(match_section("account", [gl], accounts))
    assert (match.status, match.reason) == ("matched", "the same account number 4010")
    classes = [qb("C-1", "Plumbing"), qb("C-2", "HVAC")]
    unit = StRecord(
        section="business_unit", st_id=201, name="Plumbing - Service", class_hint="HVAC"
    )
    match = one(match_section("business_unit", [unit], classes))
    assert match.qb is not None
    assert match.qb.list_id == "C-2"
    assert match.reason == "ServiceTitan's QuickBooks class for it"


def test_tax_zones_are_told_apart_by_their_rate() -> None:
    tax_items = [
        qb("T-1", "Travis County", tax_rate="8.25", kind="SalesTax"),
        qb("T-2", "travis county.", tax_rate="6.25", kind="SalesTax"),
    ]
    zone = StRecord(section="tax_zone", st_id=31, name="Travis County", rate="8.25")
    match = one(match_section("tax_zone", [zone], tax_items))
    assert match.qb is not None
    assert match.qb.list_id == "T-1"
    close = StRecord(section="tax_zone", st_id=31, name="TRAVIS COUNTY", rate="8.2500")
    match = one(match_section("tax_zone", [close], tax_items))
    assert match.status == "matched"
    assert match.qb is not None
    assert match.qb.list_id == "T-1"
    assert match.reason.endswith("and the same rate")


def test_what_the_mapping_names_wins_or_is_missing() -> None:
    items = [qb("I-1", "Water Heater 50 gal", full_name="Parts:Water Heater 50 gal")]
    mapped = StRecord(section="item", st_id=1, name="WH-50G", mapped_to="parts:water heater 50 GAL")
    match = one(match_section("item", [mapped], items))
    assert (match.status, match.reason) == ("matched", "the mapping settings name it")
    gone = StRecord(section="item", st_id=1, name="WH-50G", mapped_to="Parts:Boiler")
    match = one(match_section("item", [gone], items))
    assert match.status == "missing"
    assert (
        match.reason
        == "the mapping settings name 'Parts:Boiler', which is not a item in QuickBooks"
    )


# --- properties -------------------------------------------------------------------------

_WORDS = st.sampled_from(["Smith", "SMITH", "Sons", "&", "and", "Acme", "acme,", "Lee", "Co."])
_NAMES = st.lists(_WORDS, min_size=1, max_size=3).map(" ".join)


@given(
    st_names=st.lists(_NAMES, min_size=1, max_size=12),
    qb_names=st.lists(_NAMES, max_size=12, unique_by=str.casefold),
    phones=st.lists(st.sampled_from(["512-555-0100", "512-555-0101", None]), min_size=12),
)
def test_matching_is_one_to_one_and_never_creates_a_name_in_use(
    st_names: list[str], qb_names: list[str], phones: list[str | None]
) -> None:
    entries = [
        qb(f"80-{n}", name, phone=phones[n % len(phones)]) for n, name in enumerate(qb_names)
    ]
    records = [
        customer(1000 + n, name, phone=phones[(n + 1) % len(phones)])
        for n, name in enumerate(st_names)
    ]
    matches = match_section("customer", records, entries, names_in_use=qb_names)
    assert [m.st_id for m in matches] == [r.st_id for r in records]
    claimed = Counter(m.qb.list_id for m in matches if m.status == "matched" and m.qb)
    assert all(count == 1 for count in claimed.values())
    in_use = {name.casefold() for name in qb_names}
    created = [m.create_as or "" for m in matches if m.status == "create"]
    assert all(name.casefold() not in in_use for name in created)
    assert len({name.casefold() for name in created}) == len(created)
    for match in matches:
        if match.status == "matched":
            assert match.qb is not None
            assert 0 < match.qb.confidence <= 1
        if match.status == "ambiguous":
            assert match.qb is None
            assert match.candidates
