"""`mlconnector connection ...`: pair a ServiceTitan tenant with a QuickBooks company."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import TypeVar

import nats
from nats.js import JetStreamContext

from mlconnector.cli.runtime import nats_url
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.streams import declare_all

T = TypeVar("T")


def with_store(action: Callable[[ConnectionStore], Awaitable[T]]) -> T:
    async def run() -> T:
        nc = await nats.connect(nats_url(), connect_timeout=5, max_reconnect_attempts=0)
        try:
            js: JetStreamContext = nc.jetstream()
            await declare_all(js)
            return await action(await ConnectionStore.open(js))
        finally:
            await nc.close()

    return asyncio.run(run())


def read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("QBWC password for this connection: ")
        if getpass.getpass("Again: ") != password:
            raise ValueError("the two passwords differ")
    if len(password) < 8:
        raise ValueError("the QBWC password must be at least 8 characters")
    return password


def describe(connection: Connection) -> str:
    mapping = connection.mapping.to_yaml_text().rstrip("\n").splitlines()
    lines = [
        f"name:           {connection.name}",
        f"tenant:         {connection.tenant}",
        f"qbwc user:      {connection.qbwc_username}",
        f"company file:   {connection.company_file or '(the one open in QuickBooks)'}",
        f"owner id:       {connection.owner_id}",
        f"file id:        {connection.file_id}",
        f"created:        {connection.created_at.isoformat()}",
        "mapping:",
        *(f"  {line}" for line in mapping),
    ]
    return "\n".join(lines)
