"""`mlconnector onboard CONNECTION`: the review of how ServiceTitan's lists match the
QuickBooks company, before a new connection posts anything.

It prints the plan (matched and how, to create, missing, ambiguous with the candidates, the
mapping settings checked against the company), takes the operator's choices (`--choose
KEY=VALUE`, or a CSV from `--export-csv` edited and read back with `--csv`), and confirms it
(`--confirm`): only then does the connection post. `--resolve KEY=link|suffix` answers a
customer or vendor QuickBooks refused later because its name is in use (3100). `--json` prints
the same for scripts. Every error is one sentence on stderr with exit code 2.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any, NoReturn, TypeVar

import httpx
import nats
import typer
from nats.js import JetStreamContext

from mlconnector.cli.onboard_plan import build_plan, latest_events, party_record, refresh_problems
from mlconnector.cli.runtime import NoNatsError, nats_url
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.credentials import CredentialsError
from mlconnector.common.onboarding.company import CompanySnapshot, CompanyStore
from mlconnector.common.onboarding.confirm import ConfirmError, confirm, describe
from mlconnector.common.onboarding.holds import HoldError, choose_hold
from mlconnector.common.onboarding.matching import SECTIONS, Match, Section, StRecord
from mlconnector.common.onboarding.plan import (
    SECTION_TITLES,
    ChoiceError,
    Plan,
    carry_choices,
    choose,
)
from mlconnector.common.onboarding.plan_csv import CsvError, plan_csv, read_choices
from mlconnector.common.onboarding.store import Holds, ReviewStore
from mlconnector.common.streams import declare_all

T = TypeVar("T")
SHOWN = 50  # lines per group unless --all
STATUS_TITLES = {
    "matched": "matched",
    "create": "to create",
    "missing": "not in QuickBooks",
    "ambiguous": "ambiguous: your choice",
}


class _Refused(Exception):
    """Stop with this one-sentence message, exit code 2."""


def _fail(message: str) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    """`mlconnector onboard` (the one line main.py adds)."""
    app.command("onboard")(onboard)


def onboard(
    name: Annotated[str, typer.Argument(help="the connection")],
    choose_: Annotated[
        list[str] | None,
        typer.Option(
            "--choose",
            help="KEY=VALUE: the QuickBooks entry a record is (ListID or name), 'create' "
            "(customers, vendors) or 'none'; repeatable",
        ),
    ] = None,
    csv_file: Annotated[
        Path | None, typer.Option("--csv", help="choices from a CSV (key and choice columns)")
    ] = None,
    export_csv: Annotated[
        Path | None, typer.Option("--export-csv", help="write the review as a CSV to edit")
    ] = None,
    confirm_: Annotated[
        bool, typer.Option("--confirm", help="confirm the review: the connection starts posting")
    ] = False,
    force: Annotated[
        bool, typer.Option(help="confirm although the mapping names entries QuickBooks lacks")
    ] = False,
    refresh: Annotated[
        bool, typer.Option(help="match again (after new ServiceTitan records); choices are kept")
    ] = False,
    reread: Annotated[
        bool, typer.Option(help="read the QuickBooks company again at the next session")
    ] = False,
    resolve: Annotated[
        list[str] | None,
        typer.Option(help="KEY=link|suffix for a customer or vendor whose name QuickBooks uses"),
    ] = None,
    show_all: Annotated[bool, typer.Option("--all", help="list every record")] = False,
    json_output: Annotated[bool, typer.Option("--json", help="print JSON, for scripts")] = False,
) -> None:
    """Review how ServiceTitan's customers, vendors, SKUs, GL accounts, business units and tax
    zones match the QuickBooks company; choose, then confirm: nothing posts before."""

    csv_text: str | None = None
    if csv_file is not None:
        try:
            csv_text = csv_file.read_text(encoding="utf-8-sig")
        except OSError as exc:
            _fail(f"cannot read {csv_file} ({exc.strerror})")
    exported: list[str] = []

    async def run(js: JetStreamContext) -> dict[str, Any]:
        connection = await _connection(js, name)
        review = await ReviewStore.open(js)
        company = await CompanyStore.open(js)
        messages: list[str] = []
        if reread:
            if connection.onboarded:
                raise _Refused(
                    f"{name} is onboarded already and posting; a new read of its company "
                    "changes nothing"
                )
            await company.request_read(name)
            messages.append(
                f"The next Web Connector session of {name} reads its QuickBooks company again."
            )
        for line in resolve or []:
            key, value = _pair(line, "--resolve")
            hold = await choose_hold(js, name, key, value)
            if value == "link" and hold.existing is not None:
                what = f"linked to QuickBooks {hold.entity} {hold.existing.name!r}"
            else:
                what = f"added as {hold.suffixed_name!r}"
            messages.append(f"{key}: {what} at the next Web Connector session.")
        snapshot = await company.snapshot(name)
        plan = await review.load_plan(name)
        if snapshot is not None and (plan is None or plan.state == "draft"):
            if plan is None or refresh or plan.read_id != snapshot.manifest.read_id:
                plan = carry_choices(plan, await _build(js, connection, snapshot))
                await review.save_plan(plan)
            where = csv_file.name if csv_file else ""
            chosen = _choices(plan, snapshot, choose_ or [], where, csv_text)
            if chosen:
                refresh_problems(plan, connection, snapshot)
                await review.save_plan(plan)
                messages.append(f"{chosen} choice(s) recorded.")
        elif choose_ or csv_text is not None:
            raise _Refused(_no_choices(name, plan, connection))
        if export_csv is not None and plan is not None:
            exported.append(plan_csv(plan))
        if confirm_:
            result = await confirm(js, name, force=force)
            messages.append(describe(name, result))
            connection = await _connection(js, name)
            plan = await review.load_plan(name)
        holds = await review.holds(name)
        manifest = await company.manifest(name)
        return _report(connection, plan, snapshot, manifest, holds, messages)

    report = _with_js(run)
    if export_csv is not None and exported:
        try:
            export_csv.write_text(exported[0], encoding="utf-8")
        except OSError as exc:
            _fail(f"cannot write {export_csv} ({exc.strerror})")
        report["messages"].append(
            f"Wrote the review to {export_csv}: fill in the 'choice' column, then --csv it."
        )
    if json_output:
        typer.echo(json.dumps(report, indent=2, default=str))
        return
    _print(report, show_all)


# --- the ServiceTitan side ---------------------------------------------------------------------


async def _build(js: JetStreamContext, connection: Connection, snapshot: CompanySnapshot) -> Plan:
    parties: dict[Section, list[StRecord]] = {"customer": [], "vendor": []}
    for entity in ("customer", "vendor"):
        for event in await latest_events(js, connection.tenant, entity):
            record = party_record(event, connection.mapping)
            if record is not None:
                parties[record.section].append(record)
    notes = [
        f"ServiceTitan: {len(parties['customer'])} customers and {len(parties['vendor'])} "
        "vendor(s) as st-ingest published them; run `mlconnector onboard "
        f"{connection.name} --refresh` after it brings in more."
    ]
    catalog: dict[Section, list[StRecord]] | None = None
    try:
        from mlconnector.cli.st_cmd import _client
        from mlconnector.ingest.catalog import read_catalog
        from mlconnector.ingest.client import StApiError

        async with httpx.AsyncClient(timeout=30) as http:
            client, _ = await _client(js, connection, http)
            catalog = await read_catalog(client)
    except (CredentialsError, StApiError, httpx.HTTPError) as exc:
        notes.append(
            "ServiceTitan's pricebook, GL accounts, business units and tax zones could not "
            f"be read ({str(exc).rstrip('.')}); they are not in this review."
        )
    return build_plan(connection, snapshot, parties, catalog, notes)


def _choices(
    plan: Plan, snapshot: CompanySnapshot, pairs: list[str], csv_name: str, csv_text: str | None
) -> int:
    """Apply every choice or none (the first bad one is reported and nothing is saved)."""
    wanted = [("--choose", *_pair(line, "--choose")) for line in pairs]
    if csv_text is not None:
        wanted += [(f"{csv_name} line {n}", key, value) for n, key, value in read_choices(csv_text)]
    for where, key, value in wanted:
        try:
            choose(plan, key, value, snapshot)
        except ChoiceError as exc:
            raise _Refused(f"{where}: {exc}; nothing was changed") from exc
    return len(wanted)


def _pair(line: str, option: str) -> tuple[str, str]:
    key, sep, value = line.partition("=")
    if not sep or not key.strip() or not value.strip():
        raise _Refused(f"{option} takes KEY=VALUE, e.g. customer:1001=create; got {line!r}")
    return key.strip(), value.strip()


def _no_choices(name: str, plan: Plan | None, connection: Connection) -> str:
    if plan is not None and plan.state == "confirmed":
        return f"the review of {name} is confirmed already; choices change nothing now"
    if connection.onboarded:
        return f"{name} posts without a review (it was made before onboarding existed)"
    return (
        f"the QuickBooks company of {name} has not been read yet; run the Web Connector, "
        "then choose"
    )


async def _connection(js: JetStreamContext, name: str) -> Connection:
    found = await (await ConnectionStore.open(js)).get(name)
    if found is None:
        raise _Refused(f"there is no connection named {name!r}; see `mlconnector connection list`")
    return found


def _with_js(action: Callable[[JetStreamContext], Awaitable[T]]) -> T:
    async def go() -> T:
        nc = await nats.connect(nats_url(), connect_timeout=5, max_reconnect_attempts=0)
        try:
            js = nc.jetstream()
            await declare_all(js)
            return await action(js)
        finally:
            await nc.close()

    try:
        return asyncio.run(go())
    except (_Refused, ConfirmError, HoldError, CsvError, CredentialsError, NoNatsError) as exc:
        _fail(str(exc))
    except OSError as exc:
        _fail(f"cannot reach NATS ({exc}); is `mlconnector up` running or NATS_URL right?")


# --- output ------------------------------------------------------------------------------------


def _match_json(match: Match) -> dict[str, Any]:
    return {
        "key": match.key,
        "servicetitan_name": match.st_name,
        "status": match.status,
        "reason": match.reason,
        "quickbooks": match.qb.model_dump() if match.qb else None,
        "create_as": match.create_as,
        "candidates": [c.model_dump() for c in match.candidates],
        "decided_by": match.decided_by,
    }


def _report(
    connection: Connection,
    plan: Plan | None,
    snapshot: CompanySnapshot | None,
    manifest: Any,
    holds: Holds,
    messages: list[str],
) -> dict[str, Any]:
    state: str
    if plan is not None:
        state = plan.state
    elif snapshot is None and not connection.onboarded:
        state = "reading"
    else:
        state = "none"
    return {
        "connection": connection.name,
        "tenant": connection.tenant,
        "onboarded": connection.onboarded,
        "state": state,
        "messages": messages,
        "company": {
            "read_at": snapshot.manifest.finished_at if snapshot else None,
            "counts": snapshot.manifest.counts if snapshot else {},
            "messages": snapshot.manifest.messages if snapshot else 0,
            "reading": manifest.state if manifest is not None else "requested",
        },
        "counts": plan.counts() if plan else {},
        "notes": plan.notes if plan else [],
        "mapping_problems": plan.mapping_problems if plan else [],
        "sections": {
            section: [_match_json(m) for m in plan.section(section)]
            for section in SECTIONS
            if plan is not None and plan.section(section)
        },
        "holds": [hold.model_dump(mode="json") for hold in holds.items.values()],
    }


def _print(report: dict[str, Any], show_all: bool) -> None:
    name = report["connection"]
    for message in report["messages"]:
        typer.echo(message)
    company = report["company"]
    if report["state"] == "reading":
        typer.echo(
            f"{name}: the QuickBooks company has not been read yet (read {company['reading']}); "
            "it is read at the next Web Connector session, then run this again."
        )
        return
    if report["state"] == "none":
        typer.echo(f"{name} is posting; it was made before onboarding existed, without a review.")
        _print_holds(name, report["holds"])
        return
    counts = ", ".join(f"{n} {list_name}" for list_name, n in company["counts"].items())
    read_at = f"{company['read_at']:%Y-%m-%d %H:%M} UTC"
    typer.echo(
        f"{name} (tenant {report['tenant']}): QuickBooks company read {read_at} in "
        f"{company['messages']} Web Connector message(s): {counts}."
    )
    state = (
        "confirmed: posting"
        if report["state"] == "confirmed"
        else "not confirmed: nothing posts yet"
    )
    typer.echo(f"Review: {state}.")
    for note in report["notes"]:
        typer.echo(f"  note: {note}")
    for section, matches in report["sections"].items():
        summary = ", ".join(
            f"{n} {STATUS_TITLES[status]}"
            for status, n in sorted(report["counts"].get(section, {}).items())
        )
        typer.echo(f"\n{SECTION_TITLES[section]}: {summary}")
        for status in ("ambiguous", "missing", "create", "matched"):
            group = [m for m in matches if m["status"] == status]
            if not group:
                continue
            typer.echo(f"  {STATUS_TITLES[status]}:")
            limit = len(group) if show_all or status == "ambiguous" else SHOWN
            for match in group[:limit]:
                typer.echo("    " + _line(match))
                for candidate in match["candidates"] if status == "ambiguous" else []:
                    typer.echo(
                        f"        {candidate['list_id']}  {candidate['name']}  "
                        f"({candidate['reason']}, {candidate['confidence']:.0%})"
                    )
            if len(group) > limit:
                typer.echo(f"    ... and {len(group) - limit} more (--all lists them)")
    problems = report["mapping_problems"]
    typer.echo(f"\nmapping check: {len(problems) or 'no'} problem(s)")
    for problem in problems:
        typer.echo(f"  - {problem}")
    _print_holds(name, report["holds"])
    if report["state"] == "draft":
        ambiguous = sum(c.get("ambiguous", 0) for c in report["counts"].values())
        step = (
            f"choose the {ambiguous} ambiguous record(s) (--choose KEY=LISTID|create, or "
            "--export-csv then --csv), then "
            if ambiguous
            else ""
        )
        typer.echo(f"\nNext: {step}`mlconnector onboard {name} --confirm`.")


def _line(match: dict[str, Any]) -> str:
    key, st_name = match["key"], match["servicetitan_name"]
    qb = match["quickbooks"]
    if match["status"] == "matched" and qb:
        return f"{key}  {st_name}  ->  {qb['name']}  ({qb['reason']}, {qb['confidence']:.0%})"
    if match["status"] == "create":
        return f"{key}  {st_name}  ->  added as {match['create_as']!r}"
    return f"{key}  {st_name}: {match['reason']}"


def _print_holds(name: str, holds: list[dict[str, Any]]) -> None:
    if not holds:
        return
    typer.echo(f"\nwaiting for your choice (QuickBooks already uses the name): {len(holds)}")
    for hold in holds:
        existing = hold.get("existing") or {}
        what = (
            f"QuickBooks {existing.get('kind', '').lower()} {existing.get('name')!r} "
            f"({existing.get('list_id')})"
            if existing
            else "another kind of name in QuickBooks"
        )
        choice = f", chosen: {hold['choice']}" if hold.get("choice") else ""
        typer.echo(
            f"  {hold['entity']}:{hold['st_id']}  {hold['name']!r} is {what}; "
            f"{hold['dependants']} record(s) wait{choice}"
        )
    typer.echo(
        f"  answer with `mlconnector onboard {name} --resolve KEY=link` (it is that entry) or "
        "`--resolve KEY=suffix` (a new one, named with the ServiceTitan id)."
    )
