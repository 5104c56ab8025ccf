"""Where the running system is: NATS_URL, or the state file `mlconnector up` writes."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

import nats
import nats.errors
from nats.aio.client import Client
from pydantic import BaseModel

from mlconnector.common.settings import BaseServiceSettings


class RunState(BaseModel):
    nats_url: str
    pid: int
    gateway_url: str
    # What the Web Connector is given (the WSDL's address, the .qwc's AppURL).
    public_url: str | None = None
    audit_url: str
    ingest_url: str
    sandbox_url: str | None = None


def home() -> Path:
    return BaseServiceSettings().home


def state_file() -> Path:
    return home() / "run.json"


def write_state(state: RunState) -> None:
    path = state_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(state.model_dump_json(indent=2))


def read_state() -> RunState | None:
    path = state_file()
    if not path.exists():
        return None
    state = RunState.model_validate(json.loads(path.read_text()))
    try:
        os.kill(state.pid, 0)
    except OSError:
        return None  # left behind by an `up` that is no longer running
    return state


class NoNatsError(RuntimeError):
    """Neither NATS_URL nor a running `mlconnector up` says where the system is."""


def nats_url() -> str:
    if os.environ.get("NATS_URL"):
        return os.environ["NATS_URL"]
    state = read_state()
    if state is None:
        raise NoNatsError(
            "No NATS server to talk to: start `mlconnector up` in another terminal, "
            "or set NATS_URL."
        )
    return state.nats_url


def audit_url() -> str:
    if os.environ.get("AUDIT_URL"):
        return os.environ["AUDIT_URL"].rstrip("/")
    state = read_state()
    return state.audit_url if state else "http://127.0.0.1:8082"


@dataclass(frozen=True)
class System:
    """Where the parts of a running system answer; None where this machine cannot tell."""

    found_by: str  # for people: "`mlconnector up` (process 4242)", "AUDIT_URL / NATS_URL"
    audit_url: str
    nats_url: str | None = None
    gateway_url: str | None = None  # the gateway's base URL (its /healthz, /qbwc)
    ingest_url: str | None = None


def find_system() -> System | None:
    """The running `mlconnector up`, else the system AUDIT_URL / NATS_URL name, else None."""
    state = read_state()
    if state is not None:
        return System(
            found_by=f"`mlconnector up` (process {state.pid})",
            audit_url=state.audit_url,
            nats_url=state.nats_url,
            gateway_url=state.gateway_url.removesuffix("/qbwc"),
            ingest_url=state.ingest_url,
        )
    if os.environ.get("AUDIT_URL") or os.environ.get("NATS_URL"):
        return System(
            found_by="AUDIT_URL / NATS_URL",
            audit_url=audit_url(),
            nats_url=os.environ.get("NATS_URL") or None,
        )
    return None


async def _quiet(error: Exception) -> None:
    """nats-py's default error callback logs each failed attempt with a traceback."""


async def connect_nats(url: str, connect_timeout: float = 3.0) -> Client | None:
    """A connection to the NATS server at `url`, or None when it does not answer.

    nats-py retries its first connect for ever with max_reconnect_attempts=0 (nats-py 2.16,
    Client._select_next_server only discards a server when the limit is above 0), so the
    limit is 1: two quick attempts, then NoServersError.
    """
    try:
        return await nats.connect(
            url,
            connect_timeout=connect_timeout,
            max_reconnect_attempts=1,
            reconnect_time_wait=0.2,
            allow_reconnect=False,
            error_cb=_quiet,
        )
    except (OSError, nats.errors.Error, TimeoutError):
        return None
