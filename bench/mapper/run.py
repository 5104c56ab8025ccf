"""Mapper throughput through a real nats-server, beside a bare nats-py loop on the same messages.

    uv run --frozen python -m bench.mapper [--events N] [--rounds R] [--batch-size B]
    make bench

It starts its own nats-server (EmbeddedNats: a free port, never 4222), declares the streams,
stores one connection and publishes N invoice events to ST_EVENTS: the sandbox's invoices as
ServiceTitan's export answers them (2-3 lines each), translated by st-ingest's own code, with
ids varied. Then, alternating, for each round:

- mapper: the real `MapperService` (the class `mlconnector-mapper` runs, FastStream subscriber
  and all, configured from the environment as that command is) on a fresh
  durable consumer of ST_EVENTS; events/s from its first consumed batch until its last batch
  is settled (every ack sent, each after JetStream confirmed the event's command), checked
  afterwards: all N commands in QB_COMMANDS, each event exactly one, no duplicate;
- bare: a plain nats-py loop on a fresh pull consumer of the same N messages: fetch a batch,
  then for each message `await js.publish(...)` of its data to a bench stream and `ack()`;
  events/s measured the same way (first fetched batch to last ack).

The machine is noisy: it prints every round, the medians and the per-round ratio. It prints
figures only; the one judgement is whether the goal (mapper >= 50% of the bare loop) is met.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import copy
import logging
import os
import platform
import statistics
import subprocess
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import nats
from nats.js import JetStreamContext, api
from nats.js.errors import NotFoundError

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command, StEvent
from mlconnector.common.natsserver import EmbeddedNats, nats_server_binary
from mlconnector.common.streams import (
    DUPLICATE_WINDOW_SECONDS,
    QB_COMMANDS,
    QB_OUTCOMES,
    ST_EVENTS,
    command_subject,
    declare_all,
    st_event_subject,
)
from mlconnector.ingest.translate import translate_invoice, version_of
from mlconnector.mapper.commands import map_event
from mlconnector.mapper.errors import MappingError
from mlconnector.mapper.service import MapperService
from mlconnector.mapper.settings import MapperSettings
from mlconnector.stsandbox.seed import INVOICES, invoice_json

TENANT = "4471020"
CONNECTION = "bench-qb"
BARE_STREAM = "BENCH_BARE"
BARE_SUBJECT = "bench.bare.out"
GOAL = 0.5


@dataclass(frozen=True)
class Round:
    kind: str  # "mapper" or "bare"
    number: int
    events: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.events / self.seconds


@dataclass
class Report:
    events: int
    event_bytes: int
    command_bytes: int
    batch_size: int
    rounds: list[Round] = field(default_factory=list)
    # From the last mapper round: commands per event id, and command ids seen more than once.
    commands_per_event: Counter[str] = field(default_factory=Counter)
    duplicate_command_ids: list[str] = field(default_factory=list)
    published_event_ids: list[str] = field(default_factory=list)

    def rates(self, kind: str) -> list[float]:
        return [r.rate for r in self.rounds if r.kind == kind]

    def ratios(self) -> list[float]:
        mapper = {r.number: r.rate for r in self.rounds if r.kind == "mapper"}
        bare = {r.number: r.rate for r in self.rounds if r.kind == "bare"}
        return [mapper[n] / bare[n] for n in sorted(mapper) if n in bare]


def bench_connection() -> Connection:
    return Connection(
        name=CONNECTION,
        tenant=TENANT,
        qbwc_username="bench",
        password_hash="bench-not-a-real-hash",
    )


def invoice_events(n: int) -> list[StEvent]:
    """N posted invoices as st-ingest publishes them, cycling through the sandbox's day
    (the demo invoice 5001 and its siblings, 2-3 lines each), every one with its own id."""
    connection = bench_connection()
    templates: list[dict[str, Any]] = []
    for spec in INVOICES:
        raw = invoice_json(spec)
        if raw.get("syncStatus") != "Posted":
            continue
        try:
            record = translate_invoice(raw)
            map_event(_event(raw, record.st_id), connection)
        except (MappingError, ValueError):
            continue
        templates.append(raw)
    if not templates:
        raise RuntimeError("no sandbox invoice maps cleanly; the bench has nothing to send")
    events = []
    for i in range(n):
        raw = copy.deepcopy(templates[i % len(templates)])
        st_id = 900_000 + i
        raw["id"] = st_id
        raw["referenceNumber"] = str(st_id)
        events.append(_event(raw, st_id))
    return events


def _event(raw: dict[str, Any], st_id: int) -> StEvent:
    return StEvent(
        tenant=TENANT,
        entity="invoice",
        st_id=st_id,
        version=version_of(raw),
        source="export",
        record=translate_invoice(raw),
        raw=raw,
    )


async def publish_events(js: JetStreamContext, events: Sequence[StEvent]) -> None:
    chunk = 500
    for start in range(0, len(events), chunk):
        await asyncio.gather(
            *(
                js.publish(
                    st_event_subject(event.tenant, event.entity),
                    event.model_dump_json().encode(),
                    headers={"Nats-Msg-Id": event.event_id},
                )
                for event in events[start : start + chunk]
            )
        )


async def _recreate_stream(js: JetStreamContext, name: str, subjects: list[str]) -> None:
    with contextlib.suppress(NotFoundError):
        await js.delete_stream(name)
    await js.add_stream(
        api.StreamConfig(
            name=name,
            subjects=subjects,
            retention=api.RetentionPolicy.LIMITS,
            storage=api.StorageType.FILE,
            discard=api.DiscardPolicy.OLD,
            duplicate_window=DUPLICATE_WINDOW_SECONDS,
        )
    )


async def _fresh_output_streams(js: JetStreamContext) -> None:
    """Empty QB_COMMANDS/QB_OUTCOMES (and their de-duplication windows): every round
    publishes the same command ids, which must be stored, not dropped as duplicates."""
    for stream in (QB_COMMANDS, QB_OUTCOMES):
        with contextlib.suppress(NotFoundError):
            await js.delete_stream(stream.name)
    await declare_all(js)


async def _wait_for(what: str, check: Callable[[], Awaitable[bool]], within: float) -> None:
    deadline = time.monotonic() + within
    while not await check():
        if time.monotonic() > deadline:
            raise RuntimeError(f"timed out waiting for {what}")
        await asyncio.sleep(0.01)


async def _consumer_idle(js: JetStreamContext, durable: str) -> bool:
    info = await js.consumer_info(ST_EVENTS.name, durable)
    return bool(info.num_pending == 0 and info.num_ack_pending == 0)


async def _stream_count(js: JetStreamContext, stream: str) -> int:
    return int((await js.stream_info(stream)).state.messages or 0)


def mapper_settings(url: str, durable: str, batch_size: int) -> MapperSettings:
    """What `mlconnector-mapper` reads from the environment (MAPPER_*, OTEL_...),
    with the bench's server, a durable of its own and the batch size under test."""
    return MapperSettings(
        NATS_URL=url, MAPPER_DURABLE=durable, MAPPER_BATCH_SIZE=batch_size, LOG_LEVEL="WARNING"
    )


