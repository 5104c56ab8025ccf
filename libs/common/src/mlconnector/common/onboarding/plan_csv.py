"""The review as a CSV the operator edits in a spreadsheet, and the choices read back from it.

Columns: key (customer:1001), section, servicetitan_id, servicetitan_name, status,
quickbooks_list_id, quickbooks_name, reason, confidence, candidates ("ListID name; ..."),
choice. Only `key` and `choice` are read back: a ListID or a QuickBooks name, "create"
(customers, vendors) or "none" (the other sections); rows with an empty choice are left as
they are.
"""

from __future__ import annotations

import csv
import io

from mlconnector.common.onboarding.plan import Plan

COLUMNS = (
    "key",
    "section",
    "servicetitan_id",
    "servicetitan_name",
    "status",
    "quickbooks_list_id",
    "quickbooks_name",
    "reason",
    "confidence",
    "candidates",
    "choice",
)


class CsvError(ValueError):
    """A choices CSV that cannot be read; the message names the line and what is wrong."""


def plan_csv(plan: Plan) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for match in plan.all():
        writer.writerow(
            (
                match.key,
                match.section,
                match.st_id,
                match.st_name,
                match.status,
                match.qb.list_id if match.qb else "",
                match.qb.name if match.qb else (match.create_as or ""),
                match.reason,
                f"{match.qb.confidence:.2f}" if match.qb else "",
                "; ".join(f"{c.list_id} {c.name}" for c in match.candidates),
                "",
            )
        )
    return out.getvalue()


def read_choices(text: str) -> list[tuple[int, str, str]]:
    """(line number, key, choice) of every row with a choice; raises CsvError."""
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    fields = {name.strip().lower() for name in reader.fieldnames or []}
    if not {"key", "choice"} <= fields:
        raise CsvError(
            "the CSV needs a 'key' and a 'choice' column (write one with "
            "`mlconnector onboard NAME --export-csv FILE`)"
        )
    found: list[tuple[int, str, str]] = []
    try:
        for row in reader:
            clean = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
            if clean.get("choice"):
                found.append((reader.line_num, clean.get("key", ""), clean["choice"]))
    except csv.Error as exc:
        raise CsvError(f"line {reader.line_num} of the CSV cannot be read ({exc})") from exc
    return found
