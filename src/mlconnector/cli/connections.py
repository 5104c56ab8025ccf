"""The connections bucket as commands use it: open it, read one, check a new one, show one."""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from nats.js import JetStreamContext

from mlconnector.cli.output import fail
from mlconnector.cli.runtime import NoNatsError, connect_nats, nats_url
from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.streams import TOKEN_RE, declare_all

T = TypeVar("T")

# ServiceTitan tenant ids are int64 (the `tenant` path parameter of every endpoint in
# ServiceTitan's OpenAPI documents, e.g. tenant-accounting-v2.json, is
# {"type": "integer", "format": "int64"}).
INT64_MAX = 2**63 - 1
MIN_PASSWORD = 8


def with_store(action: Callable[[ConnectionStore], Awaitable[T]]) -> T:
    """Run `action` on the connections bucket of the running system.

    Exits 2 with what to do when no system is running or NATS does not answer.
    """
    try:
        url = nats_url()
    except NoNatsError as exc:
        fail(str(exc))

    async def run() -> T:
        nc = await connect_nats(url)
        if nc is None:
            fail(
                f"NATS does not answer at {url}: start `mlconnector up` in another terminal, "
                "or set NATS_URL to the running system's NATS server."
            )
        try:
            js: JetStreamContext = nc.jetstream()
            await declare_all(js)
            return await action(await ConnectionStore.open(js))
        finally:
            await nc.close()

    return asyncio.run(run())


def load_connection(name: str) -> Connection:
    """The stored connection `name`; exits 2 naming the command that lists them if there is none."""

    async def get(store: ConnectionStore) -> Connection | None:
        return await store.get(name)

    found = with_store(get)
    if found is None:
        fail(f"there is no connection named {name!r}: `mlconnector connection list` shows them.")
    return found


def check_name(name: str) -> None:
    """Exits 2 unless `name` can be a connection name (it becomes part of a NATS subject)."""
    if not TOKEN_RE.fullmatch(name):
        suggestion = "-".join(name.split()) or "acme"
        if not TOKEN_RE.fullmatch(suggestion):
            suggestion = "acme-plumbing"
        fail(
            f"the connection name {name!r} may only use letters, digits, '-' and '_' "
            f"(at most 64): try {suggestion!r}."
        )


def check_tenant(tenant: str) -> None:
    """Exits 2 unless `tenant` is a ServiceTitan tenant id: a positive int64 number."""
    if not (tenant.isascii() and tenant.isdigit() and 0 < int(tenant) <= INT64_MAX):
        fail(
            f"--tenant {tenant!r} is not a ServiceTitan tenant id: give the number ServiceTitan "
            "shows for your tenant (digits only, e.g. 1234567)."
        )


async def refusal(store: ConnectionStore, name: str, tenant: str, qbwc_user: str) -> str | None:
    """Why a new connection (`name`, `tenant`, `qbwc_user`) cannot be added, or None.

    One ServiceTitan tenant feeds one QuickBooks company. The mapper sends every event of a
    tenant to each of its connections (there is no per-connection filter), so a second one
    would post the tenant's records into a second company file too; and it would receive only
    the records that change after it is added (the mapper has already consumed the earlier
    events), so its invoices and payments would wait for customers and invoices it never gets:
    "pending" for ever.
    """
    if await store.get(name) is not None:
        return (
            f"a connection named {name!r} already exists: choose another name, or see it with "
            f"`mlconnector connection show {name}`."
        )
    for other in await store.all():
        if other.qbwc_username == qbwc_user:
            return (
                f"QBWC user {qbwc_user!r} already belongs to connection {other.name!r}: give "
                "this connection its own --qbwc-user."
            )
        if other.tenant == tenant:
            return (
                f"ServiceTitan tenant {tenant} is already synced by connection {other.name!r}; "
                "one tenant feeds one QuickBooks company, so remove that connection first "
                f"(`mlconnector connection remove {other.name}`) or check the tenant id."
            )
    return None


def read_password(from_stdin: bool) -> str:
    """The QBWC password, from stdin or asked twice at a prompt; exits 2 if unusable."""
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        import getpass

        password = getpass.getpass("QBWC password for this connection: ")
        if getpass.getpass("Again: ") != password:
            fail("the two passwords differ: run the command again and type the same one twice.")
    if len(password) < MIN_PASSWORD:
        fail(f"the QBWC password must be at least {MIN_PASSWORD} characters: choose a longer one.")
    return password


def public_fields(connection: Connection) -> dict[str, Any]:
    """The connection as JSON-ready fields, without its password hash."""
    return connection.model_dump(mode="json", exclude={"password_hash"})


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
