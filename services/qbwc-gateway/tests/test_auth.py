"""authenticate at scale: throttling per user name / address / pair (counters in NATS KV shared
by replicas), the bounded argon2 pool, the verification cache and the hash upgrade."""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

import nats
import pytest
from argon2 import PasswordHasher
from limits import parse
from nats.js import JetStreamContext

from mlconnector.common.connections import Connection, ConnectionStore
from mlconnector.common.passwords import hash_password, verify_password
from mlconnector.common.streams import KV_AUTH_LIMITS
from mlconnector.gateway import throttle as throttle_module
from mlconnector.gateway import verifier as verifier_module
from mlconnector.gateway.kvlimits import NatsKvStorage
from mlconnector.gateway.throttle import LoginThrottle
from mlconnector.gateway.verifier import PasswordVerifier, VerifierBusy

from .conftest import Gateway

pytestmark = pytest.mark.nats


def forwarded_from(gateway: Gateway, address: str) -> None:
    """Make zeep's next calls come from `address`: uvicorn trusts X-Forwarded-For from
    127.0.0.1 (FORWARDED_ALLOW_IPS), as behind the deployment's reverse proxy."""
    session: Any = gateway.soap._client.transport.session
    session.headers["X-Forwarded-For"] = address


async def test_wrong_passwords_throttle_that_user_at_that_address_only(
    gateway: Gateway,
) -> None:
    await gateway.add_connection("acme", "acme-qb", "right-password")
    forwarded_from(gateway, "203.0.113.7")
    for _ in range(throttle_module.PER_USER_AT_ADDRESS.amount):
        assert (await gateway.call("authenticate", "acme-qb", "wrong"))[1] == "nvu"
    # The limit is reached: even the right password is not tried from this address.
    assert (await gateway.call("authenticate", "acme-qb", "right-password"))[1] == "busy"
    # The office's own Web Connector, from its own address, still gets in.
    forwarded_from(gateway, "198.51.100.20")
    auth = await gateway.call("authenticate", "acme-qb", "right-password")
    assert len(auth[0]) == 32
    assert auth[1] == "none"  # nothing queued for acme


async def test_one_address_guessing_many_user_names_is_throttled(
    gateway: Gateway, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle_module, "PER_ADDRESS", parse("4/minute"))
    await gateway.add_connection("acme", "acme-qb", "right-password")
    forwarded_from(gateway, "203.0.113.9")
    for i in range(4):
        assert (await gateway.call("authenticate", f"guess-{i}", "wrong"))[1] == "nvu"
    assert (await gateway.call("authenticate", "acme-qb", "right-password"))[1] == "busy"


async def test_guessing_from_many_addresses_spares_the_users_known_address(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle_module, "PER_USER", parse("3/minute"))
    throttle = LoginThrottle(await js.key_value(KV_AUTH_LIMITS))
    await throttle.succeeded("acme-qb", "198.51.100.20")  # the office logged in earlier
    for i in range(3):
        await throttle.failed("acme-qb", f"203.0.113.{i}")
    refusal = await throttle.refusal("acme-qb", "203.0.113.99")
    assert refusal is not None
    assert refusal.limit == "user name"
    assert 0 < refusal.retry_after <= 60
    assert await throttle.refusal("acme-qb", "198.51.100.20") is None


