"""QBWC passwords are stored as argon2id hashes, never in plaintext.

Parameters (SERVER_PARAMETERS): argon2id, m=19 MiB, t=2, p=1, 16-byte salt, 32-byte tag.
This is OWASP's Password Storage Cheat Sheet minimum for Argon2id ("a minimum configuration
of 19 MiB of memory, an iteration count of 2, and 1 degree of parallelism"). It is chosen over
argon2-cffi's default, RFC 9106's "second recommended" option (64 MiB, t=3, p=4), because one
gateway verifies the passwords of hundreds of Web Connectors that poll on the same schedule:
64 MiB per verification times hundreds of concurrent logins is what exhausted the gateway's
memory (issue 14: 1.67 GB at 500 Web Connectors). p=1 because on a shared server parallel
lanes only take cores from other logins; the memory-hardness per guess is what stops GPUs.
Hashes made with other parameters (older deployments) still verify; `needs_rehash` tells the
caller to store a new hash after a successful login (argon2-cffi's check_needs_rehash).
"""

from __future__ import annotations

from argon2 import Parameters, PasswordHasher, Type
from argon2.exceptions import InvalidHashError, VerificationError

SERVER_PARAMETERS = Parameters(
    type=Type.ID,
    version=19,
    salt_len=16,
    hash_len=32,
    time_cost=2,
    memory_cost=19 * 1024,  # KiB
    parallelism=1,
)

_hasher = PasswordHasher.from_parameters(SERVER_PARAMETERS)


def hash_password(password: str) -> str:
    """An argon2id PHC string (`$argon2id$v=19$m=19456,t=2,p=1$...`) for `password`.

    Raises ValueError for an empty password."""
    if not password:
        raise ValueError("the password must not be empty")
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    """True when `password` matches `password_hash` (any argon2 parameters); False for a
    wrong password or a malformed hash. CPU- and memory-bound: call it off the event loop."""
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    """True when `password_hash` was made with parameters other than SERVER_PARAMETERS (a
    malformed hash too): after a successful verification, store `hash_password(password)`."""
    try:
        return _hasher.check_needs_rehash(password_hash)
    except InvalidHashError:
        return True
