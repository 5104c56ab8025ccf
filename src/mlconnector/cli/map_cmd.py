"""`mlconnector map`: the operator's dry run of one ServiceTitan record.

ServiceTitan JSON -> st-ingest's translation -> canonical event -> the mapper's commands, each
printed with its request type, summary, late references and pretty-printed qbXML. Nothing is
published and nothing is sent; NATS is needed only to read a stored connection.
"""

from __future__ import annotations

import json
import textwrap
from enum import StrEnum
from typing import Annotated, Any

import typer
from lxml import etree

from mlconnector.cli.connections import load_connection
from mlconnector.cli.mapping_cmd import load_mapping, read_text
from mlconnector.cli.output import (
    EXIT_BAD_INPUT,
    EXIT_FAILED,
    JsonFlag,
    fail,
    plural,
    print_json,
    with_article,
)
from mlconnector.common.connections import Connection
from mlconnector.common.envelopes import Command, StEvent
from mlconnector.common.mapping import MappingSettings
from mlconnector.common.models import EntityName

# st-ingest's translation and the mapper are imported when `map` runs, so that every other
# command starts without them.

DRY_RUN = "dry-run"


class Entity(StrEnum):
    invoice = "invoice"
    payment = "payment"
    bill = "bill"
    customer = "customer"
    vendor = "vendor"


def _entity_of(raw: Any, file: str) -> EntityName:
    from mlconnector.ingest.translate import ENTITY_MARKERS, guess_entity

    found = guess_entity(raw)
    if len(found) == 1:
        return found[0]
    if not found:
        fail(
            f"cannot tell which ServiceTitan record {file} is: it has none of the fields that "
            "mark an invoice, payment, inventory bill, customer or vendor. "
            "Pass --entity invoice|payment|bill|customer|vendor.",
            EXIT_BAD_INPUT,
        )
    keys = set(raw)
    evidence = "; ".join(
        f"{entity} ({', '.join(sorted(keys & ENTITY_MARKERS[entity]))})" for entity in found
    )
    fail(
        f"{file} looks like more than one kind of ServiceTitan record: {evidence}. "
        "Pass --entity to say which.",
        EXIT_BAD_INPUT,
    )


def _read_record(file: str) -> Any:
    text = read_text(file)
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        fail(
            f"{file} is not JSON ({exc}): give one ServiceTitan record as its API returns it.",
            EXIT_BAD_INPUT,
        )
    if isinstance(raw, dict) and isinstance(raw.get("data"), list) and "hasMore" in raw:
        fail(
            f"{file} is a whole ServiceTitan page ({plural(len(raw['data']), 'record')}); pass "
            f"one record, e.g. `jq '.data[0]' {file} > record.json`",
            EXIT_BAD_INPUT,
        )
    return raw


def _connection(name: str | None, mapping_file: str | None) -> tuple[Connection, str]:
    """The connection to map for, and how to describe it."""
    if name is not None and mapping_file is not None:
        fail("give --connection or --mapping, not both", EXIT_BAD_INPUT)
    if name is not None:
        return load_connection(name), f"connection {name!r} (its stored mapping)"
    mapping = load_mapping(mapping_file) if mapping_file is not None else MappingSettings()
    connection = Connection(
        name=DRY_RUN,
        tenant=DRY_RUN,
        qbwc_username=DRY_RUN,
        password_hash="",
        mapping=mapping,
    )
    return connection, (f"the mapping in {mapping_file}" if mapping_file else "the default mapping")


def pretty_qbxml(qbxml: str) -> str:
    """One request element, indented; the text as-is if it does not parse."""
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    try:
        element = etree.fromstring(qbxml.encode("utf-8"), parser)
    except etree.XMLSyntaxError:
        return qbxml
    text: str = etree.tostring(element, encoding="unicode", pretty_print=True)
    return text.rstrip("\n")


def _block(title: str, qbxml: str) -> list[str]:
    return [f"  {title}:", textwrap.indent(pretty_qbxml(qbxml), "    ")]


def _mod_title(command: Command) -> str:
    if command.request_type.startswith(("Customer", "Vendor")):
        return (
            "Mod form (sent instead when QuickBooks already has the record; "
            "ListID and EditSequence are filled in when sent)"
        )
    return (
        "Mod form (sent instead when ServiceTitan changed the transaction after it posted; "
        "TxnID, EditSequence and each line's TxnLineID (-1 for a new line) are filled in "
        "when sent; lines left out are removed)"
    )


def _void_line(command: Command) -> str:
    if command.qbxml:
        return (
            "void (voided or deleted in ServiceTitan; nothing is sent if QuickBooks never had it)"
        )
    return (
        "void, flagged for the accountant (the mapping sends nothing for this kind of record; "
        "audit shows it if QuickBooks has it)"
    )


