"""The QBWC gateway under N concurrent Web Connectors, beside a bare FastAPI echo endpoint.

    uv run --frozen python -m bench.gateway [--sizes 50,200,500] [--qb-ms 20] [--commands 1]
                                            [--gateway-cmd PATH]
    make bench

For each N it starts a fresh nats-server (EmbeddedNats: a free port, never 4222) and one
gateway process from its console entry (`mlconnector-qbwc-gateway`, or --gateway-cmd, e.g.
another checkout's, to measure that code), stores N connections and, per pass, queues
--commands customer commands for each. Then N simulated Web Connectors run one session each,
all at once: authenticate -> sendRequestXML -> (QuickBooks) -> receiveResponseXML -> ... ->
closeConnection. QuickBooks is the project's simulator (sims/quickbooks, one company file per
connection) answering after --qb-ms of simulated QuickBooks time per request. Two passes per N:
"first poll" (the gateway has never verified these passwords) and "next poll" (the Web
Connectors' next scheduled run).

The load is httpx with hand-built envelopes (soapenv.py; a test checks they are byte for byte
what zeep builds from the WSDL): zeep would be the bottleneck at 500 clients.

Printed per N and pass, all measured in this run: SOAP call latency p50/p99 (all calls, and per
operation), errors (HTTP errors, faults, unexpected answers, sessions unfinished at the
deadline), gateway RSS (peak of /proc/<pid>/status VmRSS sampled every 50 ms), gateway CPU
(/proc/<pid>/stat utime+stime) per command and as a share of the sessions' wall time, and NATS
messages the server received per command (/varz in_msgs: every request, publish and ack is
one; the load generator holds no NATS connection during the load, so they are all the
gateway's). Then the same N clients against a bare FastAPI echo endpoint (echo.py, its own
uvicorn process) making the same four calls: the latency baseline, printed as a ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import platform
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import nats
from lxml import etree

from bench.gateway.soapenv import envelope, headers
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command
from mlconnector.common.natsserver import EmbeddedNats
from mlconnector.common.streams import command_subject, declare_all
from mlconnector.qbsim.company import Company
from mlconnector.qbsim.processor import QbxmlProcessor

COMPANY_FILE = r"C:\Users\Public\Documents\Intuit\QuickBooks\Company Files\Bench.qbw"
PASS_DEADLINE_SECONDS = 180.0
CLK_TCK = os.sysconf("SC_CLK_TCK")
# Each simulated Web Connector has its own HTTP client and connection, as each is its own
# machine (one shared httpx pool serialises hundreds of connections behind its lock); they
# share one TLS context because building one per client costs more than the session.
_TLS = ssl.create_default_context()


def web_connector_client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        verify=_TLS,
        limits=httpx.Limits(max_connections=1),
        timeout=httpx.Timeout(PASS_DEADLINE_SECONDS),
    )


def describe(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:120]


@dataclass
class Load:
    """What one pass of N sessions measured."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    session_walls: list[float] = field(default_factory=list)
    commands: int = 0
    wall: float = 0.0

    def all_latencies(self) -> list[float]:
        return [x for values in self.latencies.values() for x in values]


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_healthy(
    url: str, process: subprocess.Popen[bytes], log: Path, timeout: float = 60
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{url} exited at start; see {log}")
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer; see {log}")


@contextlib.contextmanager
def child(argv: list[str], env: dict[str, str], health: str, log: Path) -> Iterator[int]:
    with log.open("wb") as out:
        process = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        wait_healthy(health, process, log)
        yield process.pid
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLK_TCK  # utime, stime


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def in_msgs(monitor_url: str) -> int:
    with urllib.request.urlopen(f"{monitor_url}/varz", timeout=5) as response:
        return int(json.load(response)["in_msgs"])


class SimQuickBooks:
    """One simulated company file per connection, taking `qb_seconds` per request."""

    def __init__(self, qb_seconds: float) -> None:
        self._qb_seconds = qb_seconds
        self._processors: dict[str, QbxmlProcessor] = {}

    async def process(self, connection: str, request_xml: str) -> str:
        processor = self._processors.setdefault(connection, QbxmlProcessor(Company()))
        requests = request_xml.count("requestID=")
        await asyncio.sleep(self._qb_seconds * max(1, requests))
        return processor.process(request_xml)


def result_of(operation: str, body: bytes) -> list[str] | str:
    root = etree.fromstring(body)
    node = root.find(f".//{{http://developer.intuit.com/}}{operation}Result")
    if node is None:
        fault = root.findtext(".//faultstring") or "no result"
        raise RuntimeError(f"{operation}: {fault}")
    strings = node.findall("{http://developer.intuit.com/}string")
    if strings:
        return [s.text or "" for s in strings]
    return node.text or ""


async def call(
    client: httpx.AsyncClient, url: str, load: Load, operation: str, *args: str | int
) -> list[str] | str:
    started = time.perf_counter()
    response = await client.post(
        url, content=envelope(operation, *args), headers=headers(operation)
    )
    load.latencies[operation].append(time.perf_counter() - started)
    if response.status_code != 200:
        raise RuntimeError(f"{operation}: HTTP {response.status_code}")
    return result_of(operation, response.content)


async def web_connector(
    delay: float,
    url: str,
    load: Load,
    qb: SimQuickBooks,
    connection: str,
    password: str,
    expected_commands: int,
) -> None:
    """One scheduled update of one Web Connector, as QBWC runs it, `delay` seconds after the
    pass starts."""
    await asyncio.sleep(delay)
    async with web_connector_client() as client:
        await _session(client, url, load, qb, connection, password, expected_commands)


async def _session(
    client: httpx.AsyncClient,
    url: str,
    load: Load,
    qb: SimQuickBooks,
    connection: str,
    password: str,
    expected_commands: int,
) -> None:
    started = time.perf_counter()
    auth = await call(client, url, load, "authenticate", f"{connection}-user", password)
    assert isinstance(auth, list)
    ticket, verdict = auth[0], auth[1]
    if not ticket or verdict in ("nvu", "busy", "none"):
        raise RuntimeError(f"authenticate answered {verdict!r}")
    sent = 0
    for _ in range(20):
        request = await call(
            client, url, load, "sendRequestXML", ticket, "", COMPANY_FILE, "US", 13, 0
        )
        assert isinstance(request, str)
        if not request:
            break
        sent += request.count("requestID=")
        response = await qb.process(connection, request)
        answer = await call(client, url, load, "receiveResponseXML", ticket, response, "", "")
        assert isinstance(answer, str)
        percent = int(answer)
        if percent < 0 or percent >= 100:
            break
    await call(client, url, load, "closeConnection", ticket)
    load.session_walls.append(time.perf_counter() - started)
    if sent < expected_commands:
        raise RuntimeError(f"{connection}: {sent} requests sent, {expected_commands} queued")


async def run_pass(
    url: str, sessions: list[tuple[str, str]], qb: SimQuickBooks, commands: int, ramp: float
) -> Load:
    """Every session once; session i starts at i * ramp / N seconds (ramp 0: all at once)."""
    load = Load(commands=len(sessions) * commands)
    n = len(sessions)
    tasks = [
        asyncio.create_task(web_connector(i * ramp / n, url, load, qb, name, pw, commands))
        for i, (name, pw) in enumerate(sessions)
    ]
    started = time.perf_counter()
    done, pending = await asyncio.wait(tasks, timeout=PASS_DEADLINE_SECONDS + ramp)
    load.wall = time.perf_counter() - started
    for task in pending:
        task.cancel()
        load.errors.append("unfinished at the deadline")
    for task in done:
        exc = task.exception()
        if exc is not None:
            load.errors.append(describe(exc))
    await asyncio.gather(*pending, return_exceptions=True)
    return load


async def run_echo(url: str, n: int, ramp: float) -> Load:
    """The same N clients, on the same schedule, making the same four calls against the echo
    endpoint."""
    load = Load()

    async def one(i: int) -> None:
        await asyncio.sleep(i * ramp / n)
        async with web_connector_client() as client:
            for operation, args in (
                ("authenticate", (f"c{i}-user", "pw")),
                ("sendRequestXML", ("t", "", COMPANY_FILE, "US", 13, 0)),
                ("receiveResponseXML", ("t", "<QBXML/>", "", "")),
                ("closeConnection", ("t",)),
            ):
                started = time.perf_counter()
                try:
                    response = await client.post(
                        url, content=envelope(operation, *args), headers=headers(operation)
                    )
                except httpx.HTTPError as exc:
                    load.errors.append(describe(exc))
                    return
                load.latencies[operation].append(time.perf_counter() - started)
                if response.status_code != 200:
                    load.errors.append(f"HTTP {response.status_code}")

    await asyncio.gather(*(one(i) for i in range(n)))
    return load


def customer_command(connection: str, st_id: int, name: str) -> Command:
    event_id = f"tenant-{connection}:customer:{st_id}:v1"
    return Command(
        command_id=Command.make_id(connection, event_id, "CustomerAddRq"),
        connection=connection,
        tenant=f"tenant-{connection}",
        entity="customer",
        st_id=st_id,
        event_id=event_id,
        request_type="CustomerAddRq",
        qbxml=f"<CustomerAddRq><CustomerAdd><Name>{name}</Name></CustomerAdd></CustomerAddRq>",
        lookup_qbxml=f"<CustomerQueryRq><FullName>{name}</FullName></CustomerQueryRq>",
        summary=f"Customer {name}",
    )


async def prepare(nats_url: str, connections: list[Connection]) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        await declare_all(js)
        store = await ConnectionStore.open(js)
        for connection in connections:
            await store.put(connection)
    finally:
        await nc.close()


async def queue_commands(nats_url: str, names: list[str], per_connection: int, tag: str) -> None:
    nc = await nats.connect(nats_url)
    try:
        js = nc.jetstream()
        acks = []
        for name in names:
            for k in range(per_connection):
                st_id = 1000 * (k + 1) + hash(tag) % 997
                command = customer_command(name, st_id, f"{tag} {name} {k}")
                acks.append(
                    js.publish(
                        command_subject(name),
                        command.model_dump_json().encode(),
                        headers={"Nats-Msg-Id": command.command_id},
                    )
                )
        await asyncio.gather(*acks)
    finally:
        await nc.close()


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def report(
    n: int, label: str, load: Load, echo: Load, cpu: float, rss: float, msgs: int, qb_ms: float
) -> None:
    every = load.all_latencies()
    p50, p99 = percentile(every, 0.5), percentile(every, 0.99)
    echo_all = echo.all_latencies()
    echo_p50, echo_p99 = percentile(echo_all, 0.5), percentile(echo_all, 0.99)
    finished = len(load.session_walls)
    print(
        f"  {label}: sessions {finished}/{n}, SOAP calls {len(every)}, errors {len(load.errors)}"
        f" (pass wall {load.wall:.1f} s)"
    )
    print(
        f"    latency all calls: p50 {ms(p50)}, p99 {ms(p99)}; echo on the same schedule "
        f"p50 {ms(echo_p50)}, p99 {ms(echo_p99)}; ratio p50 {p50 / echo_p50:.1f}x, "
        f"p99 {p99 / echo_p99:.1f}x"
    )
    for operation, values in load.latencies.items():
        print(
            f"      {operation:<19} n={len(values):<5} p50 {ms(percentile(values, 0.5)):>10}"
            f"  p99 {ms(percentile(values, 0.99)):>10}"
        )
    sessions = max(1, n)
    per_session = cpu / sessions
    qb_per_session = qb_ms / 1000 * load.commands / sessions
    # The share of a session's wall time the gateway accounts for when nothing queues:
    # its CPU for the session over (that CPU + QuickBooks' time for the session's requests).
    share = per_session / (per_session + qb_per_session) if qb_per_session else float("nan")
    print(
        f"    gateway RSS peak {rss:.0f} MB; CPU {cpu:.2f} s = {ms(per_session)} per session, "
        f"{ms(cpu / max(1, len(every)))} per SOAP call, {ms(cpu / max(1, load.commands))} per "
        f"command; {100 * share:.1f}% of a session's wall time at {qb_ms:.0f} ms of QuickBooks "
        "time per request"
    )
    print(
        f"    NATS messages from the gateway: {msgs}, {msgs / max(1, load.commands):.1f} per "
        f"command, {msgs / max(1, len(every)):.1f} per SOAP call"
    )
    if load.errors:
        counts: dict[str, int] = defaultdict(int)
        for error in load.errors:
            counts[error] += 1
        for error, count in sorted(counts.items(), key=lambda kv: -kv[1])[:5]:
            print(f"      {count} x {error}")


async def sample_rss(pid: int, peak: list[float], stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError, ValueError):
            peak[0] = max(peak[0], rss_mb(pid))
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


async def measured(
    pid: int, monitor_url: str, coro_factory: object
) -> tuple[Load, float, float, int]:
    peak = [rss_mb(pid)]
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample_rss(pid, peak, stop))
    msgs_before, cpu_before = in_msgs(monitor_url), cpu_seconds(pid)
    load: Load = await coro_factory()  # type: ignore[operator]
    cpu = cpu_seconds(pid) - cpu_before
    msgs = in_msgs(monitor_url) - msgs_before
    stop.set()
    await sampler
    return load, cpu, peak[0], msgs


