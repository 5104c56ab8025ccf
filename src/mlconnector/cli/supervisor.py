"""Start a set of child processes, watch them, and stop all of them, whatever happens."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from mlconnector.common.processes import die_with_parent


def console_script(name: str) -> str:
    """A console entry installed beside this interpreter (the workspace venv)."""
    candidate = Path(sys.executable).parent / name
    if not candidate.exists():
        raise FileNotFoundError(f"{name} is not installed in {candidate.parent}; run `uv sync`")
    return str(candidate)


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    log_path: Path
    # What stops it: the services finish what they hold on SIGTERM; the simulated Web
    # Connector ends its cycle loop cleanly on SIGINT (as on a terminal's Ctrl-C).
    stop_signal: int = signal.SIGTERM
    # Longer than st-ingest's grace for a poll in progress (10 s) before it is killed.
    stop_timeout: float = 15.0
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.process = subprocess.Popen(
            self.argv,
            env={**os.environ, **self.env},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            # Own session: a terminal Ctrl-C reaches only us, and we stop the children in
            # order (the Web Connector first, the broker last).
            start_new_session=True,
            preexec_fn=die_with_parent,
        )
        log.close()

    def exited(self) -> int | None:
        return None if self.process is None else self.process.poll()

    def stop(self) -> None:
        """Signal it (`stop_signal`) and wait for it to finish; kill it after `stop_timeout`."""
        if self.process is None or self.process.poll() is not None:
            return
        try:
            os.killpg(self.process.pid, self.stop_signal)
        except ProcessLookupError:
            return
        try:
            self.process.wait(timeout=self.stop_timeout)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()


class Supervisor:
    def __init__(self) -> None:
        self.children: list[Child] = []
        self._stopping = False

    def start(self, child: Child) -> Child:
        child.start()
        self.children.append(child)
        return child

    def watch(self, poll_seconds: float = 0.5) -> str | None:
        """Block until a stop signal (returns None) or a child dies (returns its name)."""

        def _request_stop(signum: int, frame: object) -> None:
            self._stopping = True

        signal.signal(signal.SIGINT, _request_stop)
        signal.signal(signal.SIGTERM, _request_stop)
        while not self._stopping:
            for child in self.children:
                if child.exited() is not None:
                    return child.name
            time.sleep(poll_seconds)
        return None

    def stop_all(self) -> None:
        for child in reversed(self.children):
            child.stop()
