"""The operator's commands, run as the operator runs them: the installed `mlconnector` script."""

from __future__ import annotations

import json
import os
import socket
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
        # No controlling terminal: a password prompt reads stdin (and shows on stderr), it
        # cannot wait on the developer's terminal.
        start_new_session=True,
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

    listed = run(["connection", "list"], env)
    assert listed.stdout.splitlines() == [
        "NAME  TENANT   QBWC USER  COMPANY FILE",
        "acme  1234567  acme-qb    (the open one)",
    ]
    as_json = json.loads(run(["connection", "list", "--json"], env).stdout)
    assert [(c["name"], c["tenant"], c["qbwc_username"]) for c in as_json] == [
        ("acme", "1234567", "acme-qb")
    ]
    assert "password_hash" not in as_json[0]

    shown = run(["connection", "show", "acme"], env)
    assert "qbwc user:      acme-qb" in shown.stdout
    assert "correct horse" not in shown.stdout
    shown_json = json.loads(run(["connection", "show", "acme", "--json"], env).stdout)
    assert shown_json["mapping"]["ar_account"] == "Accounts Receivable"
    assert "password_hash" not in shown_json

    qwc = run(["qwc", "acme", "--url", "https://sync.example.com/qbwc"], env)
    assert qwc.returncode == 0, qwc.stderr
    root = etree.fromstring(qwc.stdout.encode())
    assert root.findtext("UserName") == "acme-qb"
    assert root.findtext("AppURL") == "https://sync.example.com/qbwc"
    # Stable across downloads.
    assert run(["qwc", "acme", "--url", "https://sync.example.com/qbwc"], env).stdout == qwc.stdout

    removed = run(["connection", "remove", "acme"], env)
    assert (removed.returncode, removed.stdout) == (0, "Removed connection 'acme'.\n")
    missing = run(["connection", "show", "acme"], env)
    assert missing.returncode == 2
    assert missing.stderr == (
        "Error: there is no connection named 'acme': `mlconnector connection list` shows them.\n"
    )
    assert run(["connection", "remove", "acme"], env).returncode == 2


@pytest.mark.nats
def test_short_password_is_refused_clearly(nats_url: str, tmp_path: Path) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    result = run(
        ["connection", "add", "acme", "--tenant", "1", "--qbwc-user", "u", "--password-stdin"],
        env,
        stdin="short\n",
    )
    assert result.returncode == 2
    assert result.stderr == (
        "Error: the QBWC password must be at least 8 characters: choose a longer one.\n"
    )


def test_without_nats_the_operator_is_told_what_to_do(tmp_path: Path) -> None:
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": ""}
    result = run(["connection", "list"], env)
    assert result.returncode == 2
    assert result.stderr == (
        "Error: No NATS server to talk to: start `mlconnector up` in another terminal, "
        "or set NATS_URL.\n"
    )


def test_a_nats_that_does_not_answer_is_one_sentence_not_a_retry_loop(tmp_path: Path) -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        dead = f"nats://127.0.0.1:{sock.getsockname()[1]}"
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": dead}
    result = run(["connection", "list"], env)
    assert result.returncode == 2
    assert result.stderr == (
        f"Error: NATS does not answer at {dead}: start `mlconnector up` in another terminal, "
        "or set NATS_URL to the running system's NATS server.\n"
    )


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
    assert missing.stderr == (
        f"Error: cannot read {tmp_path / 'nope.yaml'}: there is no such file; check the path.\n"
    )
    assert run(["connection", "show", "acme"], env).stdout == before

    unknown = run(["connection", "mapping", "nobody", str(good)], env)
    assert unknown.returncode == 2
    assert "there is no connection named 'nobody'" in unknown.stderr


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


@pytest.mark.nats
def test_an_empty_mapping_file_is_refused_and_the_mapping_kept(
    nats_url: str, tmp_path: Path
) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    add_connection(env)
    good = tmp_path / "good.yaml"
    good.write_text(VALID_MAPPING)
    assert run(["connection", "mapping", "acme", str(good)], env).returncode == 0
    before = run(["connection", "show", "acme"], env).stdout
    assert shown_mapping(before)["item_map"] == {"Labor": "Service:Labor"}

    for text in ("", "\n\n", "# only a comment\n# and another\n"):
        empty = tmp_path / "empty.yaml"
        empty.write_text(text)
        refused = run(["connection", "mapping", "acme", str(empty)], env)
        assert refused.returncode == 2, text
        assert refused.stdout == ""
        assert refused.stderr == (
            f"Error: {empty} has no settings (it is empty or only comments), so nothing was "
            "changed; to go back to the defaults, store the file `mlconnector connection "
            "mapping NAME --print-default` prints.\n"
        )
    refused = run(["connection", "mapping", "acme", "-"], env, stdin="")
    assert refused.returncode == 2
    assert run(["connection", "show", "acme"], env).stdout == before

    one = run(["connection", "mapping", "acme", "-"], env, stdin="ar_account: AR\n")
    assert (
        one.stdout
        == "Stored the mapping of connection 'acme': ar_account differs from the defaults.\n"
    )


def add_args(name: str, tenant: str, user: str) -> list[str]:
    return ["connection", "add", name, "--tenant", tenant, "--qbwc-user", user]


