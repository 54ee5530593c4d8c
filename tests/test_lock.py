"""The hashed locks in requirements/ (written by `make lock`) cover what pyproject.toml asks for.

`make run`, `make test` and CI install from these files with pip's --require-hashes, so a
dependency added to pyproject.toml without `make lock` would fail there; this test says so
first, and names the command.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
LOCKS = ROOT / "requirements"
#: Which lock installs which part of pyproject.toml.
LOCK_PARTS = {
    "runtime": ("dependencies",),
    "postgres": ("dependencies", "postgres"),
    "dev": ("dependencies", "postgres", "dev"),
}
_PIN = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)==(?P<version>[^\s;\\]+)")


def read_lock(name: str) -> dict[str, tuple[str, int]]:
    """Package -> (version, number of hashes) of one lock file."""
    pins: dict[str, tuple[str, int]] = {}
    current: str | None = None
    for line in (LOCKS / f"{name}.txt").read_text().splitlines():
        match = _PIN.match(line)
        if match:
            current = canonicalize_name(match["name"])
            pins[current] = (match["version"], 0)
        elif line.strip().startswith("--hash=sha256:") and current is not None:
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
        elif line and not line.startswith(" "):
            current = None
    return pins


def requirements(part: str) -> list[Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    raw = (
        project["dependencies"]
        if part == "dependencies"
        else project["optional-dependencies"][part]
    )
    found = [Requirement(text) for text in raw]
    return [req for req in found if canonicalize_name(req.name) != "paperfeed"]


@pytest.mark.parametrize("lock", sorted(LOCK_PARTS))
def test_every_requirement_is_pinned_with_hashes(lock: str) -> None:
    pins = read_lock(lock)
    assert pins, f"requirements/{lock}.txt pins nothing"
    unhashed = sorted(name for name, (_, hashes) in pins.items() if hashes == 0)
    assert not unhashed, f"pinned without a hash in requirements/{lock}.txt: {unhashed}"
    stale = []
    for part in LOCK_PARTS[lock]:
        for req in requirements(part):
            if req.marker is not None and not req.marker.evaluate({"extra": ""}):
                continue
            pinned = pins.get(canonicalize_name(req.name))
            if pinned is None or not req.specifier.contains(pinned[0], prereleases=True):
                stale.append(f"{req} (locked: {pinned[0] if pinned else 'missing'})")
    assert not stale, f"requirements/{lock}.txt is out of date, run `make lock`: {stale}"


def test_the_locks_agree_and_keep_optional_parts_out() -> None:
    locks = {name: read_lock(name) for name in LOCK_PARTS}
    for name in ("runtime", "postgres"):
        differ = {
            package: (version, locks["dev"].get(package, ("missing",))[0])
            for package, (version, _) in locks[name].items()
            if locks["dev"].get(package, ("",))[0] != version
        }
        assert not differ, f"requirements/{name}.txt and dev.txt pin differently: {differ}"
    assert "psycopg" not in locks["runtime"], "the PostgreSQL driver belongs to the postgres extra"
    assert "psycopg" in locks["postgres"]
    for name, pins in locks.items():  # several GB that nothing here uses
        assert "torch" not in pins, f"requirements/{name}.txt pulls in torch"