def describe_command(
    command: Command, number: int, count: int, positions: dict[str, int] | None = None
) -> str:
    """One command as the dry run prints it: what it is, what it needs and its qbXML.

    `positions`: command id -> its number in the printed list (names what it requires)."""
    refs = ", ".join(f"{ref.entity} {ref.st_id} ({ref.placeholder})" for ref in command.refs)
    lines = [
        f"[{number}/{count}] {command.request_type}",
        f"  summary:    {command.summary or '-'}",
    ]
    if command.action == "void":
        lines.append(f"  action:     {_void_line(command)}")
    lines += [
        f"  depends on: {refs or 'nothing (no ServiceTitan record must post first)'}",
        f"  command id: {command.command_id}",
    ]
    if command.requires:
        known = positions or {}
        required = ", ".join(f"[{known[c]}/{count}]" if c in known else c for c in command.requires)
        lines.append(f"  requires:   {required} (done first)")
    if command.expected:
        amounts = ", ".join(f"{name} {value}" for name, value in command.expected.items())
        lines.append(f"  expected:   {amounts} (compared with what QuickBooks computes)")
    if command.line_keys:
        lines.append(f"  line keys:  {', '.join(command.line_keys)}")
    if command.qbxml:
        lines += _block("qbXML", command.qbxml)
    if command.lookup_qbxml:
        lines += _block(
            "lookup (sent first when an earlier attempt's outcome is unknown)",
            command.lookup_qbxml,
        )
    if command.mod_qbxml:
        lines += _block(_mod_title(command), command.mod_qbxml)
    if command.fingerprint:
        lines.append("  fingerprint (compared when ServiceTitan changes a posted record):")
        lines += [f"    {label}: {value}" for label, value in command.fingerprint.items()]
    return "\n".join(lines)


def _notes(raw: dict[str, Any]) -> list[str]:
    """What st-ingest does with this record besides mapping it."""
    notes = []
    status = raw.get("syncStatus")
    if raw.get("active") is False:
        notes.append("ServiceTitan marks this record inactive (deleted or voided).")
        if status == "Pending" and _is_transaction(raw):
            notes.append(
                "It was deleted while Pending, before it was posted in a ServiceTitan batch: "
                "st-ingest would not publish it (nothing reached QuickBooks to void)."
            )
        return notes
    if isinstance(status, str) and status != "Posted":
        notes.append(
            f"its syncStatus is {status!r}, not 'Posted': accounting takes only records "
            "posted in a ServiceTitan batch, so st-ingest would not publish this version."
        )
    return notes


def _is_transaction(raw: dict[str, Any]) -> bool:
    from mlconnector.ingest.translate import guess_entity

    return any(entity in ("invoice", "payment", "bill") for entity in guess_entity(raw))


def map_record(
    file: Annotated[str, typer.Argument(help="one ServiceTitan record as JSON ('-' = stdin)")],
    connection: Annotated[
        str | None, typer.Option(help="map with this stored connection's mapping (needs NATS)")
    ] = None,
    mapping: Annotated[
        str | None, typer.Option(help="map with the mapping in this YAML file")
    ] = None,
    entity: Annotated[
        Entity | None, typer.Option(help="the record's entity (default: told from its fields)")
    ] = None,
    show_record: Annotated[
        bool, typer.Option(help="also print the canonical record st-ingest would publish")
    ] = False,
    json_output: JsonFlag = False,
) -> None:
    """Dry run: show the QuickBooks requests one ServiceTitan record would become.

    The record is JSON as ServiceTitan's API returns it: invoice, payment, inventory bill,
    customer or vendor.

    It is translated as st-ingest does and mapped as the mapper does; nothing is sent.

    Exit code 1: the record would be refused (the error names the field). 2: bad input.
    """
    from mlconnector.ingest.translate import TRANSLATORS, TranslationError, version_of
    from mlconnector.mapper.commands import map_event
    from mlconnector.mapper.errors import MappingError

    raw = _read_record(file)
    name: EntityName = entity.value if entity is not None else _entity_of(raw, file)
    target, described = _connection(connection, mapping)
    try:
        record = TRANSLATORS[name](raw)
    except TranslationError as exc:
        typer.echo(f"Error: {exc}", err=True)
        typer.echo(
            "Hint: st-ingest would reject this record and carry on with the feed (audit "
            "shows it with ServiceTitan's JSON). Correct it in ServiceTitan; if ServiceTitan "
            "itself sends the field in a form its documents do not allow, report it with this "
            f"JSON. Check too that it is {with_article(name)} (--entity).",
            err=True,
        )
        raise typer.Exit(EXIT_FAILED) from None
    event = StEvent(
        tenant=target.tenant,
        entity=name,
        st_id=record.st_id,
        version=version_of(raw),
        source="export",
        record=record,
        raw=raw,
    )
    try:
        commands = map_event(event, target)
    except MappingError as exc:
        typer.echo(f"Error: {exc}", err=True)
        if exc.hint:
            typer.echo(f"Hint: {exc.hint}", err=True)
        raise typer.Exit(EXIT_FAILED) from None
    if json_output:
        print_json(
            {
                "event": event.model_dump(mode="json", exclude={"raw"}),
                "notes": _notes(raw),
                "commands": [command.model_dump(mode="json") for command in commands],
            }
        )
        return
    typer.echo(
        f"ServiceTitan {name} {record.st_id} (event {event.event_id}) with {described}: "
        f"{plural(len(commands), 'QuickBooks request')}, in send order."
    )
    for note in _notes(raw):
        typer.echo(f"Note: {note}")
    if show_record:
        typer.echo("canonical record:")
        typer.echo(textwrap.indent(record.model_dump_json(indent=2), "  "))
    positions = {command.command_id: n for n, command in enumerate(commands, start=1)}
    for number, command in enumerate(commands, start=1):
        typer.echo("")
        typer.echo(describe_command(command, number, len(commands), positions))


def register(app: typer.Typer) -> None:
    app.command("map")(map_record)
