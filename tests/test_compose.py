"""docker-compose.yml is the production shape. No Docker engine runs here, so this checks what
can be checked without one: the file parses, every healthcheck runs a program its image is
documented to contain, every built service's Dockerfile runs an installed console entry, the
https proxy's config passes the proxy's own validator, and the host name, the gateway's public
address and the .qwc agree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from mlconnector.cli.qwc import build_qwc
from mlconnector.common.connections import Connection

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"st-ingest", "mapper", "qbwc-gateway", "audit"}
CADDYFILE = ROOT / "deploy" / "Caddyfile"


@dataclass(frozen=True)
class ImageContents:
    programs: frozenset[str]  # on the image's PATH
    source: str  # where that is documented


# What each image is documented to contain, as far as a healthcheck may rely on it.
IMAGE_CONTENTS = {
    "nats:2.11-alpine": ImageContents(
        frozenset({"nats-server", "wget", "sh"}),
        "nats-io/nats-docker, 2.11.x/alpine3.22/Dockerfile: FROM alpine:3.22, nats-server moved "
        "to /usr/local/bin; Alpine's BusyBox provides sh and wget. Tags '<version>-alpine' per "
        "docker-library/official-images library/nats. (The default nats:2.11 is "
        "2.11.x/scratch/Dockerfile: FROM scratch with /nats-server alone, no wget or shell.)",
    ),
    "postgres:16": ImageContents(
        frozenset({"pg_isready", "psql", "postgres", "sh", "bash"}),
        "docker-library/postgres, 16/<debian>/Dockerfile: FROM debian:*-slim, installs "
        "postgresql-16 (which ships pg_isready) and sets "
        "ENV PATH $PATH:/usr/lib/postgresql/$PG_MAJOR/bin.",
    ),
    "python:3.11-slim": ImageContents(
        frozenset({"python", "python3", "pip", "sh"}),
        "docker-library/python, 3.11/slim-bookworm/Dockerfile: python3 in /usr/local/bin and "
        "the symlinks python, pip ('make some useful symlinks that are expected to exist'); "
        "FROM debian:bookworm-slim.",
    ),
    "caddy:2.11-alpine": ImageContents(
        frozenset({"caddy", "wget", "curl", "sh"}),
        "caddyserver/caddy-docker, 2.11/alpine/Dockerfile: FROM alpine:3.24, apk add curl, "
        "caddy in /usr/bin; BusyBox wget and sh; the admin API on localhost:2019 (EXPOSE 2019).",
    ),
}


def _compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def _services() -> dict[str, Any]:
    services = _compose()["services"]
    assert isinstance(services, dict)
    return services


def _env_example() -> dict[str, str]:
    values = {}
    for line in (ROOT / ".env.example").read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    return values


def _interpolate(text: str, env: dict[str, str]) -> str:
    """Compose's ${VAR}, ${VAR:-default} and ${VAR:?error} substitution."""

    def one(match: re.Match[str]) -> str:
        name, op, arg = match.group(1), match.group(2), match.group(3) or ""
        value = env.get(name, "")
        if op == ":?" and not value:
            raise AssertionError(f"{name} is required: {arg}")
        if op == ":-" and not value:
            return arg
        return value

    return re.sub(r"\$\{(\w+)(?:(:[?-])([^}]*))?\}", one, text)


def _image(service: dict[str, Any]) -> str:
    """The image a service runs: its `image`, or the FROM of the Dockerfile it is built from."""
    if "image" in service:
        return str(service["image"])
    build = service["build"]
    text = (ROOT / build["context"] / build["dockerfile"]).read_text()
    found = re.search(r"^FROM (\S+)", text, re.MULTILINE)
    assert found, f"{build['dockerfile']} has no FROM"
    return found.group(1)


def _entry(dockerfile: Path) -> str:
    """The program a Dockerfile runs: its ENTRYPOINT's, else its CMD's."""
    text = dockerfile.read_text()
    for instruction in ("ENTRYPOINT", "CMD"):
        found = re.search(rf'^{instruction} \["([^"]+)"', text, re.MULTILINE)
        if found:
            return found.group(1)
    raise AssertionError(f"{dockerfile} has neither ENTRYPOINT nor CMD")


