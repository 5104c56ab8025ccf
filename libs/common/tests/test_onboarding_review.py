"""The review's storage over a real nats-server (pages beyond one NATS message, names, holds
by compare-and-set), and its CSV and choices."""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from nats.js import JetStreamContext

from mlconnector.common.onboarding.company import (
    CompanyManifest,
    CompanySnapshot,
    CompanyStore,
    QbEntry,
)
from mlconnector.common.onboarding.matching import StRecord, match_section
from mlconnector.common.onboarding.plan import ChoiceError, Plan, carry_choices, choose
from mlconnector.common.onboarding.plan_csv import CsvError, plan_csv, read_choices
from mlconnector.common.onboarding.store import Hold, Holds, NameOverride, ReviewStore


def _snapshot(entries: list[QbEntry]) -> CompanySnapshot:
    return CompanySnapshot(
        manifest=CompanyManifest(state="complete", read_id="r1"), lists={"customer": entries}
    )


def _plan(count: int, entries: list[QbEntry]) -> Plan:
    records = [
        StRecord(
            section="customer",
            st_id=n,
            name=f"Customer {n:05d}",
            qb_name=f"Customer {n:05d}",
            suffixed_name=f"Customer {n:05d} #{n}",
        )
        for n in range(1, count + 1)
    ]
    plan = Plan(connection="acme", read_id="r1")
    plan.matches["customer"] = match_section("customer", records, entries)
    return plan


@pytest.mark.nats
async def test_a_plan_of_ten_thousand_customers_round_trips_in_pages(js: JetStreamContext) -> None:
    entries = [QbEntry(list_id=f"80-{n}", name=f"Customer {n:05d}") for n in range(1, 5001)]
    plan = _plan(10_000, entries)
    store = await ReviewStore.open(js)
    await store.save_plan(plan)
    loaded = await store.load_plan("acme")
    assert loaded is not None
    assert loaded.counts() == {"customer": {"matched": 5000, "create": 5000}}
    assert [m.st_id for m in loaded.section("customer")] == list(range(1, 10_001))
    assert loaded.section("customer")[0] == plan.section("customer")[0]
    # A smaller plan replaces it whole: the pages it no longer needs are gone.
    await store.save_plan(_plan(10, entries))
    again = await store.load_plan("acme")
    assert again is not None
    assert len(again.section("customer")) == 10
    kv = await js.key_value("onboarding")
    assert sorted(await kv.keys()) == ["acme.plan", "acme.plan.customer.1"]


@pytest.mark.nats
async def test_names_and_holds(js: JetStreamContext) -> None:
    store = await ReviewStore.open(js)
    await store.put_names("acme", [("customer", 7, NameOverride(name="Lee #7", why="taken"))])
    found = await store.names("acme", [("customer", 7), ("customer", 8), ("vendor", 7)])
    assert found == {("customer", 7): NameOverride(name="Lee #7", why="taken")}

    def hold(st_id: int) -> Hold:
        return Hold(
            entity="customer",
            st_id=st_id,
            ledger_key=f"acme.r.customer.{st_id}",
            command_id=f"cmd-{st_id}",
            name=f"Lee {st_id}",
            suffixed_name=f"Lee {st_id} #{st_id}",
            message="in use",
        )

    def adder(st_id: int):  # type: ignore[no-untyped-def]
        def add(current: Holds) -> Holds:
            current.items[f"customer:{st_id}"] = hold(st_id)
            return current

        return add

    # Many writers at once: compare-and-set keeps every one's change.
    await asyncio.gather(*(store.change_holds("acme", adder(n)) for n in range(1, 9)))
    holds = await store.holds("acme")
    assert sorted(holds.items) == [f"customer:{n}" for n in range(1, 9)]


