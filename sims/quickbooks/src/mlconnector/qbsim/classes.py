"""Classes: the hierarchical list contractors use to split income and costs by business unit
("Plumbing", "HVAC", "HVAC:Install")."""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass

from mlconnector.qbsim.ids import ListCore, new_record_stamps
from mlconnector.qbsim.mods import current_row, move
from mlconnector.qbsim.queries import ListFilter, list_query
from mlconnector.qbsim.refs import Ref, RefSpec
from mlconnector.qbsim.statuses import name_in_use
from mlconnector.qbsim.store import Store, list_core, to_qb_stored


@dataclass(frozen=True)
class QbClass:
    core: ListCore
    name: str
    full_name: str
    is_active: bool
    parent: Ref | None
    sublevel: int


def add_class(
    store: Store, name: str, *, parent: RefSpec | None = None, is_active: bool = True
) -> QbClass:
    now = store.now()
    with store.transaction():
        parent_row = _parent_row(store, parent)
        name = to_qb_stored(name) or ""
        full_name = f"{parent_row['full_name']}:{name}" if parent_row else name
        if store.resolve("classes", RefSpec(full_name=full_name)) is not None:
            raise name_in_use(full_name)
        list_id = store.new_list_id(now)
        store.db.execute(
            "INSERT INTO classes VALUES (?,?,?,?,?,?,?,?,?,?)",
            (
                list_id,
                *new_record_stamps(now),
                name,
                full_name,
                int(is_active),
                parent_row["list_id"] if parent_row else None,
                parent_row["sublevel"] + 1 if parent_row else 0,
            ),
        )
    return qb_class(store, list_id)


def mod_class(
    store: Store,
    list_id: str,
    edit_sequence: str,
    *,
    name: str | None = None,
    is_active: bool | None = None,
    parent: RefSpec | None = None,
) -> QbClass:
    with store.transaction():
        row = current_row(store, "classes", list_id, edit_sequence)
        if name is not None or parent is not None:
            parent_row = (
                _parent_row(store, parent)
                if parent is not None
                else _row(store, row["parent_id"])
                if row["parent_id"]
                else None
            )
            move(store, "classes", row, to_qb_stored(name) or row["name"], parent_row)
        if is_active is not None:
            store.db.execute(
                "UPDATE classes SET is_active = ? WHERE list_id = ?", (int(is_active), list_id)
            )
        store.touch("classes", "list_id", list_id)
    return qb_class(store, list_id)


def _parent_row(store: Store, parent: RefSpec | None) -> sqlite3.Row | None:
    if parent is None:
        return None
    return _row(store, store.require("classes", parent, "Class", "Class"))


def _row(store: Store, list_id: str) -> sqlite3.Row:
    row: sqlite3.Row = store.db.execute(
        "SELECT * FROM classes WHERE list_id = ?", (list_id,)
    ).fetchone()
    return row


def _class_from(store: Store, row: sqlite3.Row) -> QbClass:
    return QbClass(
        core=list_core(row),
        name=row["name"],
        full_name=row["full_name"],
        is_active=bool(row["is_active"]),
        parent=store.ref("classes", row["parent_id"]),
        sublevel=row["sublevel"],
    )


def qb_class(store: Store, list_id: str) -> QbClass:
    return _class_from(store, _row(store, list_id))


def query_classes(store: Store, flt: ListFilter) -> tuple[list[QbClass], list[str]]:
    rows, missing = list_query(store, "classes", flt)
    return [_class_from(store, r) for r in rows], missing
