"""`mlconnector sim quickbooks ...`: the simulated Web Connector and company file (its own
argument parser in mlconnector.qbsim.main)."""

from __future__ import annotations

import typer

from mlconnector.cli.registry import group


def sim_quickbooks(ctx: typer.Context) -> None:
    """Simulated Web Connector cycles (faults too); `company LIST` shows the company file."""
    from mlconnector.qbsim.main import run

    raise typer.Exit(run(list(ctx.args)))


def register(app: typer.Typer) -> None:
    group(app, "sim").command(
        "quickbooks",
        context_settings={"allow_extra_args": True, "ignore_unknown_options": True},
        add_help_option=False,
    )(sim_quickbooks)
