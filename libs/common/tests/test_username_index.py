"""The QBWC user-name index: one key read per authenticate, correct through add, remove,
a change of user name, a stale entry and a store written before the index existed."""

from __future__ import annotations

import pytest
from nats.js import JetStreamContext
from nats.js.errors import KeyNotFoundError

from mlconnector.common.connections import Connection, ConnectionStore, username_key
from mlconnector.common.streams import KV_CONNECTIONS, KV_QBWC_USERS

pytestmark = pytest.mark.nats


def conn(name: str, user: str) -> Connection:
    # A fixed hash: these tests are about the index, not argon2's cost.
    return Connection(name=name, tenant="111", qbwc_username=user, password_hash="$argon2id$x")


async def index_value(js: JetStreamContext, user: str) -> str | None:
    users = await js.key_value(KV_QBWC_USERS)
    try:
        entry = await users.get(username_key(user))
    except KeyNotFoundError:
        return None
    return entry.value.decode() if entry.value else None


async def test_lookup_reads_the_index_not_every_connection(js: JetStreamContext) -> None:
    store = await ConnectionStore.open(js)
    for i in range(30):
        await store.put(conn(f"c{i}", f"user {i} @ office"))
    found = await store.by_username("user 17 @ office")
    assert found is not None
    assert found.name == "c17"
    assert await index_value(js, "user 17 @ office") == "c17"
    assert await store.by_username("user 99 @ office") is None
    assert await store.by_username("") is None


async def test_a_new_user_name_moves_the_index(js: JetStreamContext) -> None:
    store = await ConnectionStore.open(js)
    await store.put(conn("acme", "acme-qb"))
    await store.put(conn("acme", "acme-qb-2"))
    assert await store.by_username("acme-qb") is None
    assert await index_value(js, "acme-qb") is None
    found = await store.by_username("acme-qb-2")
    assert found is not None
    assert found.name == "acme"
    # The freed name can be taken by another connection.
    await store.put(conn("bolt", "acme-qb"))
    found = await store.by_username("acme-qb")
    assert found is not None
    assert found.name == "bolt"


async def test_removing_a_connection_frees_its_user_name(js: JetStreamContext) -> None:
    store = await ConnectionStore.open(js)
    await store.put(conn("acme", "acme-qb"))
    assert await store.delete("acme") is True
    assert await store.by_username("acme-qb") is None
    assert await index_value(js, "acme-qb") is None
    await store.put(conn("bolt", "acme-qb"))
    found = await store.by_username("acme-qb")
    assert found is not None
    assert found.name == "bolt"


async def test_a_user_name_stays_with_the_connection_that_has_it(js: JetStreamContext) -> None:
    store = await ConnectionStore.open(js)
    await store.put(conn("acme", "shared"))
    await store.put(conn("bolt", "shared"))
    found = await store.by_username("shared")
    assert found is not None
    assert found.name == "acme"


async def test_a_stale_entry_reads_as_unknown_and_is_replaced(js: JetStreamContext) -> None:
    store = await ConnectionStore.open(js)
    await store.put(conn("acme", "acme-qb"))
    # A crash after the index write and before the connection's own write left this:
    # the index names a connection that does not carry the user name.
    users = await js.key_value(KV_QBWC_USERS)
    await users.put(username_key("ghost"), b"acme")
    assert await store.by_username("ghost") is None
    await store.put(conn("bolt", "ghost"))
    found = await store.by_username("ghost")
    assert found is not None
    assert found.name == "bolt"


async def test_connections_stored_before_the_index_are_reindexed(js: JetStreamContext) -> None:
    kv = await js.key_value(KV_CONNECTIONS)
    for name, user in (("acme", "acme-qb"), ("bolt", "bolt-qb")):
        await kv.put(name, conn(name, user).model_dump_json().encode())
    store = await ConnectionStore.open(js)
    assert await store.by_username("bolt-qb") is None
    assert await store.reindex_usernames() == 2
    found = await store.by_username("bolt-qb")
    assert found is not None
    assert found.name == "bolt"
