"""`mlconnector replay` against a running audit service: sentences for people, JSON with --json."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlconnector.cli.replay_cmd import _audit_error

from .conftest import StartService, free_port
from .test_cli_connections import add_connection, run

pytestmark = pytest.mark.nats


@pytest.fixture
def audit_env(nats_url: str, tmp_path: Path, start_service: StartService) -> dict[str, str]:
    port = free_port()
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path), "AUDIT_PORT": str(port)}
    start_service("audit", "mlconnector-audit", env, f"http://127.0.0.1:{port}/healthz")
    return {**env, "AUDIT_URL": f"http://127.0.0.1:{port}"}


def test_replay_answers_in_sentences(audit_env: dict[str, str]) -> None:
    nothing = run(["replay", "--since", "2026-11-01"], audit_env)
    assert nothing.returncode == 0, nothing.stderr
    assert nothing.stdout == "No stored ServiceTitan event matched: nothing was replayed.\n"

    as_json = run(["replay", "--entity", "invoice", "--json"], audit_env)
    assert as_json.returncode == 0, as_json.stderr
    result = json.loads(as_json.stdout)
    assert (result["stream"], result["matched"], result["republished"]) == ("ST_EVENTS", 0, 0)

    refused = run(["replay", "--connection", "nobody"], audit_env)
    assert refused.returncode == 2
    assert refused.stdout == ""
    assert refused.stderr == (
        "Error: audit refused the replay (no connection named 'nobody'): correct the options "
        "and run it again.\n"
    )
    add_connection(audit_env)
    assert run(["replay", "--connection", "acme"], audit_env).returncode == 0


def test_an_audit_validation_error_becomes_its_sentence() -> None:
    """FastAPI's 422 body (what `replay --since yesterday` used to print raw)."""
    body = json.dumps(
        {
            "detail": [
                {
                    "type": "datetime_from_date_parsing",
                    "loc": ["body", "since"],
                    "msg": "Input should be a valid datetime or date, invalid character in year",
                    "input": "yesterday",
                }
            ]
        }
    ).encode()
    assert _audit_error(body) == (
        "since: Input should be a valid datetime or date, invalid character in year"
    )
    assert _audit_error(b'{"detail": "no connection named \'x\'"}') == "no connection named 'x'"
    assert _audit_error(b"<html>bad gateway</html>") == "no explanation"