async def mapper_round(
    url: str, js: JetStreamContext, n: int, number: int, batch_size: int
) -> tuple[Round, list[Command]]:
    await _fresh_output_streams(js)
    durable = f"bench-mapper-{number}"
    service = MapperService(mapper_settings(url, durable, batch_size))
    await service.start()
    try:

        async def settled() -> bool:
            return service.stats.acked >= n

        await _wait_for("the mapper to settle every event", settled, 60 + n / 50)
        await _wait_for(
            "every command in QB_COMMANDS",
            lambda: _count_is(js, QB_COMMANDS.name, n),
            30,
        )
        await _wait_for("the mapper's consumer to be idle", lambda: _consumer_idle(js, durable), 30)
    finally:
        await service.stop()
    await js.delete_consumer(ST_EVENTS.name, durable)
    stats = service.stats
    if stats.first_batch_at is None or stats.last_settled_at is None:
        raise RuntimeError("the mapper consumed nothing")
    if stats.acked != n or stats.naked or stats.terminated:
        raise RuntimeError(f"the mapper did not ack each event exactly once: {stats}")
    seconds = stats.last_settled_at - stats.first_batch_at
    return Round("mapper", number, n, seconds), await read_commands(js, n)


async def _count_is(js: JetStreamContext, stream: str, n: int) -> bool:
    return await _stream_count(js, stream) >= n


