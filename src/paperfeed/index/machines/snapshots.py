"""Snapshots of one machine's index files, published for other machines to join from.

A snapshot holds, for one database, the files of each index kept in ``PAPERFEED_INDEX_DIR``
and the journal position each reflects:

- ``word``: the tantivy folder (``words-…``), copied while this process holds tantivy's
  writer lock, so no commit lands halfway; its position is the ``lexical`` journal
  version in its ``state.json``;
- every *manifest-led* file set: a ``<stem>.json`` manifest naming a random ``token`` and
  the files ``<stem>.<token>.*`` it points at (the HNSW graph cache, ``hnsw-…``, and the
  recommendation features, ``recommend-…``). Their writers never change a file in place
  and replace the manifest last, so a copy of the manifest then of its files is
  consistent (retried when a writer replaced them meanwhile).

Two stores hold snapshots: a shared folder (``PAPERFEED_INDEX_SNAPSHOT_DIR``: each
snapshot is written into ``.tmp-<name>/``, its ``snapshot.json`` last, then renamed to
``<name>/``) and the database (chunks in ``index_snapshot_chunks``; the snapshot's row
turns complete after its last chunk). Either way a reader never sees a half-written
snapshot, and every file's size and SHA-256 are checked on the way back.

:mod:`paperfeed.index.machines.publish` and :mod:`paperfeed.index.machines.restore` decide
what to publish and restore; this module moves bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paperfeed.errors import PaperfeedError
from paperfeed.store import machines, snapshot_chunks
from paperfeed.store.engine import writing

log = logging.getLogger(__name__)

#: Bumped when the snapshot layout changes meaning: older snapshots are then ignored.
FORMAT = 1
#: The manifest of a snapshot in a folder store, written last.
MANIFEST = "snapshot.json"
#: Bytes read and written per step while copying.
BLOCK = 4 * 1024 * 1024
#: Unfinished snapshots (a crashed publisher) older than this are deleted by the next one.
STALE_SECONDS = 6 * 3600
#: Chunks written per database transaction.
CHUNKS_PER_COMMIT = 4

_ZEROS = bytes(BLOCK)
_SKIP = re.compile(r"(\.lock|\.tmp|\.part-[0-9a-f]+)$")


class SnapshotError(PaperfeedError):
    """A snapshot could not be written or read (the message says which file and why)."""


@dataclass
class Part:
    """One index's files in a snapshot: paths relative to the index folder."""

    kind: str  # "word", "graph", "features", or the stem prefix of another file set
    name: str  # the word folder's name, or the manifest's stem
    position: dict[str, Any]
    files: list[dict[str, Any]] = field(default_factory=list)  # {"path", "size", "sha256"}

    def as_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": self.name,
            "position": self.position,
            "files": self.files,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Part:
        return cls(
            str(data["kind"]), str(data["name"]), dict(data["position"]), list(data["files"])
        )


@dataclass
class Manifest:
    """What a snapshot holds (``snapshot.json``, and the database row's manifest)."""

    name: str
    database: str
    machine: str
    created_at: str
    parts: list[Part]

    @property
    def total_bytes(self) -> int:
        return sum(int(f["size"]) for p in self.parts for f in p.files)

    def part(self, kind: str) -> Part | None:
        return next((p for p in self.parts if p.kind == kind), None)

    def as_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "name": self.name,
            "database": self.database,
            "machine": self.machine,
            "created_at": self.created_at,
            "total_bytes": self.total_bytes,
            "parts": [p.as_json() for p in self.parts],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Manifest | None:
        if data.get("format") != FORMAT:
            return None
        try:
            return cls(
                name=str(data["name"]),
                database=str(data["database"]),
                machine=str(data["machine"]),
                created_at=str(data["created_at"]),
                parts=[Part.from_json(p) for p in data["parts"]],
            )
        except (KeyError, TypeError, ValueError):
            return None


# --- copying ---------------------------------------------------------------------------------


def read_blocks(path: Path) -> Iterator[bytes]:
    with path.open("rb") as source:
        while block := source.read(BLOCK):
            yield block


def write_file(
    blocks: Iterator[bytes], target: Path, *, expect: dict[str, Any] | None
) -> dict[str, Any]:
    """Write ``blocks`` to ``target`` through a temporary name (renamed when complete and,
    with ``expect``, checked); returns the file's size and SHA-256."""
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(f"{target.name}.part-{secrets.token_hex(4)}")
    digest = hashlib.sha256()
    size = 0
    try:
        with partial.open("wb") as out:
            for block in blocks:
                digest.update(block)
                if len(block) == BLOCK and block == _ZEROS:
                    out.seek(len(block), os.SEEK_CUR)  # a hole stays a hole (sparse files)
                else:
                    out.write(block)
                size += len(block)
            out.truncate(size)
        found = {"size": size, "sha256": digest.hexdigest()}
        if expect is not None and (expect["size"], expect["sha256"]) != (size, found["sha256"]):
            raise SnapshotError(
                f"{target.name}: the snapshot's copy is damaged ({size:,} bytes, expected "
                f"{int(expect['size']):,} with another checksum)"
            )
        os.replace(partial, target)
        return found
    finally:
        partial.unlink(missing_ok=True)


# --- what a machine's index folder holds ------------------------------------------------------


def word_folders(index_dir: Path, identity: str) -> list[Path]:
    """This database's tantivy folders (one per schema version)."""
    return sorted(
        p for p in index_dir.glob(f"words-{identity[:16]}-v*") if (p / "state.json").is_file()
    )


