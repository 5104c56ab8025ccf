"""`mlconnector up`: the whole system on one machine, with embedded defaults."""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import secrets
import signal
import socket
import sys
import time
import urllib.request
from pathlib import Path
from typing import Annotated

import nats
import typer

from mlconnector.cli.runtime import RunState, home, state_file, write_state
from mlconnector.cli.supervisor import Child, Supervisor, console_script
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.passwords import hash_password
from mlconnector.common.streams import declare_all
from mlconnector.stsandbox import seed

DEMO_CONNECTION = "demo"
# The demo day's bills are dated up to a week before it: the demo connection starts a month
# before the day, so all of the seeded day posts.
DEMO_START = seed.DAY - dt.timedelta(days=31)
DEMO_USER = "demo"


def _port(env: str, default: int) -> int:
    return int(os.environ.get(env, default))


def _port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _wait_healthy(url: str, child: Child, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child.exited() is not None:
            raise RuntimeError(f"{child.name} exited at start; see {child.log_path}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{child.name} did not answer {url}; see {child.log_path}")


async def _ensure_demo_connection(nats_url: str, tenant: str, password: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await declare_all(js)
        store = await ConnectionStore.open(js)
        existing = await store.get(DEMO_CONNECTION)
        if existing is None:
            connection = Connection.create(DEMO_CONNECTION, tenant, DEMO_USER, password)
        else:
            # A fresh password each run: only its hash is stored, and the simulated Web
            # Connector gets the plaintext through its environment.
            connection = existing.model_copy(update={"password_hash": hash_password(password)})
        # The sandbox's demo day lies in the past: the demo connection starts before it.
        connection = connection.model_copy(
            update={"sync_from": min(connection.sync_from, DEMO_START)}
        )
        await store.put(connection)
    finally:
        await nc.close()


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM while starting: stop as on Ctrl-C (the `finally` of run_up stops what started)."""
    raise KeyboardInterrupt


def _still_stopping(signum: int, frame: object) -> None:
    print("Still stopping: the services are finishing what they hold.", file=sys.stderr)


def run_up(every_seconds: float = 5.0) -> int:
    """Run everything until Ctrl-C (or SIGTERM); the exit code of `mlconnector up`.

    Stopping is ordered: the simulated Web Connector, then the services in the reverse order
    of their start (each finishes what it holds: a poll in progress, a SOAP call, a batch),
    the ServiceTitan sandbox, and the NATS server last, so that no service loses its broker
    while it still needs it. Children run in their own sessions, so a terminal's Ctrl-C
    reaches only this process; they die with it if it is killed outright.
    """
    signal.signal(signal.SIGTERM, _interrupt)
    base = home()
    base.mkdir(parents=True, exist_ok=True)
    logs = base / "logs"
    ports = {
        "gateway": _port("QBWC_PORT", 8080),
        "ingest": _port("INGEST_PORT", 8081),
        "audit": _port("AUDIT_PORT", 8082),
    }
    use_sandbox = not os.environ.get("ST_CLIENT_ID")
    if use_sandbox:
        ports["sandbox"] = _port("STSANDBOX_PORT", 8090)
    busy = [f"{name} ({port})" for name, port in ports.items() if not _port_free(port)]
    if busy:
        which = f"port {busy[0]} is" if len(busy) == 1 else f"ports {', '.join(busy)} are"
        print(
            f"Cannot start: {which} in use; stop what holds them, or set "
            "QBWC_PORT / INGEST_PORT / AUDIT_PORT / STSANDBOX_PORT to free ones.",
            file=sys.stderr,
        )
        return 2

    embedded: EmbeddedNats | None = None
    nats_url = os.environ.get("NATS_URL", "")
    if not nats_url:
        embedded = EmbeddedNats(store_dir=base / "nats", own_session=True).start()
        nats_url = embedded.url

    supervisor = Supervisor()
    exit_code = 0
    try:
        common = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(base)}
        urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
        ingest_env = {**common, "INGEST_PORT": str(ports["ingest"])}
        tenant = os.environ.get("ST_TENANT", "1234567")
        if use_sandbox:
            sandbox = supervisor.start(
                Child(
                    "st-sandbox",
                    [console_script("mlconnector-st-sandbox")],
                    {**common, "STSANDBOX_PORT": str(ports["sandbox"]), "STSANDBOX_TENANT": tenant},
                    logs / "st-sandbox.log",
                )
            )
            _wait_healthy(f"{urls['sandbox']}/healthz", sandbox)
            ingest_env.update(
                {
                    "ST_API_BASE_URL": urls["sandbox"],
                    "ST_AUTH_URL": urls["sandbox"],
                    "ST_CLIENT_ID": "sandbox-client",
                    "ST_CLIENT_SECRET": "sandbox-secret",
                    "ST_APP_KEY": "sandbox-app-key",
                    "ST_TENANT": tenant,
                    "ST_POLL_SECONDS": os.environ.get("ST_POLL_SECONDS", "3"),
                }
            )
        password = secrets.token_urlsafe(18)
        asyncio.run(_ensure_demo_connection(nats_url, tenant, password))

        gateway_url = f"{urls['gateway']}/qbwc"
        # The address the Web Connector is given (WSDL, .qwc): QBWC_PUBLIC_URL when the gateway
        # is published elsewhere (an https proxy), else the local one.
        public_url = os.environ.get("QBWC_PUBLIC_URL") or gateway_url
        services = [
            ("audit", "mlconnector-audit", {"AUDIT_PORT": str(ports["audit"])}, "audit"),
            ("mapper", "mlconnector-mapper", {}, None),
            (
                "qbwc-gateway",
                "mlconnector-qbwc-gateway",
                {"QBWC_PORT": str(ports["gateway"]), "QBWC_PUBLIC_URL": public_url},
                "gateway",
            ),
            ("st-ingest", "mlconnector-st-ingest", ingest_env, "ingest"),
        ]
        for name, script, env, health in services:
            child = supervisor.start(
                Child(
                    name,
                    [console_script(script)],
                    {**common, "OTEL_SERVICE_NAME": name, **env},
                    logs / f"{name}.log",
                )
            )
            if health:
                _wait_healthy(f"{urls[health]}/healthz", child)

        if use_sandbox:
            supervisor.start(
                Child(
                    "web-connector-sim",
                    [
                        console_script("mlconnector-sim-quickbooks"),
                        "--gateway",
                        gateway_url,
                        "--user",
                        DEMO_USER,
                        "--company",
                        str(base / "quickbooks-demo.sqlite"),
                        "--every",
                        str(every_seconds),
                    ],
                    {**common, "QBSIM_PASSWORD": password},
                    logs / "web-connector-sim.log",
                    stop_signal=signal.SIGINT,
                )
            )
        write_state(
            RunState(
                nats_url=nats_url,
                pid=os.getpid(),
                gateway_url=gateway_url,
                public_url=public_url,
                audit_url=urls["audit"],
                ingest_url=urls["ingest"],
                sandbox_url=urls.get("sandbox"),
            )
        )
        _print_banner(urls, gateway_url, public_url, nats_url, base, use_sandbox)
        died = supervisor.watch()
        if died is not None:
            print(
                f"\n{died} stopped unexpectedly; see {logs / (died + '.log')}. "
                "Stopping everything.",
                file=sys.stderr,
            )
            exit_code = 1
    except RuntimeError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr)
        exit_code = 1
    finally:
        signal.signal(signal.SIGINT, _still_stopping)
        signal.signal(signal.SIGTERM, _still_stopping)
        # First: the commands must not find a system that is going away.
        state_file().unlink(missing_ok=True)
        print("\nStopping...", file=sys.stderr)
        supervisor.stop_all()
        if embedded is not None:
            embedded.stop()
        print("Stopped.", file=sys.stderr)
    return exit_code


def _print_banner(
    urls: dict[str, str],
    gateway_url: str,
    public_url: str,
    nats_url: str,
    base: Path,
    sandbox: bool,
) -> None:
    lines = [
        "ml-connector is running. Ctrl-C stops everything.",
        f"  audit dashboard      {urls['audit']}/",
        f"  audit API            {urls['audit']}/api/records",
        f"  QBWC gateway (SOAP)  {gateway_url}   (WSDL: {gateway_url}?wsdl)",
    ]
    if public_url != gateway_url:
        lines.append(f"  QBWC public address  {public_url}   (QBWC_PUBLIC_URL)")
    lines.append(f"  st-ingest            {urls['ingest']}/healthz")
    if sandbox:
        lines.append(f"  ServiceTitan sandbox {urls['sandbox']}  (no ST_CLIENT_ID: demo data)")
    lines += [f"  NATS                 {nats_url}", f"  logs                 {base / 'logs'}"]
    if sandbox:
        lines.append(
            "  a simulated Web Connector syncs the demo QuickBooks company every few seconds"
        )
    print("\n".join(lines), flush=True)


def up(
    every: Annotated[
        float, typer.Option(help="seconds between simulated Web Connector cycles")
    ] = 5.0,
) -> None:
    """Run everything: NATS, the four services, and (without ST credentials) the simulators."""
    raise typer.Exit(run_up(every_seconds=every))


def register(app: typer.Typer) -> None:
    app.command()(up)
