"""`mlconnector qwc NAME`: the .qwc file that adds a connection to the QuickBooks Web Connector."""

from __future__ import annotations

import os
from typing import Annotated
from urllib.parse import urlsplit

import typer

from mlconnector.cli.connections import load_connection
from mlconnector.cli.output import fail
from mlconnector.cli.qwc import QwcError, build_qwc
from mlconnector.cli.runtime import read_state


def app_url() -> str:
    """The gateway address the Web Connector must call, as the running system serves it.

    The running `mlconnector up`'s (its QBWC_PUBLIC_URL, else its gateway's real port), else
    QBWC_PUBLIC_URL, else where a gateway started with this environment listens
    (http://localhost:<QBWC_PORT>/qbwc, the gateway's own default).
    """
    state = read_state()
    if state is not None:
        return state.public_url or state.gateway_url
    if os.environ.get("QBWC_PUBLIC_URL"):
        return os.environ["QBWC_PUBLIC_URL"]
    from mlconnector.gateway.settings import GatewaySettings

    return GatewaySettings().qbwc_public_url


def qwc(
    name: str,
    url: Annotated[
        str | None,
        typer.Option(help="gateway URL (default: the running system's QBWC_PUBLIC_URL)"),
    ] = None,
    every_minutes: Annotated[
        int | None,
        typer.Option(help="Web Connector schedule, minutes (default: the connection's)"),
    ] = None,
) -> None:
    """Print the .qwc file that adds this connection to the QuickBooks Web Connector."""
    address = url or app_url()
    found = load_connection(name)
    try:
        text = build_qwc(found, address, every_minutes or found.schedule_minutes)
    except QwcError as exc:
        fail(str(exc))
    typer.echo(text, nl=False)
    if urlsplit(address).scheme == "http":
        typer.echo(
            f"Note: the Web Connector accepts {address} only on the PC where the gateway "
            "runs; for another PC publish the gateway over https and set QBWC_PUBLIC_URL.",
            err=True,
        )


def register(app: typer.Typer) -> None:
    app.command()(qwc)