async def test_a_lockout_ends_when_its_window_does(
    js: JetStreamContext, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(throttle_module, "PER_USER_AT_ADDRESS", parse("2/2 seconds"))
    throttle = LoginThrottle(await js.key_value(KV_AUTH_LIMITS))
    await throttle.failed("acme-qb", "203.0.113.7")
    await throttle.failed("acme-qb", "203.0.113.7")
    refusal = await throttle.refusal("acme-qb", "203.0.113.7")
    assert refusal is not None
    assert refusal.limit == "user name at this address"
    await asyncio.sleep(refusal.retry_after + 0.2)
    assert await throttle.refusal("acme-qb", "203.0.113.7") is None


async def test_counters_are_shared_by_replicas_and_never_lose_a_count(nats_url: str) -> None:
    """Two gateway processes (two NATS connections) counting the same key at once."""
    clients = [await nats.connect(nats_url) for _ in range(2)]
    try:
        from mlconnector.common.streams import declare_all

        await declare_all(clients[0].jetstream())
        storages = [NatsKvStorage(await c.jetstream().key_value(KV_AUTH_LIMITS)) for c in clients]
        key = "qbwc-login/test/5/1/minute"
        await asyncio.gather(*(storages[i % 2].incr(key, 60) for i in range(40)))
        assert await storages[0].get(key) == 40
        assert await storages[1].get(key) == 40
        assert time.time() < await storages[1].get_expiry(key) <= time.time() + 60
        await storages[1].clear(key)
        assert await storages[0].get(key) == 0
    finally:
        for c in clients:
            await c.close()


async def test_the_argon2_pool_runs_at_most_its_workers_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    running, peak, lock = 0, 0, threading.Lock()

    def slow_verify(password_hash: str, password: str) -> bool:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.05)
        with lock:
            running -= 1
        return verify_password(password_hash, password)

    monkeypatch.setattr(verifier_module, "verify_password", slow_verify)
    verifier = PasswordVerifier(workers=2, max_waiting=6)
    stored = hash_password("pw")
    results = await asyncio.gather(
        *(verifier.verify(f"user-{i}", stored, "pw") for i in range(20)), return_exceptions=True
    )
    verifier.close()
    assert peak == 2
    assert sum(r is True for r in results) == 8  # 2 running + 6 waiting
    assert sum(isinstance(r, VerifierBusy) for r in results) == 12


async def test_successful_verifications_are_cached_by_user_hash_and_password() -> None:
    verifier = PasswordVerifier(workers=1)
    stored = hash_password("pw")
    assert await verifier.verify("acme-qb", stored, "pw")
    assert await verifier.verify("acme-qb", stored, "pw")
    assert (verifier.argon2_runs, verifier.cache_hits) == (1, 1)
    # A wrong password is never cached and never matches a cached entry.
    assert not await verifier.verify("acme-qb", stored, "pW")
    assert not await verifier.verify("acme-qb", stored, "pW")
    # A new password hash (changed password) misses at once.
    assert await verifier.verify("acme-qb", hash_password("pw"), "pw")
    assert (verifier.argon2_runs, verifier.cache_hits) == (4, 1)
    # Nothing the cache keeps is the password or reveals it without the process key.
    assert all(len(k) == 32 and b"pw" not in k for k in verifier._good)
    verifier.close()


async def test_an_expired_cache_entry_verifies_again() -> None:
    verifier = PasswordVerifier(workers=1, ttl=0.05)
    stored = hash_password("pw")
    assert await verifier.verify("acme-qb", stored, "pw")
    await asyncio.sleep(0.1)
    assert await verifier.verify("acme-qb", stored, "pw")
    assert (verifier.argon2_runs, verifier.cache_hits) == (2, 0)
    verifier.close()


async def test_a_hash_with_library_default_parameters_verifies_and_is_upgraded(
    gateway: Gateway,
) -> None:
    old_hash = PasswordHasher().hash("right-password")  # 64 MiB, t=3, p=4
    assert "m=65536,t=3,p=4" in old_hash
    store = await ConnectionStore.open(gateway.js)
    await store.put(
        Connection(name="acme", tenant="t-acme", qbwc_username="acme-qb", password_hash=old_hash)
    )
    auth = await gateway.call("authenticate", "acme-qb", "right-password")
    assert auth[0]
    stored = await store.get("acme")
    assert stored is not None
    assert stored.password_hash.startswith("$argon2id$v=19$m=19456,t=2,p=1$")
    assert verify_password(stored.password_hash, "right-password")
    assert stored.tenant == "t-acme"
    assert (await gateway.call("authenticate", "acme-qb", "wrong"))[1] == "nvu"
    assert (await gateway.call("authenticate", "acme-qb", "right-password"))[0]


async def test_unknown_user_and_wrong_password_answer_the_same(gateway: Gateway) -> None:
    await gateway.add_connection("acme", "acme-qb", "right-password")
    # zeep reads the empty ticket as None.
    assert await gateway.call("authenticate", "nobody", "right-password") == [None, "nvu"]
    assert await gateway.call("authenticate", "acme-qb", "wrong") == [None, "nvu"]
