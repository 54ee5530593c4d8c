"""Password hashing: the production cost is argon2-cffi's default, the suite's profile is
cheap, and a hash made under one verifies under the other (a log-in rehashes it)."""

from __future__ import annotations

import argon2
import pytest
from argon2.profiles import RFC_9106_LOW_MEMORY

from paperfeed.config import Settings
from paperfeed.deliver.community.passwords import hash_password, needs_rehash, verify_password

PASSWORD = "correct horse battery staple"


def test_production_keeps_the_standard_cost() -> None:
    assert Settings.model_fields["password_hash_profile"].default == "standard"
    params = argon2.extract_parameters(hash_password(PASSWORD))
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (
        RFC_9106_LOW_MEMORY.time_cost,
        RFC_9106_LOW_MEMORY.memory_cost,
        RFC_9106_LOW_MEMORY.parallelism,
    )


def test_the_suite_hashes_cheaply() -> None:
    assert Settings().password_hash_profile == "test"  # set once for the session (conftest)
    params = argon2.extract_parameters(hash_password(PASSWORD, "test"))
    assert params.type is argon2.Type.ID
    assert (params.time_cost, params.memory_cost, params.parallelism) == (1, 8, 1)


@pytest.mark.parametrize(("made", "checked"), [("standard", "test"), ("test", "standard")])
def test_a_hash_verifies_under_either_profile_and_asks_for_a_rehash(
    made: str, checked: str
) -> None:
    stored = hash_password(PASSWORD, made)  # type: ignore[arg-type]
    assert verify_password(stored, PASSWORD, checked)  # type: ignore[arg-type]
    assert not verify_password(stored, PASSWORD + "!", checked)  # type: ignore[arg-type]
    assert needs_rehash(stored, checked)  # type: ignore[arg-type]
    assert not needs_rehash(stored, made)  # type: ignore[arg-type]


@pytest.mark.parametrize("profile", ["standard", "test"])
def test_no_account_is_no_match(profile: str) -> None:
    assert not verify_password(None, PASSWORD, profile)  # type: ignore[arg-type]
    assert not verify_password("", PASSWORD, profile)  # type: ignore[arg-type]
