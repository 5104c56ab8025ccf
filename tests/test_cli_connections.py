"""The operator's commands, run as the operator runs them: the installed `mlconnector` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from lxml import etree

MLCONNECTOR = str(Path(sys.executable).parent / "mlconnector")


def run(args: list[str], env: dict[str, str], stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [MLCONNECTOR, *args],
        input=stdin,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **env},
    )


@pytest.mark.nats
def test_add_list_show_qwc_remove(nats_url: str, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    added = run(
        [
            "connection",
            "add",
            "acme",
            "--tenant",
            "1234567",
            "--qbwc-user",
            "acme-qb",
            "--password-stdin",
        ],
        env,
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    assert "Added connection 'acme'" in added.stdout

    again = run(
        ["connection", "add", "acme", "--tenant", "1", "--qbwc-user", "x", "--password-stdin"],
        env,
        stdin="another password\n",
    )
    assert again.returncode == 1
    assert "already exists" in again.stderr

    listed = run(["connection", "list"], env)
    assert listed.stdout.splitlines() == ["acme\ttenant 1234567\tqbwc user acme-qb"]

    shown = run(["connection", "show", "acme"], env)
    assert "qbwc user:      acme-qb" in shown.stdout
    assert "correct horse" not in shown.stdout

    qwc = run(["qwc", "acme", "--url", "https://sync.example.com/qbwc"], env)
    assert qwc.returncode == 0, qwc.stderr
    root = etree.fromstring(qwc.stdout.encode())
    assert root.findtext("UserName") == "acme-qb"
    assert root.findtext("AppURL") == "https://sync.example.com/qbwc"
    # Stable across downloads.
    assert run(["qwc", "acme", "--url", "https://sync.example.com/qbwc"], env).stdout == qwc.stdout

    assert run(["connection", "remove", "acme"], env).returncode == 0
    missing = run(["connection", "show", "acme"], env)
    assert missing.returncode == 1
    assert "no connection named 'acme'" in missing.stderr


@pytest.mark.nats
def test_short_password_is_refused_clearly(nats_url: str, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    result = run(
        ["connection", "add", "acme", "--tenant", "1", "--qbwc-user", "u", "--password-stdin"],
        env,
        stdin="short\n",
    )
    assert result.returncode == 1
    assert "at least 8 characters" in result.stderr


def test_without_nats_the_operator_is_told_what_to_do(tmp_path: Path) -> None:
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": ""}
    result = run(["connection", "list"], env)
    assert result.returncode == 1
    assert "start `mlconnector up`" in result.stderr