@pytest.mark.nats
async def test_the_company_read_pages_and_manifest(js: JetStreamContext) -> None:
    store = await CompanyStore.open(js)
    assert await store.snapshot("acme") is None
    await store.put_page("acme", "r1", "customer", 1, [QbEntry(list_id="1", name="A")])
    await store.put_page("acme", "r1", "customer", 2, [QbEntry(list_id="2", name="B")])
    await store.put_manifest(
        "acme",
        CompanyManifest(state="complete", read_id="r1", pages={"customer": 2}, finished_at=None),
    )
    assert await store.snapshot("acme") is None  # never finished
    done = CompanyManifest(
        state="complete",
        read_id="r1",
        pages={"customer": 2},
        finished_at=dt.datetime(2025, 1, 1, tzinfo=dt.UTC),
    )
    await store.put_manifest("acme", done)
    snapshot = await store.snapshot("acme")
    assert snapshot is not None
    assert [e.name for e in snapshot.entries("customer")] == ["A", "B"]
    wanted = await store.request_read("acme")
    assert (wanted.state, wanted.read_id) == ("requested", "r1")
    assert await store.snapshot("acme") is not None  # still readable until a new read ends
    await store.purge_read("acme", "r1", {"customer": 2})
    kv = await js.key_value("qb-company")
    assert await kv.keys() == ["acme.m"]


def test_choices_are_checked_and_carried_into_a_rebuilt_plan() -> None:
    entries = [
        QbEntry(list_id="80-1", name="Smith & Sons"),
        QbEntry(list_id="80-2", name="Smith and Sons"),
        QbEntry(list_id="80-3", name="Lee, Ann"),
    ]
    snapshot = _snapshot(entries)
    records = [
        StRecord(
            section="customer",
            st_id=1,
            name="SMITH AND SONS",
            qb_name="SMITH AND SONS",
            suffixed_name="SMITH AND SONS #1",
        ),
        StRecord(
            section="customer",
            st_id=2,
            name="Lee, Ann",
            qb_name="Lee, Ann",
            suffixed_name="Lee, Ann #2",
        ),
    ]
    plan = Plan(connection="acme", read_id="r1")
    plan.matches["customer"] = match_section("customer", records, entries)
    assert [m.status for m in plan.section("customer")] == ["ambiguous", "matched"]
    with pytest.raises(ChoiceError, match="already customer:2's match"):
        choose(plan, "customer:1", "Lee, Ann", snapshot)
    with pytest.raises(ChoiceError, match="is not a record of this review"):
        choose(plan, "customer:9", "create", snapshot)
    items = Plan(
        connection="acme",
        read_id="r1",
        matches={"item": match_section("item", [StRecord(section="item", st_id=5, name="X")], [])},
    )
    with pytest.raises(ChoiceError, match="does not create"):
        choose(items, "item:5", "create", snapshot)
    created = choose(plan, "customer:1", "create", snapshot)
    # "SMITH AND SONS" is "Smith and Sons" to QuickBooks (names ignore case): suffixed.
    assert (created.status, created.create_as) == ("create", "SMITH AND SONS #1")
    picked = choose(plan, "customer:1", "smith & sons", snapshot)
    assert (picked.status, picked.qb.list_id if picked.qb else None) == ("matched", "80-1")

    rebuilt = Plan(connection="acme", read_id="r2")
    rebuilt.matches["customer"] = match_section("customer", records, entries)
    carried = carry_choices(plan, rebuilt)
    assert carried.find("customer:1") == picked


def test_the_csv_round_trips_its_choices() -> None:
    entries = [
        QbEntry(list_id="80-1", name="Smith & Sons"),
        QbEntry(list_id="80-2", name="Smith and Sons"),
    ]
    records = [
        StRecord(
            section="customer",
            st_id=1,
            name="Smith AND Sons",
            qb_name="Smith AND Sons",
            suffixed_name="Smith AND Sons #1",
        )
    ]
    plan = Plan(connection="acme", read_id="r1")
    plan.matches["customer"] = match_section("customer", records, entries)
    text = plan_csv(plan)
    header, row = text.splitlines()
    assert header.endswith(",choice")
    assert row.startswith("customer:1,customer,1,Smith AND Sons,ambiguous,,,")
    assert "80-1 Smith & Sons; 80-2 Smith and Sons" in row
    assert row.endswith(",")  # the choice column, empty
    edited = text.replace(row, row + "80-2")
    assert read_choices(edited) == [(2, "customer:1", "80-2")]
    assert read_choices("\ufeffKey,Choice\ncustomer:1,create\ncustomer:2,\n") == [
        (2, "customer:1", "create")
    ]
    with pytest.raises(CsvError, match="needs a 'key' and a 'choice' column"):
        read_choices("a,b\n1,2\n")