async def bare_round(url: str, n: int, number: int, batch_size: int) -> Round:
    """The reference: consume -> publish -> ack with nothing in between."""
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await _recreate_stream(js, BARE_STREAM, [BARE_SUBJECT])
        durable = f"bench-bare-{number}"
        sub = await js.pull_subscribe(
            "st.events.>",
            durable=durable,
            stream=ST_EVENTS.name,
            config=api.ConsumerConfig(
                deliver_policy=api.DeliverPolicy.ALL,
                ack_policy=api.AckPolicy.EXPLICIT,
                ack_wait=60,
                max_ack_pending=max(1000, batch_size * 4),
            ),
        )
        first: float | None = None
        done = 0
        deadline = time.monotonic() + 60 + n / 50
        while done < n:
            if time.monotonic() > deadline:
                raise RuntimeError("timed out in the bare loop")
            try:
                msgs = await sub.fetch(batch_size, timeout=1)
            except TimeoutError:
                continue
            if first is None:
                first = time.perf_counter()
            for msg in msgs:
                msg_id = (msg.headers or {}).get("Nats-Msg-Id", "")
                await js.publish(BARE_SUBJECT, msg.data, headers={"Nats-Msg-Id": msg_id})
                await msg.ack()
                done += 1
        end = time.perf_counter()
        await nc.flush()
        await _wait_for("the bare consumer to be idle", lambda: _consumer_idle(js, durable), 30)
        if await _stream_count(js, BARE_STREAM) != n:
            raise RuntimeError("the bare loop did not store one message per event")
        await sub.unsubscribe()
        await js.delete_consumer(ST_EVENTS.name, durable)
        await js.delete_stream(BARE_STREAM)
    finally:
        await nc.close()
    assert first is not None
    return Round("bare", number, n, end - first)


async def read_commands(js: JetStreamContext, expected: int) -> list[Command]:
    """Every message in QB_COMMANDS (read with an ack-none consumer, outside the timing)."""
    count = await _stream_count(js, QB_COMMANDS.name)
    sub = await js.pull_subscribe(
        command_subject(CONNECTION),
        stream=QB_COMMANDS.name,
        config=api.ConsumerConfig(
            deliver_policy=api.DeliverPolicy.ALL, ack_policy=api.AckPolicy.NONE
        ),
    )
    out: list[Command] = []
    try:
        while len(out) < count:
            msgs = await sub.fetch(min(1000, count - len(out)), timeout=5)
            out.extend(Command.model_validate_json(m.data) for m in msgs)
    finally:
        await sub.unsubscribe()
    return out


