"""How command modules join the `mlconnector` command.

Each module listed in `main.COMMAND_MODULES` defines `register(app: typer.Typer) -> None`,
which adds its commands to `app` or to a group of it (`group(app, "connection")` for
`mlconnector connection ...`). A new module costs one line in that list.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import typer

# Groups several modules share; a module may make a new one with its own help text.
GROUP_HELP = {
    "connection": "Pair ServiceTitan tenants with QuickBooks companies.",
    "sim": "Simulators for development and demos.",
}


def group(app: typer.Typer, name: str, help_text: str | None = None) -> typer.Typer:
    """The sub-command group `name` of `app` (`mlconnector <name> ...`), made on first use."""
    for info in app.registered_groups:
        if info.name == name and info.typer_instance is not None:
            return info.typer_instance
    sub = typer.Typer(help=help_text or GROUP_HELP.get(name), no_args_is_help=True)
    app.add_typer(sub, name=name)
    return sub


def register_all(app: typer.Typer, modules: Iterable[str]) -> None:
    """Import each module (a dotted name) and call its `register(app)`.

    Raises TypeError naming a module that has no `register` function.
    """
    for name in modules:
        module = importlib.import_module(name)
        register = getattr(module, "register", None)
        if not callable(register):
            raise TypeError(f"{name} has no register(app) function")
        register(app)