def test_compose_runs_nats_jaeger_postgres_caddy_the_four_services_and_the_cli() -> None:
    services = _services()
    assert set(services) == {"nats", "jaeger", "postgres", "caddy", "cli"} | SERVICES
    assert "-js" in services["nats"]["command"]
    assert any(v.endswith(":/data") for v in services["nats"]["volumes"])
    assert "127.0.0.1:8222:8222" in services["nats"]["ports"]
    assert {"127.0.0.1:16686:16686", "127.0.0.1:4318:4318"} <= set(services["jaeger"]["ports"])
    assert services["audit"]["environment"]["AUDIT_DATABASE_URL"].startswith("postgresql://")
    assert services["cli"]["profiles"] == ["tools"]  # not started by `docker compose up`


def test_every_healthcheck_runs_a_program_its_image_contains() -> None:
    checked = []
    for name, service in _services().items():
        if "healthcheck" not in service:
            continue
        image = _image(service)
        assert image in IMAGE_CONTENTS, f"{name}: record what {image} contains, with a source"
        contents = IMAGE_CONTENTS[image].programs
        test = service["healthcheck"]["test"]
        assert isinstance(test, list), f"{name}: use the exec form, not a shell string"
        kind, program = test[0], test[1]
        if kind == "CMD-SHELL":
            assert "sh" in contents, f"{name}: {image} has no shell"
            program = program.split()[0]
        else:
            assert kind == "CMD", name
        assert program in contents, f"{name}: {image} has no {program!r}"
        checked.append(name)
    assert sorted(checked) == ["audit", "caddy", "nats", "postgres", "qbwc-gateway", "st-ingest"]


def test_a_service_waits_only_for_healthchecks_that_exist() -> None:
    services = _services()
    for name, service in services.items():
        for needed, condition in (service.get("depends_on") or {}).items():
            if condition.get("condition") == "service_healthy":
                assert "healthcheck" in services[needed], f"{name} waits for {needed}'s health"


def test_the_python_healthchecks_ask_the_port_each_service_listens_on() -> None:
    ports = {"st-ingest": 8081, "qbwc-gateway": 8080, "audit": 8082}
    for name, port in ports.items():
        service = _services()[name]
        assert f"http://127.0.0.1:{port}/healthz" in service["healthcheck"]["test"][-1]
        dockerfile = ROOT / service["build"]["context"] / service["build"]["dockerfile"]
        assert f"EXPOSE {port}" in dockerfile.read_text()


def test_only_the_https_proxy_listens_on_public_addresses() -> None:
    for name, service in _services().items():
        for mapping in service.get("ports", []):
            if name == "caddy":
                assert mapping in {"80:80", "443:443", "443:443/udp"}
            else:
                assert mapping.startswith("127.0.0.1:"), f"{name} publishes {mapping} publicly"


def test_every_service_has_its_otel_name_and_no_secret_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SERVICES:
        env = _services()[name]["environment"]
        assert env["OTEL_SERVICE_NAME"] == name
        assert env["NATS_URL"] == "nats://nats:4222"
    for secret in ("ST_CLIENT_SECRET", "POSTGRES_PASSWORD"):
        assert re.search(rf"{secret}: \$\{{", text), f"{secret} must come from the environment"


def test_env_example_names_every_variable_the_compose_file_requires() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    required = set(re.findall(r"\$\{(\w+):\?", text))
    assert required == {
        "AUDIT_DB_PASSWORD",
        "MLCONNECTOR_HOSTNAME",
        "ST_APP_KEY",
        "ST_CLIENT_ID",
        "ST_CLIENT_SECRET",
        "ST_TENANT",
    }
    assert required <= set(_env_example())
    # The filled-in copy holds secrets: it stays out of git and out of the images.
    assert ".env" in (ROOT / ".gitignore").read_text().splitlines()
    assert ".env" in (ROOT / ".dockerignore").read_text().splitlines()


