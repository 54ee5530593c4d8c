"""Machines joining a hub: restoring the newest index snapshot (#17).

:func:`join` runs on a machine whose indexes are missing or far behind (``paperfeed index
update`` calls it): it restores the newest snapshot's parts that beat what the folder has,
then replays the change journal from the positions the snapshot recorded (the word index
and the recommendation features catch up from their journals, the HNSW graph is repaired
from the stored vectors). Each part is installed the way its own writers install it (a
folder renamed into place; token files first, the manifest replaced last), so a crash
mid-restore leaves every index either as it was or as restored, and a rerun finishes the
work. Requests never wait on any of this: until an index is in step, search answers from
the database (FTS5 / tsvector for words).

Publishing snapshots: :mod:`paperfeed.index.machines.publish`. Where each machine's
indexes stand, and ``index status``: :mod:`paperfeed.index.machines.positions`.
"""

from __future__ import annotations

import functools
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.index import journal
from paperfeed.index.machines.positions import (
    WORD_JOURNAL,
    database_identity,
    local_positions,
    record,
    word_schema_version,
)
from paperfeed.index.machines.publish import WRITER_WAIT, _graph_used, word_writer
from paperfeed.index.machines.snapshots import (
    DatabaseStore,
    FolderStore,
    Manifest,
    Part,
    SnapshotError,
    set_files,
    write_file,
)

#: A word index this many papers behind the snapshot's is replaced by the snapshot's.
RESTORE_AHEAD = 20_000


@dataclass
class JoinReport:
    snapshot: str | None = None
    store: str | None = None
    restored: dict[str, dict[str, Any]] = field(default_factory=dict)
    kept: dict[str, str] = field(default_factory=dict)
    bytes: int = 0


def newest(
    engine: Engine, settings: Settings
) -> tuple[Manifest, Callable[[str], Iterator[bytes]], str] | None:
    """The newest complete snapshot of this database in any store: (manifest, a reader of
    its files, the store's kind), or None."""
    identity = database_identity(engine)
    found: list[tuple[Manifest, Callable[[str], Iterator[bytes]], str]] = []
    if settings.index_snapshot_dir:
        folder = FolderStore(Path(settings.index_snapshot_dir))
        for manifest in folder.list(identity)[:1]:
            found.append((manifest, functools.partial(folder.read, manifest), "folder"))
    database = DatabaseStore(engine)
    for snapshot_id, manifest in database.list(identity)[:1]:
        found.append((manifest, functools.partial(database.read, snapshot_id), "database"))
    if not found:
        return None
    return max(found, key=lambda item: item[0].created_at)


def _wanted(conn: Connection, part: Part, local: dict[str, Any] | None, vectors: int) -> str | None:
    """Why this part should be restored (None: the local index is as good)."""
    if local is None:
        return "missing here"
    if part.kind == "word":
        current = journal.read(conn, WORD_JOURNAL)
        mine = current.changed_after(int(local["version"]))
        theirs = current.changed_after(int(part.position["version"]))
        if mine is None and theirs is not None:
            return "too far behind the journal here"
        if mine is not None and theirs is not None and mine.size - theirs.size > RESTORE_AHEAD:
            return f"{int(mine.size - theirs.size):,} papers further behind here"
        return None
    if local.get("model") != part.position.get("model"):
        return "another model here"
    if "version" in part.position:
        return (
            "older here" if int(local.get("version", -1)) < int(part.position["version"]) else None
        )
    here = abs(vectors - int(local.get("count", 0)))
    there = abs(vectors - int(part.position.get("count", 0)))
    return "further from the stored vectors here" if here > there + 1_000 else None


def join(
    engine: Engine,
    settings: Settings,
    now: datetime,
    *,
    reader: Callable[[str], Iterator[bytes]] | None = None,
) -> JoinReport:
    """Restore the newest snapshot's parts this folder lacks or has far behind (see the
    module docstring); the caller then replays the journals (``index update``)."""
    from paperfeed.index.vectors.table import count_model, recorded_model

    report = JoinReport()
    chosen = newest(engine, settings)
    if chosen is None:
        return report
    manifest, read, store = chosen
    read = reader or read
    report.snapshot, report.store = manifest.name, store
    root = Path(settings.index_dir)
    root.mkdir(parents=True, exist_ok=True)
    for stale in root.glob(".join-*"):
        shutil.rmtree(stale, ignore_errors=True)  # a crashed restore's leftovers
    local = local_positions(engine, settings)
    word_folder = f"words-{database_identity(engine)[:16]}-v{word_schema_version()}"
    with engine.connect() as conn:
        recorded = recorded_model(conn)
        vectors = count_model(conn, recorded[0]) if recorded else 0
        plan = []
        for part in manifest.parts:
            if part.kind == "word" and (
                settings.lexical_engine == "database" or part.name != word_folder
            ):
                continue  # words ranked by the database, or another schema's word index
            if part.kind == "graph" and not _graph_used(engine, settings):
                continue  # vectors searched by pgvector here: the graph would go unread
            why = _wanted(conn, part, local.get(part.kind), vectors)
            if why is None:
                report.kept[part.kind] = "kept: as good as the snapshot's"
            else:
                plan.append((part, why))
    if not plan:
        return report
    record(engine, settings, now, state="joining", note=f"restoring {manifest.name}")
    staging = root / f".join-{secrets.token_hex(4)}"
    staging.mkdir()
    try:
        installed: dict[str, str] = {}  # a file two sets share is copied once
        for part, why in plan:
            for entry in part.files:
                if installed.get(entry["path"]) != entry["sha256"]:
                    write_file(read(entry["path"]), staging / entry["path"], expect=entry)
            _install(root, staging, part, installed)
            installed |= {entry["path"]: entry["sha256"] for entry in part.files}
            report.restored[part.kind] = part.position | {"why": why}
            report.bytes += sum(int(f["size"]) for f in part.files)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return report


def _install(root: Path, staging: Path, part: Part, installed: dict[str, str]) -> None:
    """Put a restored part in place the way its writers do (see the module docstring)."""
    if part.kind == "word":
        target = root / part.name
        old = root / f".join-old-{secrets.token_hex(4)}"
        if not target.exists():
            os.rename(staging / part.name, target)
            return
        # Swapped under the old folder's writer lock: no process of this machine is
        # writing into it (its lock file moves away with it).
        with word_writer(target, WRITER_WAIT) as held:
            if not held:
                raise SnapshotError(f"{target} is being written by another process; try again")
            os.rename(target, old)
            os.rename(staging / part.name, target)
        shutil.rmtree(old, ignore_errors=True)
        return
    manifest_name = f"{part.name}.json"
    previous: str | None = None
    try:
        previous = str(json.loads((root / manifest_name).read_text(encoding="utf-8"))["token"])
    except (OSError, ValueError, KeyError):
        previous = None
    for entry in part.files:
        if entry["path"] != manifest_name and entry["path"] not in installed:
            os.replace(staging / entry["path"], root / entry["path"])
    os.replace(staging / manifest_name, root / manifest_name)
    token = str(part.position.get("token"))
    if previous is not None and previous != token and not _still_named(root, previous):
        for path in set_files(root / manifest_name, previous):
            path.unlink(missing_ok=True)


def _still_named(root: Path, token: str) -> bool:
    """Whether a manifest in the folder still names this token (its files stay)."""
    for manifest in root.glob("*.json"):
        try:
            if token in manifest.read_text(encoding="utf-8"):
                return True
        except OSError:
            continue
    return False
