"""The `mlconnector` command: its modules of commands, registered in order.

A new module of commands defines `register(app)` (see `registry`) and adds one line to
`COMMAND_MODULES`; it prints through `output` (`fail`, `--json`, `plural`).
"""

from __future__ import annotations

import sys

import typer

from mlconnector.cli.registry import register_all

COMMAND_MODULES = (
    "mlconnector.cli.up",
    "mlconnector.cli.connection_cmd",
    "mlconnector.cli.mapping_cmd",
    "mlconnector.cli.map_cmd",
    "mlconnector.cli.qwc_cmd",
    "mlconnector.cli.status_cmd",
    "mlconnector.cli.replay_cmd",
    "mlconnector.cli.sim_cmd",
    "mlconnector.cli.st_cmd",
    "mlconnector.cli.settings_cmd",
    "mlconnector.cli.reconcile_cmd",
    "mlconnector.cli.retry_cmd",
    "mlconnector.cli.onboard_cmd",
)

app = typer.Typer(
    help="ml-connector: ServiceTitan to QuickBooks Desktop.",
    no_args_is_help=True,
    # A traceback with local variables could show a password typed at a prompt.
    pretty_exceptions_show_locals=False,
)
register_all(app, COMMAND_MODULES)


def main() -> None:
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
