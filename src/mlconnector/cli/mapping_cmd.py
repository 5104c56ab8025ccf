"""`mlconnector connection mapping`: a connection's mapping settings, from and to YAML."""

from __future__ import annotations

import sys
import textwrap
from pathlib import Path
from typing import Annotated

import typer
import yaml

from mlconnector.cli.connections import load_connection, with_store
from mlconnector.cli.output import JsonFlag, fail, print_json
from mlconnector.cli.registry import group
from mlconnector.common.connections import ConnectionStore
from mlconnector.common.mapping import MappingSettings, MappingSettingsError


def read_text(file: str) -> str:
    """A file's text; "-" reads stdin. Exits 2 when it cannot be read."""
    if file == "-":
        return sys.stdin.read()
    try:
        return Path(file).read_text(encoding="utf-8")
    except FileNotFoundError:
        fail(f"cannot read {file}: there is no such file; check the path.")
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {file} ({exc.__class__.__name__}): give a readable UTF-8 text file.")


def load_mapping(file: str) -> MappingSettings:
    """Parse and validate a mapping file; refuse it (exit 2) naming every bad field.

    A file with no settings at all (empty, or only comments) is refused too: stored, it would
    silently reset every customised setting to its default.
    """
    text = read_text(file)
    try:
        empty = yaml.safe_load(text) is None
    except yaml.YAMLError:
        empty = False  # from_yaml_text names the YAML error below
    if empty:
        fail(
            f"{file} has no settings (it is empty or only comments), so nothing was changed; "
            "to go back to the defaults, store the file `mlconnector connection mapping "
            "NAME --print-default` prints."
        )
    try:
        return MappingSettings.from_yaml_text(text)
    except MappingSettingsError as exc:
        listed = "\n".join(f"  {error}" for error in exc.errors)
        fail(f"{file} is not a valid mapping:\n{listed}")


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
    json_output: JsonFlag = False,
) -> None:
    """Show or set a connection's mapping (QuickBooks accounts, items, tax, classes...).

    Start from --print-default or the current mapping, edit it, then store it.

    An invalid file is refused naming each bad field (exit code 2); nothing changes then.
    """
    if print_default:
        if json_output:
            print_json(MappingSettings().model_dump(mode="json"))
        else:
            typer.echo(commented_default(), nl=False)
        return
    if file is None:
        current = load_connection(name).mapping
        if json_output:
            print_json(current.model_dump(mode="json"))
        else:
            typer.echo(current.to_yaml_text(), nl=False)
        return
    mapping = load_mapping(file)  # before touching NATS: a bad file changes nothing

    async def store_it(store: ConnectionStore) -> bool:
        found = await store.get(name)
        if found is None:
            return False
        await store.put(found.model_copy(update={"mapping": mapping}))
        return True

    if not with_store(store_it):
        fail(f"there is no connection named {name!r}: `mlconnector connection list` shows them.")
    changed = changed_settings(mapping)
    if json_output:
        print_json({"connection": name, "changed": changed})
        return
    verb = "differs" if len(changed) == 1 else "differ"
    typer.echo(
        f"Stored the mapping of connection {name!r}: "
        + (f"{', '.join(changed)} {verb} from the defaults." if changed else "all defaults.")
    )


def register(app: typer.Typer) -> None:
    group(app, "connection").command("mapping")(connection_mapping)
