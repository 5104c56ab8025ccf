"""What every Mod shares: the record must exist, the EditSequence must be current, and a
renamed record of a hierarchical list takes its sub-records' FullNames with it."""

from __future__ import annotations

import sqlite3

from mlconnector.qbsim.queries import escape_like
from mlconnector.qbsim.refs import RefSpec
from mlconnector.qbsim.statuses import edit_sequence_out_of_date, name_in_use, object_not_found
from mlconnector.qbsim.store import Store


def current_row(
    store: Store, table: str, key: str, edit_sequence: str, key_column: str = "list_id"
) -> sqlite3.Row:
    """The row a Mod changes; 3120 when it does not exist, 3200 when `edit_sequence` is stale.

    QuickBooks compares the EditSequence exactly: any other value, older or not, is stale.
    """
    row: sqlite3.Row | None = store.db.execute(
        f"SELECT * FROM {table} WHERE {key_column} = ?", (key,)
    ).fetchone()
    if row is None:
        raise object_not_found(key)
    if row["edit_sequence"] != edit_sequence:
        raise edit_sequence_out_of_date(edit_sequence)
    return row


def move(
    store: Store,
    table: str,
    row: sqlite3.Row,
    name: str,
    parent: sqlite3.Row | None,
    name_table: str | None = None,
) -> None:
    """Give a record of a hierarchical list a new Name and/or parent.

    The FullName and Sublevel of the record and of everything below it follow (QuickBooks
    renames "Smith, John:Kitchen" when "Smith, John" becomes "Smith, Jon"). 3100 when the new
    FullName is taken in the list (`name_table` when the namespace is shared).
    """
    old_full = row["full_name"]
    new_full = f"{parent['full_name']}:{name}" if parent is not None else name
    if parent is not None and (
        parent["list_id"] == row["list_id"]
        or parent["full_name"].lower().startswith(old_full.lower() + ":")
    ):
        # A record cannot go under itself or its own sub-records.
        raise name_in_use(new_full)
    if new_full.lower() != old_full.lower():
        taken = store.resolve(name_table or table, RefSpec(full_name=new_full))
        if taken is not None and taken != row["list_id"]:
            raise name_in_use(new_full)
    sublevel = parent["sublevel"] + 1 if parent is not None else 0
    shift = sublevel - row["sublevel"]
    store.db.execute(
        f"UPDATE {table} SET name = ?, full_name = ?, parent_id = ?, sublevel = ? "
        "WHERE list_id = ?",
        (
            name,
            new_full,
            parent["list_id"] if parent is not None else None,
            sublevel,
            row["list_id"],
        ),
    )
    children = store.db.execute(
        f"SELECT list_id, full_name FROM {table} WHERE full_name LIKE ? ESCAPE '\\'",
        (escape_like(old_full) + ":%",),
    ).fetchall()
    for child in children:
        store.db.execute(
            f"UPDATE {table} SET full_name = ?, sublevel = sublevel + ? WHERE list_id = ?",
            (new_full + child["full_name"][len(old_full) :], shift, child["list_id"]),
        )
