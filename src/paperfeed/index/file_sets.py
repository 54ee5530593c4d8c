"""What every set of index files in a machine's index folder shares: a name per database
and model, and a manifest that names the current files (read by
src/paperfeed/index/vectors/embedding_file.py and src/paperfeed/index/recommend/files.py)."""

from __future__ import annotations

import fcntl
import hashlib
import json
import logging
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, ClassVar

log = logging.getLogger(__name__)

#: Leftover files (from a crash) older than this are deleted by the next save.
STALE_SECONDS = 86_400


def set_stem(kind: str, model: str, database: str) -> str:
    """The file-name stem of one kind of file set for a database and a model."""
    slug = re.sub(r"[^A-Za-z0-9_.-]+", "_", model)[:40]
    digest = hashlib.sha256(f"{database}\n{model}".encode()).hexdigest()[:8]
    return f"{kind}-{database[:16] or 'db'}-{slug}-{digest}"


def read_manifest(path: Path, expected: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest at ``path``, or None when it is absent, unreadable (logged) or made for
    something else (any of ``expected``'s keys holds another value)."""
    try:
        manifest: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring the unreadable manifest %s: %s", path, exc)
        return None
    if any(
        manifest.get(key, "" if key == "database" else None) != value
        for key, value in expected.items()
    ):
        return None
    return manifest


class FileSet:
    """One kind of file set of a database and a model in ``directory``: files named
    ``<stem>.<token>.<part>.<suffix>``, made current by the manifest ``<stem>.json``, and
    written by one process of the machine at a time (:meth:`lock`)."""

    kind: ClassVar[str]
    format: ClassVar[int]

    def __init__(self, directory: Path, model: str, database: str = "") -> None:
        self.directory = Path(directory)
        self.model = model
        self.database = database
        self.stem = set_stem(self.kind, model, database)

    @property
    def manifest(self) -> Path:
        return self.directory / f"{self.stem}.json"

    def read_manifest(self) -> dict[str, Any] | None:
        expected = {"format": self.format, "model": self.model, "database": self.database}
        return read_manifest(self.manifest, expected)

    @contextmanager
    def lock(self) -> Iterator[None]:
        """Held by the one process of the machine writing new files (others wait)."""
        self.directory.mkdir(parents=True, exist_ok=True)
        with (self.directory / f"{self.stem}.lock").open("a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def delete_old(self, keep: set[str], retired: str | None) -> None:
        """Delete the files of set ``retired``, and leftovers older than a day."""
        now = time.time()
        for path in self.directory.glob(f"{self.stem}.*.*"):
            token = path.name[len(self.stem) + 1 :].split(".", 1)[0]
            if token in keep:
                continue
            try:
                if token == retired or now - path.stat().st_mtime > STALE_SECONDS:
                    path.unlink()
            except OSError:
                continue
