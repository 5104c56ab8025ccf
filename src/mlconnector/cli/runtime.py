"""Where the running system is: NATS_URL, or the state file `mlconnector up` writes."""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import BaseModel

from mlconnector.common.settings import BaseServiceSettings


class RunState(BaseModel):
    nats_url: str
    pid: int
    gateway_url: str
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