@pytest.mark.nats
def test_connection_add_refuses_what_cannot_work_before_asking_the_password(
    nats_url: str, tmp_path: Path
) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path)}
    add_connection(env)  # acme: tenant 1234567, QBWC user acme-qb

    # Without --password-stdin the command would prompt (on stderr: no terminal here); each
    # refusal comes first, and nothing is stored.
    cases = [
        (
            add_args("acme", "7654321", "other-qb"),
            "Error: a connection named 'acme' already exists: choose another name, or see it "
            "with `mlconnector connection show acme`.",
        ),
        (
            add_args("acme2", "1234567", "acme2-qb"),
            "Error: ServiceTitan tenant 1234567 is already synced by connection 'acme'; one "
            "tenant feeds one QuickBooks company, so remove that connection first "
            "(`mlconnector connection remove acme`) or check the tenant id.",
        ),
        (
            add_args("acme2", "7654321", "acme-qb"),
            "Error: QBWC user 'acme-qb' already belongs to connection 'acme': give this "
            "connection its own --qbwc-user.",
        ),
        (
            add_args("acme plumbing", "7654321", "plumbing-qb"),
            "Error: the connection name 'acme plumbing' may only use letters, digits, '-' and "
            "'_' (at most 64): try 'acme-plumbing'.",
        ),
        (
            add_args("acme2", "acme", "acme2-qb"),
            "Error: --tenant 'acme' is not a ServiceTitan tenant id: give the number "
            "ServiceTitan shows for your tenant (digits only, e.g. 1234567).",
        ),
        (
            add_args("acme2", str(2**63), "acme2-qb"),  # above int64
            f"Error: --tenant '{2**63}' is not a ServiceTitan tenant id: give the number "
            "ServiceTitan shows for your tenant (digits only, e.g. 1234567).",
        ),
    ]
    for args, message in cases:
        refused = run(args, env, stdin="correct horse battery\ncorrect horse battery\n")
        assert refused.returncode == 2, args
        assert refused.stderr == message + "\n", args
        assert refused.stdout == ""
    listed = json.loads(run(["connection", "list", "--json"], env).stdout)
    assert [c["name"] for c in listed] == ["acme"]

    # The same tenant is free again once its connection is removed.
    assert run(["connection", "remove", "acme"], env).returncode == 0
    added = run(
        [*add_args("acme2", "1234567", "acme2-qb"), "--password-stdin", "--json"],
        env,
        stdin="correct horse battery\n",
    )
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["tenant"] == "1234567"


@pytest.mark.nats
def test_qwc_without_url_uses_the_gateway_address_of_this_environment(
    nats_url: str, tmp_path: Path
) -> None:
    env = {"NATS_URL": nats_url, "MLCONNECTOR_HOME": str(tmp_path), "QBWC_PUBLIC_URL": ""}
    add_connection(env)
    on_port = run(["qwc", "acme"], {**env, "QBWC_PORT": "9321"})
    assert on_port.returncode == 0, on_port.stderr
    assert etree.fromstring(on_port.stdout.encode()).findtext("AppURL") == (
        "http://localhost:9321/qbwc"
    )
    assert on_port.stderr.startswith("Note: the Web Connector accepts http://localhost:9321/qbwc")

    public = run(["qwc", "acme"], {**env, "QBWC_PUBLIC_URL": "https://sync.example.com/qbwc"})
    root = etree.fromstring(public.stdout.encode())
    assert root.findtext("AppURL") == "https://sync.example.com/qbwc"
    assert root.findtext("AppSupport") == "https://sync.example.com/healthz"
    assert public.stderr == ""

    refused = run(["qwc", "acme", "--url", "http://sync.example.com/qbwc"], env)
    assert refused.returncode == 2
    assert refused.stderr == (
        "Error: the Web Connector only accepts https for sync.example.com: set QBWC_PUBLIC_URL "
        "(or --url) to the gateway's https address.\n"
    )


def test_status_with_nothing_running_says_so_and_fails(tmp_path: Path) -> None:
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": "", "AUDIT_URL": ""}
    result = run(["status"], env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        "Error: no running ml-connector found: start it with `mlconnector up`, or set "
        "AUDIT_URL and NATS_URL to a running system's.\n"
    )


def test_status_names_each_part_that_does_not_answer(tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    env = {
        "MLCONNECTOR_HOME": str(tmp_path),
        "NATS_URL": f"nats://127.0.0.1:{port}",
        "AUDIT_URL": f"http://127.0.0.1:{port}",
    }
    result = run(["status"], env)
    assert result.returncode == 1
    assert result.stdout.splitlines() == [
        "ml-connector, found through AUDIT_URL / NATS_URL:",
        f"  NATS           {env['NATS_URL']:32} DOWN (does not answer)",
        f"  audit          {env['AUDIT_URL']:32} DOWN (does not answer)",
        "records: unknown (audit does not answer)",
    ]
    report = json.loads(run(["status", "--json"], env).stdout)
    assert report["healthy"] is False
    assert [(s["name"], s["up"]) for s in report["services"]] == [
        ("NATS", False),
        ("audit", False),
    ]


@pytest.mark.parametrize("since", ["yesterday", "2026-13-45", "11/01/2026"])
def test_replay_refuses_a_date_it_cannot_read(since: str, tmp_path: Path) -> None:
    env = {"MLCONNECTOR_HOME": str(tmp_path), "NATS_URL": "", "AUDIT_URL": ""}
    result = run(["replay", "--since", since], env)
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr == (
        f"Error: --since {since!r} is not a date: give an ISO date or date-time, such as "
        "2026-11-01 or 2026-11-01T08:00:00Z.\n"
    )