def file_sets(index_dir: Path) -> list[tuple[str, Path, dict[str, Any]]]:
    """The manifest-led file sets: (kind, manifest path, manifest) each."""
    found = []
    for manifest in sorted(index_dir.glob("*.json")):
        try:
            data = json.loads(manifest.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or "token" not in data:
            continue
        prefix = manifest.name.split("-", 1)[0]
        kind = {"hnsw": "graph", "recommend": "features"}.get(prefix, prefix)
        found.append((kind, manifest, data))
    return found


def set_files(manifest: Path, token: str) -> list[Path]:
    """The files a manifest's token names."""
    stem = manifest.name[: -len(".json")]
    return sorted(
        p
        for p in manifest.parent.glob(f"{glob_escape(stem)}.{token}.*")
        if p.is_file() and not _SKIP.search(p.name)
    )


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


# --- stores ---------------------------------------------------------------------------------


class FolderStore:
    """Snapshots in a shared folder (see the module docstring)."""

    kind = "folder"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def begin(self, name: str) -> Path:
        self.root.mkdir(parents=True, exist_ok=True)
        staging = self.root / f".tmp-{name}"
        staging.mkdir()
        return staging

    def put(self, staging: Path, path: str, blocks: Iterator[bytes]) -> dict[str, Any]:
        return write_file(blocks, staging / path, expect=None)

    def finish(self, staging: Path, manifest: Manifest) -> None:
        tmp = staging / f"{MANIFEST}.tmp"
        tmp.write_text(json.dumps(manifest.as_json()), encoding="utf-8")
        os.replace(tmp, staging / MANIFEST)
        os.rename(staging, self.root / manifest.name)

    def abandon(self, staging: Path) -> None:
        shutil.rmtree(staging, ignore_errors=True)

    def list(self, database: str) -> list[Manifest]:
        """Complete snapshots of this database, newest first."""
        found = []
        if not self.root.is_dir():
            return []
        for folder in self.root.iterdir():
            if folder.name.startswith(".") or not folder.is_dir():
                continue
            try:
                data = json.loads((folder / MANIFEST).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                continue  # no manifest: not a (complete) snapshot
            manifest = Manifest.from_json(data)
            if (
                manifest is not None
                and manifest.database == database
                and manifest.name == folder.name
            ):
                found.append(manifest)
        return sorted(found, key=lambda m: (m.created_at, m.name), reverse=True)

    def read(self, manifest: Manifest, path: str) -> Iterator[bytes]:
        return read_blocks(self.root / manifest.name / path)

    def delete(self, manifest: Manifest) -> None:
        doomed = self.root / f".del-{manifest.name}"
        try:
            os.rename(self.root / manifest.name, doomed)
        except OSError:
            return
        shutil.rmtree(doomed, ignore_errors=True)

    def prune_stale(self) -> None:
        cutoff = time.time() - STALE_SECONDS
        for folder in self.root.glob(".*-*"):
            try:
                if folder.is_dir() and folder.stat().st_mtime < cutoff:
                    shutil.rmtree(folder, ignore_errors=True)
            except OSError:
                continue


class DatabaseStore:
    """Snapshots in the database: a row in ``index_snapshots`` and chunks of each file."""

    kind = "database"

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def begin_row(self, manifest: Manifest, now: datetime) -> int:
        with writing(self.engine) as conn:
            return machines.start_snapshot(
                conn,
                store=self.kind,
                name=manifest.name,
                machine=manifest.machine,
                manifest=manifest.as_json(),
                now=now,
            )

    def put(self, snapshot_id: int, path: str, blocks: Iterator[bytes]) -> dict[str, Any]:
        digest = hashlib.sha256()
        size = 0
        seq = 0
        pending: list[bytes] = []

        def flush() -> None:
            nonlocal seq
            with writing(self.engine) as conn:
                for data in pending:
                    snapshot_chunks.write_chunk(conn, snapshot_id, path, seq, data)
                    seq += 1
            pending.clear()

        buffer = bytearray()
        for block in blocks:
            digest.update(block)
            size += len(block)
            buffer += block
            while len(buffer) >= snapshot_chunks.CHUNK_BYTES:
                pending.append(bytes(buffer[: snapshot_chunks.CHUNK_BYTES]))
                del buffer[: snapshot_chunks.CHUNK_BYTES]
                if len(pending) >= CHUNKS_PER_COMMIT:
                    flush()
        if buffer or (seq == 0 and not pending):
            pending.append(bytes(buffer))
        flush()
        return {"size": size, "sha256": digest.hexdigest()}

    def finish(self, snapshot_id: int, manifest: Manifest) -> None:
        with writing(self.engine) as conn:
            machines.complete_snapshot(conn, snapshot_id, manifest.as_json())

    def abandon(self, snapshot_id: int) -> None:
        with writing(self.engine) as conn:
            machines.delete_snapshot(conn, snapshot_id)

    def list(self, database: str) -> list[tuple[int, Manifest]]:
        with self.engine.connect() as conn:
            records = machines.snapshots(conn, store=self.kind)
        found = []
        for record in records:
            manifest = Manifest.from_json(record.manifest) if record.complete else None
            if manifest is not None and manifest.database == database:
                found.append((record.id, manifest))
        return found

    def read(self, snapshot_id: int, path: str) -> Iterator[bytes]:
        # A connection per file: chunks are read one row at a time.
        with self.engine.connect() as conn:
            yield from snapshot_chunks.read_chunks(conn, snapshot_id, path)

    def prune_stale(self, now: datetime) -> None:
        with self.engine.connect() as conn:
            records = machines.snapshots(conn, store=self.kind)
        for record in records:
            if not record.complete and (now - record.created_at).total_seconds() > STALE_SECONDS:
                self.abandon(record.id)


#: Reads a file of a chosen snapshot, block by block.
Reader = Callable[[str], Iterator[bytes]]
