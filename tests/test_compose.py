"""docker-compose.yml is the production shape; no Docker engine runs here, so check what we can:
the files parse, every built service has a Dockerfile whose command is an installed console entry.
"""

from __future__ import annotations

import re
import shutil
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SERVICES = {"st-ingest", "mapper", "qbwc-gateway", "audit"}


def _compose() -> dict:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def test_compose_runs_nats_jaeger_postgres_and_the_four_services() -> None:
    services = _compose()["services"]
    assert set(services) == {"nats", "jaeger", "postgres"} | SERVICES
    assert "-js" in services["nats"]["command"]
    assert any(v.endswith(":/data") for v in services["nats"]["volumes"])
    assert "8222:8222" in services["nats"]["ports"]
    assert {"16686:16686", "4317:4317", "4318:4318"} <= set(services["jaeger"]["ports"])
    assert services["audit"]["environment"]["AUDIT_DATABASE_URL"].startswith("postgresql://")


def test_every_service_has_its_otel_name_and_no_secret_in_the_file() -> None:
    text = (ROOT / "docker-compose.yml").read_text()
    for name in SERVICES:
        env = _compose()["services"][name]["environment"]
        assert env["OTEL_SERVICE_NAME"] == name
        assert env["NATS_URL"] == "nats://nats:4222"
    for secret in ("ST_CLIENT_SECRET", "POSTGRES_PASSWORD"):
        assert re.search(rf"{secret}: \$\{{", text), f"{secret} must come from the environment"


def test_every_built_service_has_a_dockerfile_running_an_installed_console_entry() -> None:
    for name in SERVICES:
        build = _compose()["services"][name]["build"]
        dockerfile = ROOT / build["context"] / build["dockerfile"]
        assert dockerfile.exists(), dockerfile
        text = dockerfile.read_text()
        command = re.search(r'CMD \["([^"]+)"\]', text)
        assert command, f"{dockerfile} has no CMD"
        package = re.search(r"--package (\S+)", text)
        assert package, f"{dockerfile} does not install one package"
        pyproject = tomllib.loads((dockerfile.parent / "pyproject.toml").read_text())
        assert pyproject["project"]["name"] == package.group(1)
        assert command.group(1) in pyproject["project"]["scripts"]
        assert shutil.which(command.group(1), path=str(Path(sys.executable).parent))