async def bench(url: str, n: int, rounds: int, batch_size: int) -> Report:
    """Everything except the server: the smoke test runs this against its own server."""
    events = invoice_events(n)
    connection = bench_connection()
    sample_commands = map_event(events[0], connection)
    report = Report(
        events=n,
        event_bytes=round(statistics.mean(len(e.model_dump_json()) for e in events[:50])),
        command_bytes=round(statistics.mean(len(c.model_dump_json()) for c in sample_commands)),
        batch_size=batch_size,
        published_event_ids=[e.event_id for e in events],
    )
    nc = await nats.connect(url)
    try:
        js = nc.jetstream()
        await declare_all(js)
        await (await ConnectionStore.open(js)).put(connection)
        await publish_events(js, events)
        if await _stream_count(js, ST_EVENTS.name) != n:
            raise RuntimeError("ST_EVENTS does not hold exactly the published events")
        settings = mapper_settings(url, "-", batch_size)
        tracing = settings.otel_exporter_otlp_endpoint or "off (no OTEL_EXPORTER_OTLP_ENDPOINT)"
        print(
            f"  N = {n} invoice events of ~{report.event_bytes} bytes"
            f" (their commands ~{report.command_bytes} bytes); pull batch {batch_size};"
            f" {rounds} rounds each, alternated\n"
            f"  mapper: MAPPER_PIPELINE={str(settings.pipeline).lower()},"
            f" MAPPER_BATCHES_IN_FLIGHT={settings.batches_in_flight}; tracing {tracing}\n"
            f"  load average at start: {_load()}",
            flush=True,
        )
        for number in range(1, rounds + 1):
            # Alternate which goes first, so drift on a noisy machine hits both alike.
            order = ("mapper", "bare") if number % 2 else ("bare", "mapper")
            for kind in order:
                if kind == "mapper":
                    result, commands = await mapper_round(url, js, n, number, batch_size)
                    report.commands_per_event = Counter(c.event_id for c in commands)
                    ids = Counter(c.command_id for c in commands)
                    report.duplicate_command_ids = [i for i, k in ids.items() if k > 1]
                else:
                    result = await bare_round(url, n, number, batch_size)
                report.rounds.append(result)
                _print_round(result)
    finally:
        await nc.close()
    return report


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "unknown"


def _print_round(r: Round) -> None:
    print(
        f"  round {r.number}  {r.kind:<6}  {r.events} events in {r.seconds:6.3f} s"
        f"  = {r.rate:8.0f} events/s",
        flush=True,
    )


def print_summary(report: Report) -> None:
    mapper, bare, ratios = report.rates("mapper"), report.rates("bare"), report.ratios()
    wrong = [
        e for e in report.published_event_ids if report.commands_per_event.get(e, 0) != 1
    ] + report.duplicate_command_ids
    median_ratio = statistics.median(ratios)
    print()
    print(f"mapper  median {statistics.median(mapper):8.0f} events/s   rounds: {_fmt(mapper)}")
    print(f"bare    median {statistics.median(bare):8.0f} events/s   rounds: {_fmt(bare)}")
    print(
        f"ratio   median {median_ratio:8.2f}            rounds: "
        + "  ".join(f"{r:.2f}" for r in ratios)
    )
    print(
        "commands: "
        + (
            "every event produced exactly one command, no duplicates"
            if not wrong
            else f"{len(wrong)} events/command ids wrong (missing or duplicated)"
        )
    )
    verdict = "met" if median_ratio >= GOAL else "NOT met"
    print(f"load average at end: {_load()} ({os.cpu_count()} cpus)")
    print(f"goal: mapper >= {GOAL:.0%} of the bare loop: {verdict} ({median_ratio:.0%})")


def _fmt(rates: list[float]) -> str:
    return "  ".join(f"{r:.0f}" for r in rates)


def _server_version() -> str:
    try:
        out = subprocess.run(
            [nats_server_binary(), "--version"], capture_output=True, text=True, timeout=10
        )
    except (OSError, subprocess.SubprocessError, RuntimeError):
        return "unknown"
    return out.stdout.strip() or out.stderr.strip()


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.mapper", description=(__doc__ or "").split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=10_000, help="N events (default 10000)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of each (default 3)")
    parser.add_argument(
        "--batch-size",
        type=int,
        default=MapperSettings.model_fields["batch_size"].default,
        help="pull batch of the mapper and the bare loop (default: the mapper's default)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    # FastStream logs "callback for Task-N is being executed..." at INFO when a subscriber
    # stops (once a round); figures only here.
    logging.getLogger("faststream.access.nats").addFilter(
        lambda record: not record.getMessage().startswith("callback for")
    )
    with EmbeddedNats() as server:
        print("bench/mapper: ST_EVENTS -> mapper -> QB_COMMANDS vs a bare nats-py loop")
        print(
            f"  {_server_version()} at {server.url} (JetStream, file storage);"
            f" python {platform.python_version()}; {os.cpu_count()} cpus"
        )
        report = asyncio.run(bench(server.url, args.events, args.rounds, args.batch_size))
        print_summary(report)


if __name__ == "__main__":
    main()