def test_the_host_name_the_public_url_and_the_qwc_agree() -> None:
    env = {k: v or "x" for k, v in _env_example().items()}
    services = _services()
    hostname = env["MLCONNECTOR_HOSTNAME"]
    public = {
        name: _interpolate(services[name]["environment"]["QBWC_PUBLIC_URL"], env)
        for name in ("qbwc-gateway", "cli")
    }
    assert public == {name: f"https://{hostname}/qbwc" for name in public}
    assert _interpolate(services["caddy"]["environment"]["MLCONNECTOR_HOSTNAME"], env) == hostname
    assert "{$MLCONNECTOR_HOSTNAME} {" in CADDYFILE.read_text()
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in services["caddy"]["volumes"]

    # What `docker compose run --rm cli qwc acme` prints: AppURL and AppSupport on that host.
    qwc = build_qwc(Connection.create("acme", "1234567", "acme-qb", "password1"), public["cli"])
    assert f"<AppURL>https://{hostname}/qbwc</AppURL>" in qwc
    assert f"<AppSupport>https://{hostname}/healthz</AppSupport>" in qwc


def _caddy(args: list[str], tmp_path: Path, hostname: str) -> subprocess.CompletedProcess[str]:
    caddy = shutil.which("caddy")
    if caddy is None:
        pytest.skip(
            "caddy is not installed (`apt-get install caddy`; .ci/run installs it): only the "
            "validation of deploy/Caddyfile by Caddy itself is skipped"
        )
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_DATA_HOME": str(tmp_path / "data"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "MLCONNECTOR_HOSTNAME": hostname,
    }
    return subprocess.run(
        [caddy, *args, "--config", str(CADDYFILE), "--adapter", "caddyfile"],
        capture_output=True,
        text=True,
        timeout=60,
        env=env,
    )


def test_caddy_itself_validates_the_proxy_config(tmp_path: Path) -> None:
    hostname = _env_example()["MLCONNECTOR_HOSTNAME"]
    validated = _caddy(["validate"], tmp_path, hostname)
    assert validated.returncode == 0, validated.stderr
    assert "Valid configuration" in validated.stdout + validated.stderr
    # Without a host name there is no site: Caddy refuses it rather than serve nothing.
    assert _caddy(["validate"], tmp_path, "").returncode != 0


def test_the_proxy_sends_the_web_connector_to_the_gateway(tmp_path: Path) -> None:
    adapted = _caddy(["adapt"], tmp_path, "sync.acme-plumbing.example")
    assert adapted.returncode == 0, adapted.stderr
    [server] = json.loads(adapted.stdout)["apps"]["http"]["servers"].values()
    assert server["listen"] == [":443"]  # https: Caddy manages the certificate
    [site] = server["routes"]
    assert site["match"] == [{"host": ["sync.acme-plumbing.example"]}]
    upstreams: dict[str, str] = {}
    for route in site["handle"][0]["routes"]:
        paths = route.get("match", [{}])[0].get("path", ["*"])
        [inner] = route["handle"][0]["routes"]
        handler = inner["handle"][0]
        if handler["handler"] == "reverse_proxy":
            target = handler["upstreams"][0]["dial"]
        else:
            assert handler["handler"] == "static_response"
            target = str(handler["status_code"])
        for path in paths:
            upstreams[path] = target
    assert upstreams == {
        "/qbwc": "qbwc-gateway:8080",
        "/healthz": "qbwc-gateway:8080",
        "/webhooks/servicetitan/*": "st-ingest:8081",
        "*": "404",
    }


def test_every_built_image_runs_an_installed_console_entry() -> None:
    for name, service in _services().items():
        if "build" not in service:
            continue
        build = service["build"]
        dockerfile = ROOT / build["context"] / build["dockerfile"]
        assert dockerfile.exists(), dockerfile
        text = dockerfile.read_text()
        package = re.search(r"--package (\S+)", text)
        assert package, f"{dockerfile} does not install one package"
        pyproject = tomllib.loads((dockerfile.parent / "pyproject.toml").read_text())
        assert pyproject["project"]["name"] == package.group(1), name
        entry = _entry(dockerfile)
        assert entry in pyproject["project"]["scripts"], name
        assert shutil.which(entry, path=str(Path(sys.executable).parent)), entry