def gateway_command(arg: str | None) -> list[str]:
    if arg:
        return [arg]
    beside = Path(sys.executable).parent / "mlconnector-qbwc-gateway"
    found = str(beside) if beside.exists() else shutil.which("mlconnector-qbwc-gateway")
    if not found:
        raise SystemExit("mlconnector-qbwc-gateway not found: run `make setup` first")
    return [found]


async def bench_size(
    n: int, connections: list[Connection], args: argparse.Namespace, workdir: Path
) -> None:
    names = [c.name for c in connections[:n]]
    passwords = {c.name: f"pw-{c.name}" for c in connections[:n]}
    with EmbeddedNats(store_dir=workdir / f"nats-{n}") as server:
        await prepare(server.url, connections[:n])
        port = free_port()
        url = f"http://127.0.0.1:{port}/qbwc"
        env = {
            **os.environ,
            "NATS_URL": server.url,
            "QBWC_HOST": "127.0.0.1",
            "QBWC_PORT": str(port),
            "QBWC_PUBLIC_URL": url,
            "LOG_LEVEL": "WARNING",
        }
        health = f"http://127.0.0.1:{port}/healthz"
        qb = SimQuickBooks(args.qb_ms / 1000)
        print(f"\nN = {n} Web Connectors ({n} connections, {args.commands} command(s) each)")
        # (label, ramp): all N start at once (every schedule aligned to the second), then the
        # next poll both at once and spread over --ramp seconds (schedules that coincide
        # within that window).
        passes = [
            ("first poll, all at once", 0.0),
            ("next poll, all at once", 0.0),
            (f"next poll, spread over {args.ramp:.0f} s", args.ramp),
        ]
        results = []
        with child(gateway_command(args.gateway_cmd), env, health, workdir / f"gw-{n}.log") as pid:
            for label, ramp in passes:
                await queue_commands(server.url, names, args.commands, f"{label} {n}")
                sessions = [(name, passwords[name]) for name in names]
                measure = await measured(
                    pid,
                    server.monitor_url,
                    lambda s=sessions, r=ramp: run_pass(url, s, qb, args.commands, r),
                )
                results.append((label, ramp, measure))
        echo_port = free_port()
        echoes: dict[float, Load] = {}
        with child(
            [sys.executable, "-m", "bench.gateway.echo", str(echo_port)],
            dict(os.environ),
            f"http://127.0.0.1:{echo_port}/healthz",
            workdir / f"echo-{n}.log",
        ):
            for ramp in sorted({ramp for _, ramp in passes}):
                echoes[ramp] = await run_echo(f"http://127.0.0.1:{echo_port}/qbwc", n, ramp)
        for label, ramp, (load, cpu, rss, msgs) in results:
            report(n, label, load, echoes[ramp], cpu, rss, msgs, args.qb_ms)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", default="50,200,500")
    parser.add_argument("--qb-ms", type=float, default=20.0, help="QuickBooks time per request")
    parser.add_argument("--commands", type=int, default=1, help="commands per connection")
    parser.add_argument("--gateway-cmd", default=None, help="gateway executable to measure")
    parser.add_argument(
        "--ramp", type=float, default=20.0, help="seconds the spread pass starts sessions over"
    )
    args = parser.parse_args()
    sizes = [int(x) for x in args.sizes.split(",")]
    print(
        f"bench.gateway on {platform.python_implementation()} {platform.python_version()}, "
        f"{os.cpu_count()} cores; QuickBooks {args.qb_ms:.0f} ms per request; gateway "
        f"{gateway_command(args.gateway_cmd)[0]}"
    )
    started = time.perf_counter()
    # One argon2 hash per connection, made once (the gateway verifies them; the CLI makes them).
    connections = [
        Connection.create(f"c{i:04d}", f"tenant-c{i:04d}", f"c{i:04d}-user", f"pw-c{i:04d}")
        for i in range(max(sizes))
    ]
    print(f"{len(connections)} connections hashed in {time.perf_counter() - started:.1f} s")
    workdir = Path(tempfile.mkdtemp(prefix="mlc-bench-gw-"))
    try:
        for n in sizes:
            asyncio.run(bench_size(n, connections, args, workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
