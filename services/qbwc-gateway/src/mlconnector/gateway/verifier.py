"""Password verification for authenticate: a bounded argon2 worker pool and a short-lived
cache of successful verifications.

Memory: argon2 allocates its memory cost for each verification while it runs (19 MiB at
passwords.SERVER_PARAMETERS, 64 MiB for hashes made with argon2-cffi's defaults), so at most
`workers` verifications run at once and at most `max_waiting` wait; beyond that the caller is
told to come back later ("busy") instead of queueing without bound.

Speed: hundreds of Web Connectors poll on the same schedule, and each session starts with
authenticate. A successful verification is remembered for `ttl` seconds under
HMAC-SHA256(k, user name, stored hash, password), k being 32 random bytes made when the process
starts and never stored or logged. Security trade-off: the cache holds neither the password nor
anything that can be checked without k; someone who can read the process's memory gets k and
could then test guesses against the cached digests at HMAC speed instead of argon2 speed, for
at most `ttl` seconds per entry. That same reader already sees every password in plaintext as
the SOAP requests arrive, so the cache adds no exposure a memory read did not already give. A
changed password hash (a new password, a rehash) is part of the digest, so it misses at once;
wrong passwords are never cached.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import secrets
import time
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor

from mlconnector.common.passwords import hash_password, needs_rehash, verify_password


class VerifierBusy(Exception):
    """More logins are waiting for a verification than the pool accepts; try again later."""


class PasswordVerifier:
    """`verify(user, hash, password)` off the event loop, bounded and cached (see module doc).

    workers: argon2 verifications running at once (each holds its memory cost);
    max_waiting: verifications allowed to wait for a worker before VerifierBusy;
    ttl: seconds a successful verification is remembered; max_entries: cache size (LRU).
    """

    def __init__(
        self,
        workers: int = 2,
        max_waiting: int = 512,
        ttl: float = 900.0,
        max_entries: int = 20_000,
    ) -> None:
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="argon2")
        self._capacity = workers + max_waiting
        self._waiting = 0
        self._key = secrets.token_bytes(32)
        self._ttl = ttl
        self._max_entries = max_entries
        self._good: OrderedDict[bytes, float] = OrderedDict()
        self.argon2_runs = 0
        self.cache_hits = 0

    def _digest(self, user: str, password_hash: str, password: str) -> bytes:
        mac = hmac.new(self._key, digestmod=hashlib.sha256)
        for part in (user, password_hash, password):
            raw = part.encode("utf-8")
            # Length-prefixed, so ("ab", "c") and ("a", "bc") never collide.
            mac.update(len(raw).to_bytes(4, "big"))
            mac.update(raw)
        return mac.digest()

    def _cached(self, digest: bytes) -> bool:
        expires = self._good.get(digest)
        if expires is None:
            return False
        if expires < time.monotonic():
            del self._good[digest]
            return False
        self._good.move_to_end(digest)
        return True

    def _remember(self, digest: bytes) -> None:
        self._good[digest] = time.monotonic() + self._ttl
        self._good.move_to_end(digest)
        while len(self._good) > self._max_entries:
            self._good.popitem(last=False)

    async def _run(self, fn: object, *args: str) -> object:
        if self._waiting >= self._capacity:
            raise VerifierBusy
        self._waiting += 1
        try:
            # The pool runs `workers` at a time; the rest wait in its queue.
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._pool, fn, *args)  # type: ignore[arg-type]
        finally:
            self._waiting -= 1

    async def verify(self, user: str, password_hash: str, password: str) -> bool:
        """True when `password` matches `password_hash`. Raises VerifierBusy when the pool
        and its waiting room are full."""
        digest = self._digest(user, password_hash, password)
        if self._cached(digest):
            self.cache_hits += 1
            return True
        self.argon2_runs += 1
        valid = bool(await self._run(verify_password, password_hash, password))
        if valid:
            self._remember(digest)
        return valid

    async def rehash(self, password_hash: str, password: str) -> str | None:
        """A new hash with the server's parameters when `password_hash` has other ones, else
        None. Call only after `verify` succeeded."""
        if not needs_rehash(password_hash):
            return None
        return str(await self._run(hash_password, password))

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
