"""The `mlconnector` command is assembled from its modules: one line each in COMMAND_MODULES."""

from __future__ import annotations

import sys
import types

import pytest
import typer
from typer.testing import CliRunner

from mlconnector.cli.main import COMMAND_MODULES, app
from mlconnector.cli.output import plural, with_article
from mlconnector.cli.registry import group, register_all


def _names(typer_app: typer.Typer) -> list[str]:
    commands = [info.name or info.callback.__name__ for info in typer_app.registered_commands]
    return commands + [info.name or "" for info in typer_app.registered_groups]


def test_every_fixed_command_is_registered() -> None:
    assert sorted(_names(app)) == sorted(
        [
            "up",
            "map",
            "qwc",
            "status",
            "replay",
            "connection",
            "sim",
            "backfill",
            "st",
            "reconcile",
            "retry",
            "onboard",
        ]
    )
    assert sorted(_names(group(app, "connection"))) == [
        "add",
        "credentials",
        "list",
        "mapping",
        "remove",
        "settings",
        "show",
    ]
    assert _names(group(app, "sim")) == ["quickbooks"]
    assert len(COMMAND_MODULES) == len(set(COMMAND_MODULES))


def test_a_new_module_is_one_line(monkeypatch: pytest.MonkeyPatch) -> None:
    """What another module does to add `mlconnector retry` and `mlconnector connection
    credentials`: define register(app), be listed."""
    module = types.ModuleType("mlconnector_test_retry_cmd")

    def retry(name: str) -> None:
        typer.echo(f"Retried {plural(1, 'record')} of {name}.")

    def credentials(name: str) -> None:
        typer.echo(f"{name}: stored")

    def register(target: typer.Typer) -> None:
        target.command()(retry)
        group(target, "connection").command("credentials")(credentials)

    module.register = register  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, module.__name__, module)
    cli = typer.Typer()
    register_all(cli, ["mlconnector.cli.connection_cmd", module.__name__])
    runner = CliRunner()
    assert runner.invoke(cli, ["retry", "acme"]).output == "Retried 1 record of acme.\n"
    assert runner.invoke(cli, ["connection", "credentials", "acme"]).output == "acme: stored\n"
    # The module's command joined the existing group rather than making a second one.
    assert [g.name for g in cli.registered_groups] == ["connection"]


def test_a_module_without_register_is_named() -> None:
    with pytest.raises(TypeError, match=r"mlconnector\.cli\.output has no register"):
        register_all(typer.Typer(), ["mlconnector.cli.output"])


def test_words_for_people() -> None:
    assert [plural(n, "record") for n in (0, 1, 2)] == ["0 records", "1 record", "2 records"]
    assert plural(1, "entry", "entries") == "1 entry"
    assert plural(3, "entry", "entries") == "3 entries"
    assert [with_article(w) for w in ("invoice", "payment", "bill", "Account")] == [
        "an invoice",
        "a payment",
        "a bill",
        "an Account",
    ]
