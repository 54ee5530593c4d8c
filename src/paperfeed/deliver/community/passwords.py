"""Password hashing with argon2id.

New hashes use the cost of a profile (``PAPERFEED_PASSWORD_HASH_PROFILE``): ``standard``,
argon2-cffi's defaults (RFC 9106's low-memory profile), or ``test``, one pass over 8 KiB,
which lets the test suite sign up hundreds of members in a second. A hash carries its own
cost, so one made under either profile verifies under both, and :func:`needs_rehash` tells
when a log-in should store it again at the current profile's cost.
"""

from __future__ import annotations

from functools import cache
from typing import Literal

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from paperfeed.errors import InvalidInputError

MIN_PASSWORD = 10
MAX_PASSWORD = 1024

Profile = Literal["standard", "test"]


@cache
def _hasher(profile: Profile) -> PasswordHasher:
    if profile == "test":
        return PasswordHasher(time_cost=1, memory_cost=8, parallelism=1)
    return PasswordHasher()


def check_new_password(password: str) -> str:
    if len(password) < MIN_PASSWORD:
        raise InvalidInputError(f"choose a password of {MIN_PASSWORD} characters or more")
    if len(password) > MAX_PASSWORD:
        raise InvalidInputError(f"a password has at most {MAX_PASSWORD} characters")
    return password


def hash_password(password: str, profile: Profile = "standard") -> str:
    return _hasher(profile).hash(password)


@cache
def _dummy_hash(profile: Profile) -> str:
    return _hasher(profile).hash("paperfeed: no such account")


def verify_password(stored_hash: str | None, password: str, profile: Profile = "standard") -> bool:
    """Whether ``password`` matches; with no hash (no such account) an equal amount of work
    is done, so timing does not tell whether an account exists."""
    if len(password) > MAX_PASSWORD:
        return False
    hasher = _hasher(profile)
    try:
        return hasher.verify(stored_hash or _dummy_hash(profile), password) and bool(stored_hash)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored_hash: str, profile: Profile = "standard") -> bool:
    return _hasher(profile).check_needs_rehash(stored_hash)
