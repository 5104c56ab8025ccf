"""`mlconnector connection mapping`: a connection's mapping settings, from and to YAML."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Annotated, NoReturn

import typer
import yaml

from mlconnector.cli import connections as conn_cmds
from mlconnector.cli.runtime import NoNatsError
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.mapping import MappingSettings, MappingSettingsError

# Exit codes: 1 the system cannot do it (no NATS, no such connection), 2 the input is wrong.
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    typer.echo(f"Error: {message}", err=True)
    raise typer.Exit(code)


def read_text(file: str) -> str:
    """A file's text; "-" reads stdin."""
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file}: {exc}", EXIT_BAD_INPUT)


def load_mapping(file: str) -> MappingSettings:
    """Parse and validate a mapping file; refuse it (exit 2) naming every bad field."""
    try:
        return MappingSettings.from_yaml_text(read_text(file))
    except MappingSettingsError as exc:
        listed = "\n".join(f"  {error}" for error in exc.errors)
        fail(f"{file} is not a valid mapping:\n{listed}", EXIT_BAD_INPUT)


def load_connection(name: str) -> Connection:
    async def get(store: ConnectionStore) -> Connection | None:
        return await store.get(name)

    try:
        found = conn_cmds.with_store(get)
    except NoNatsError as exc:
        fail(str(exc))
    if found is None:
        fail(f"no connection named {name!r}")
    return found


def commented_default() -> str:
    """The default mapping as YAML, each setting under its description as a comment."""
    default = MappingSettings().model_dump(mode="json")
    parts = [
        "# ml-connector mapping settings: how ServiceTitan records land in QuickBooks.\n"
        "# Edit, then: mlconnector connection mapping <connection> <this file>\n"
    ]
    for key, field in MappingSettings.model_fields.items():
        comment = ""
        if field.description:
            wrapped = textwrap.wrap(field.description, width=96)
            comment = "".join(f"# {line}\n" for line in wrapped)
        parts.append(comment + yaml.safe_dump({key: default[key]}, sort_keys=False))
    return "\n".join(parts)


def changed_settings(mapping: MappingSettings) -> list[str]:
    """The settings that differ from the defaults, in declaration order."""
    default = MappingSettings().model_dump(mode="json")
    current = mapping.model_dump(mode="json")
    return [key for key in current if current[key] != default.get(key)]


def connection_mapping(
    name: Annotated[str, typer.Argument(help="connection name")],
    file: Annotated[
        str | None,
        typer.Argument(help="mapping YAML to store ('-' reads stdin); omitted: print the current"),
    ] = None,
    print_default: Annotated[
        bool, typer.Option("--print-default", help="print the default mapping YAML and exit")
    ] = False,
) -> None:
    """Show or set a connection's mapping (QuickBooks accounts, items, tax, classes...).

    Start from --print-default or the current mapping, edit it, then store it.

    An invalid file is refused naming each bad field (exit code 2); nothing changes then.
    """
    if print_default:
        typer.echo(commented_default(), nl=False)
        return
    if file is None:
        typer.echo(load_connection(name).mapping.to_yaml_text(), nl=False)
        return
    mapping = load_mapping(file)  # before touching NATS: a bad file changes nothing

    async def store_it(store: ConnectionStore) -> bool:
        found = await store.get(name)
        if found is None:
            return False
        await store.put(found.model_copy(update={"mapping": mapping}))
        return True

    try:
        stored = conn_cmds.with_store(store_it)
    except NoNatsError as exc:
        fail(str(exc))
    if not stored:
        fail(f"no connection named {name!r}")
    changed = changed_settings(mapping)
    typer.echo(
        f"Stored the mapping of connection {name!r}: "
        + (f"{', '.join(changed)} differ from the defaults." if changed else "all defaults.")
    )
