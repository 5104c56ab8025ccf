from __future__ import annotations

import pytest
from pydantic import ValidationError

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.envelopes import Command
from mlconnector.common.idmap import IdMap, IdMapping


def test_password_is_stored_hashed_and_verifies() -> None:
    connection = Connection.create("acme", "1234567", "acme-qb", "s3cret-pass")
    assert "s3cret-pass" not in connection.model_dump_json()
    assert connection.password_hash.startswith("$argon2id$")
    assert connection.check_password("s3cret-pass")
    assert not connection.check_password("s3cret-pasS")


def test_connection_names_must_be_subject_safe() -> None:
    with pytest.raises(ValidationError, match="NATS subject"):
        Connection.create("acme.prod", "1234567", "u", "password1")


def test_owner_and_file_ids_are_braced_upper_case_guids() -> None:
    connection = Connection.create("acme", "1", "u", "password1")
    assert connection.owner_id.startswith("{")
    assert connection.owner_id.endswith("}")
    assert connection.owner_id == connection.owner_id.upper()
    assert connection.owner_id != connection.file_id


def test_command_ids_are_deterministic() -> None:
    a = Command.make_id("acme", "1:invoice:5001:2026-01-01", "InvoiceAdd")
    assert a == Command.make_id("acme", "1:invoice:5001:2026-01-01", "InvoiceAdd")
    assert a != Command.make_id("acme", "1:invoice:5001:2026-01-02", "InvoiceAdd")
    assert a != Command.make_id("other", "1:invoice:5001:2026-01-01", "InvoiceAdd")


@pytest.mark.nats
async def test_store_round_trips_and_finds_by_user_and_tenant(js) -> None:
    store = await ConnectionStore.open(js)
    assert await store.all() == []
    await store.put(Connection.create("acme", "111", "acme-qb", "password1"))
    await store.put(Connection.create("bolt", "222", "bolt-qb", "password2"))
    assert [c.name for c in await store.all()] == ["acme", "bolt"]
    found = await store.by_username("bolt-qb")
    assert found is not None
    assert found.tenant == "222"
    assert found.check_password("password2")
    assert [c.name for c in await store.by_tenant("111")] == ["acme"]
    assert await store.delete("acme") is True
    assert await store.delete("acme") is False
    assert await store.get("acme") is None


@pytest.mark.nats
async def test_id_map_is_per_connection(js) -> None:
    ids = await IdMap.open(js)
    await ids.put("acme", "customer", 1001, IdMapping(qb_id="80000001-1", edit_sequence="9"))
    assert (await ids.get("acme", "customer", 1001)) == IdMapping(
        qb_id="80000001-1", edit_sequence="9"
    )
    assert await ids.get("bolt", "customer", 1001) is None
