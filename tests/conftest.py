"""Cross-service fixtures: free ports and services run from their console entries."""

from __future__ import annotations

import socket
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from mlconnector.cli.supervisor import Child, console_script


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for(url: str, child: Child | None = None, timeout: float = 60.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if child is not None and child.exited() is not None:
            log = child.log_path.read_text(errors="replace")[-3000:]
            pytest.fail(f"{child.name} exited with {child.exited()}:\n{log}")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.1)
    pytest.fail(f"{url} did not answer within {timeout}s")


StartService = Callable[[str, str, dict[str, str], str | None], Child]


@pytest.fixture
def start_service(tmp_path: Path) -> Iterator[StartService]:
    """Start a console entry as its own process; every one is stopped at the end of the test."""
    started: list[Child] = []

    def start(name: str, script: str, env: dict[str, str], health_url: str | None) -> Child:
        child = Child(name, [console_script(script)], env, tmp_path / "logs" / f"{name}.log")
        child.start()
        started.append(child)
        if health_url:
            wait_for(health_url, child)
        return child

    yield start
    for child in reversed(started):
        child.stop()
