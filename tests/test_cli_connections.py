"""The operator's commands, run as the operator runs them: the installed `mlconnector` script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
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


def add_connection(env: dict[str, str], name: str = "acme") -> None:
    added = run(
        [
            "connection",
            "add",
            name,
            "--tenant",
            "1234567",
            "--qbwc-user",
            f"{name}-qb",
            "--password-stdin",
        ],
        env,
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr


def shown_mapping(stdout: str) -> dict[str, object]:
    """The YAML under `mapping:` in `connection show`."""
    lines = stdout.splitlines()
    body = lines[lines.index("mapping:") + 1 :]
    loaded = yaml.safe_load("\n".join(line.removeprefix("  ") for line in body))
    assert isinstance(loaded, dict)
    return loaded


VALID_MAPPING = """\
# Acme's chart of accounts
ar_account: "Accounts Receivable"
deposit_account: "Undeposited Funds"
class_from_business_unit: true
item_map:
  Labor: "Service:Labor"
gl_account_map:
  Service Income: "Income:Service"
"""


@pytest.mark.nats
def test_valid_mapping_is_stored_and_shown(nats_url: str, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    add_connection(env)
    before = shown_mapping(run(["connection", "show", "acme"], env).stdout)
    assert before["item_map"] == {}
    assert before["ar_account"] == "Accounts Receivable"

    path = tmp_path / "acme.yaml"
    path.write_text(VALID_MAPPING)
    stored = run(["connection", "mapping", "acme", str(path)], env)
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout == (
        "Stored the mapping of connection 'acme': gl_account_map, item_map, "
        "class_from_business_unit differ from the defaults.\n"
    )

    shown = run(["connection", "show", "acme"], env)
    assert shown.returncode == 0, shown.stderr
    assert "qbwc user:      acme-qb" in shown.stdout
    mapping = shown_mapping(shown.stdout)
    assert mapping["item_map"] == {"Labor": "Service:Labor"}
    assert mapping["gl_account_map"] == {"Service Income": "Income:Service"}
    assert mapping["class_from_business_unit"] is True
    assert mapping == {**before, **yaml.safe_load(VALID_MAPPING)}

    # Without a file: the current mapping as YAML, ready to edit and store again.
    current = run(["connection", "mapping", "acme"], env)
    assert current.returncode == 0, current.stderr
    assert yaml.safe_load(current.stdout) == mapping
    again = run(["connection", "mapping", "acme", "-"], env, stdin=current.stdout)
    assert again.returncode == 0, again.stderr


@pytest.mark.nats
def test_invalid_mapping_is_refused_naming_the_field(nats_url: str, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    add_connection(env)
    good = tmp_path / "good.yaml"
    good.write_text(VALID_MAPPING)
    assert run(["connection", "mapping", "acme", str(good)], env).returncode == 0
    before = run(["connection", "show", "acme"], env).stdout

    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "gl_account_map:\n"
        "  Service Revenue: Income from service calls and repairs\n"
        "tax_mode: per-line\n"
        "ar_acount: AR\n"
    )
    refused = run(["connection", "mapping", "acme", str(bad)], env)
    assert refused.returncode == 2
    assert refused.stdout == ""
    errors = refused.stderr.splitlines()
    assert errors[0] == f"Error: {bad} is not a valid mapping:"
    assert errors[1].startswith(
        "  gl_account_map.Service Revenue: 'Income from service calls and repairs' is 37 "
        "characters; QuickBooks account names are at most 31 per level"
    )
    assert errors[2].startswith("  tax_mode: Input should be 'quickbooks' or 'line'")
    assert errors[2].endswith("got 'per-line'")
    assert errors[3].startswith("  ar_acount: unknown setting (known settings: ")
    assert run(["connection", "show", "acme"], env).stdout == before

    for text, message in [
        ("item_map: [Labor]\n", "item_map: Input should be a valid dictionary"),
        ("ar_account: [unclosed\n", "not valid YAML"),
        ("- just a list\n", "must be a mapping of settings, got list"),
    ]:
        bad.write_text(text)
        refused = run(["connection", "mapping", "acme", str(bad)], env)
        assert refused.returncode == 2, text
        assert message in refused.stderr
    missing = run(["connection", "mapping", "acme", str(tmp_path / "nope.yaml")], env)
    assert missing.returncode == 2
    assert "cannot read" in missing.stderr
    assert run(["connection", "show", "acme"], env).stdout == before

    unknown = run(["connection", "mapping", "nobody", str(good)], env)
    assert unknown.returncode == 1
    assert "no connection named 'nobody'" in unknown.stderr


def test_default_mapping_is_printed_with_explanations(tmp_path: Path) -> None:
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": ""}
    printed = run(["connection", "mapping", "acme", "--print-default"], env)
    assert printed.returncode == 0, printed.stderr
    assert "# AP account of bills\nap_account: Accounts Payable\n" in printed.stdout
    loaded = yaml.safe_load(printed.stdout)
    assert loaded["deposit_account"] == "Undeposited Funds"
    assert loaded["item_map"] == {}
    # What it prints is a mapping the connector accepts as is.
    path = tmp_path / "default.yaml"
    path.write_text(printed.stdout)
    from mlconnector.common.mapping import MappingSettings

    assert MappingSettings.from_yaml_text(path.read_text()) == MappingSettings()


def test_mapping_is_checked_before_nats_is_needed(tmp_path: Path) -> None:
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": ""}
    bad = tmp_path / "bad.yaml"
    bad.write_text("taxable_code: Taxable\n")
    refused = run(["connection", "mapping", "acme", str(bad)], env)
    assert refused.returncode == 2
    assert "taxable_code: " in refused.stderr
    assert "at most 3 characters" in refused.stderr
