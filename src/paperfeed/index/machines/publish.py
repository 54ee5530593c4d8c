"""Publishing this machine's index snapshots for machines joining a hub (#17).

:func:`publish` brings the folder's index files in step with the database and copies them
into the snapshot store (:mod:`paperfeed.index.machines.snapshots`); :func:`prune` deletes
the snapshots beyond PAPERFEED_INDEX_SNAPSHOT_KEEP. Restoring them on a joining machine:
:mod:`paperfeed.index.machines.restore`. Where each machine's indexes stand, and
``index status``: :mod:`paperfeed.index.machines.positions`.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import ConfigError
from paperfeed.index.machines.positions import (
    WORD_JOURNAL,
    database_identity,
    record,
    set_position,
    this_machine,
)
from paperfeed.index.machines.snapshots import (
    DatabaseStore,
    FolderStore,
    Manifest,
    Part,
    SnapshotError,
    file_sets,
    read_blocks,
    set_files,
)
from paperfeed.store import machines
from paperfeed.store.engine import writing

log = logging.getLogger(__name__)

#: Tantivy's own lock files: never copied.
_TANTIVY_LOCKS = {".tantivy-writer.lock", ".tantivy-meta.lock"}
#: Seconds to wait for tantivy's writer lock (another process committing) when copying.
WRITER_WAIT = 120.0
#: Copies retried when a writer replaced a file set while it was read.
_TRIES = 3


# --- publishing -------------------------------------------------------------------------------


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text)[:48]


@dataclass
class PublishReport:
    name: str
    store: str
    parts: dict[str, dict[str, Any]]
    total_bytes: int
    pruned: int


def _store_of(engine: Engine, settings: Settings) -> FolderStore | DatabaseStore:
    if settings.index_snapshot_dir:
        return FolderStore(Path(settings.index_snapshot_dir))
    if settings.index_snapshot_database:
        return DatabaseStore(engine)
    raise ConfigError(
        "no snapshot store: set PAPERFEED_INDEX_SNAPSHOT_DIR to a folder every machine can "
        "read, or PAPERFEED_INDEX_SNAPSHOT_DATABASE=true to keep snapshots in the database"
    )


Put = Callable[[str, Iterator[bytes]], dict[str, Any]]


@contextmanager
def word_writer(folder: Path, wait: float) -> Iterator[bool]:
    """Hold tantivy's writer lock on a word folder (no other process commits or rebuilds
    into it meanwhile); yields False when another process kept it past ``wait`` seconds."""
    import time

    import tantivy

    from paperfeed.index.lexical.word_documents import analyzer, schema

    index = tantivy.Index(schema(), path=str(folder), reuse=True)
    index.register_tokenizer("paper", analyzer())
    deadline = time.monotonic() + wait
    while True:
        try:
            writer = index.writer(heap_size=15_000_000, num_threads=1)
            break
        except ValueError:  # another process is committing: wait for it
            if time.monotonic() > deadline:
                yield False
                return
            time.sleep(0.5)
    try:
        yield True
    finally:
        writer.rollback()
        del writer


def _copy_word(engine: Engine, root: Path, put: Put) -> Part | None:
    """The word folder, copied under tantivy's writer lock (no commit lands meanwhile)."""
    from paperfeed.index.lexical.tantivy_index import WordIndex

    words = WordIndex(engine, root, background=False)
    folder = words.folder
    if words.applied_version() is None:
        return None
    with word_writer(folder, WRITER_WAIT) as held:
        if not held:
            raise SnapshotError(f"the word index {folder} stayed locked for {WRITER_WAIT:.0f} s")
        version = words.applied_version()
        part = Part("word", folder.name, {"journal": WORD_JOURNAL, "version": version})
        for path in sorted(folder.iterdir()):
            if path.name in _TANTIVY_LOCKS or not path.is_file() or path.name.endswith(".tmp"):
                continue
            relative = f"{folder.name}/{path.name}"
            part.files.append({"path": relative, **put(relative, read_blocks(path))})
        return part


def _copy_set(kind: str, manifest: Path, identity: str, put: Put) -> Part | None:
    """One manifest-led file set: the manifest's bytes, then the files its token names."""
    for _ in range(_TRIES):
        try:
            raw = manifest.read_bytes()
            data = json.loads(raw)
            position = set_position(kind, data, identity)
            if position is None:
                return None
            part = Part(kind, manifest.name[: -len(".json")], position)
            paths = set_files(manifest, str(data["token"]))
            # A set may read another's files by token (the features, the embeddings file's
            # rows): those files go with it, so the restored set is whole.
            for token in _named_tokens(data):
                paths += [p for p in manifest.parent.glob(f"*.{token}.*") if p not in paths]
            for path in paths:
                part.files.append({"path": path.name, **put(path.name, read_blocks(path))})
            part.files.append({"path": manifest.name, **put(manifest.name, iter([raw]))})
            return part
        except FileNotFoundError:
            continue  # replaced by its writer meanwhile: copy the new set
        except (OSError, ValueError, KeyError) as exc:
            log.warning("not publishing %s: %s", manifest, exc)
            return None
    log.warning("not publishing %s: its files kept changing while read", manifest)
    return None


def bring_in_step(engine: Engine, settings: Settings) -> None:
    """Bring the folder's index files in step with the database before they are published,
    in the order `paperfeed index update` does: the word index, the recommendation features
    (when the folder keeps them; they rewrite the shared embeddings file), then the HNSW
    graph cache, repaired against those embeddings. A serving process keeps its own in step
    in memory only, so without this a snapshot would carry what its files held at startup,
    and a joining machine would repair or rebuild what the publisher could have."""
    from paperfeed.index.lexical.tantivy_index import WordIndex
    from paperfeed.index.recommend.cache import FeatureCache
    from paperfeed.index.semantic import semantic_index
    from paperfeed.index.vectors.table import count_model, recorded_model

    root = Path(settings.index_dir)
    if settings.lexical_engine != "database":
        WordIndex(engine, root, background=False).refresh()
    with engine.connect() as conn:
        recorded = recorded_model(conn)
        count = count_model(conn, recorded[0]) if recorded else 0
    if recorded is None:
        return
    features = FeatureCache(engine, recorded[0], root)
    files = features.files()
    if files is not None and files.stored_key() is not None:
        features.features()
        files.add_postings()  # files written before postings (For you's shortlist)
    if _graph_used(engine, settings) and count > settings.vector_exact_max:
        semantic = semantic_index(engine, settings)
        semantic.wait_for_graph = True
        semantic.index()


def _once(put: Put) -> Put:
    """``put`` that stores each path once (a file two sets share)."""
    done: dict[str, dict[str, Any]] = {}

    def once(path: str, blocks: Iterator[bytes]) -> dict[str, Any]:
        if path not in done:
            done[path] = put(path, blocks)
        return done[path]

    return once


def _named_tokens(data: dict[str, Any]) -> list[str]:
    """Tokens of other file sets a manifest names (``"embeddings": "<token>"``)."""
    return [
        str(value)
        for key, value in data.items()
        if key != "token" and isinstance(value, str) and re.fullmatch(r"[0-9a-f]{8,32}", value)
    ]


def publish(engine: Engine, settings: Settings, now: datetime) -> PublishReport:
    """Write a snapshot of this machine's index files to the configured store, then delete
    the snapshots beyond PAPERFEED_INDEX_SNAPSHOT_KEEP."""
    store = _store_of(engine, settings)
    bring_in_step(engine, settings)
    root = Path(settings.index_dir)
    identity = database_identity(engine)
    machine = this_machine(settings)
    name = f"{now:%Y%m%dT%H%M%SZ}-{_slug(machine)}-{secrets.token_hex(3)}"
    manifest = Manifest(name, identity, machine, now.isoformat(), [])
    if isinstance(store, FolderStore):
        store.prune_stale()
        staging = store.begin(name)

        @_once
        def put(path: str, blocks: Iterator[bytes]) -> dict[str, Any]:
            return store.put(staging, path, blocks)

        try:
            _collect(engine, root, identity, settings, manifest, put)
            store.finish(staging, manifest)
        except BaseException:
            store.abandon(staging)
            raise
        with writing(engine) as conn:
            row = machines.start_snapshot(
                conn,
                store="folder",
                name=name,
                machine=machine,
                manifest=manifest.as_json(),
                now=now,
            )
            machines.complete_snapshot(conn, row, manifest.as_json())
    else:
        store.prune_stale(now)
        row = store.begin_row(manifest, now)

        @_once
        def put(path: str, blocks: Iterator[bytes]) -> dict[str, Any]:
            return store.put(row, path, blocks)

        try:
            _collect(engine, root, identity, settings, manifest, put)
            store.finish(row, manifest)
        except BaseException:
            store.abandon(row)
            raise
    pruned = prune(engine, settings)
    record(engine, settings, now, state="ready", note=f"published {name}")
    return PublishReport(
        name=name,
        store=store.kind,
        parts={p.kind: p.position | {"files": len(p.files)} for p in manifest.parts},
        total_bytes=manifest.total_bytes,
        pruned=pruned,
    )


def _collect(
    engine: Engine, root: Path, identity: str, settings: Settings, manifest: Manifest, put: Put
) -> None:
    if settings.lexical_engine != "database":
        word = _copy_word(engine, root, put)
        if word is not None:
            manifest.parts.append(word)
    for kind, path, _data in file_sets(root):
        part = _copy_set(kind, path, identity, put)
        if part is not None:
            manifest.parts.append(part)
    if not manifest.parts:
        raise SnapshotError(
            f"{root} holds no index files to publish yet: run `paperfeed index update` first"
        )


def prune(engine: Engine, settings: Settings) -> int:
    """Delete complete snapshots beyond the newest PAPERFEED_INDEX_SNAPSHOT_KEEP (both
    stores, and their records); returns how many."""
    keep = settings.index_snapshot_keep
    pruned = 0
    identity = database_identity(engine)
    with engine.connect() as conn:
        records = [r for r in machines.snapshots(conn) if r.complete]
    folder = FolderStore(Path(settings.index_snapshot_dir)) if settings.index_snapshot_dir else None
    if folder is not None:
        for manifest in folder.list(identity)[keep:]:
            folder.delete(manifest)
            pruned += 1
    kept_names = {m.name for m in folder.list(identity)} if folder is not None else set()
    database = DatabaseStore(engine)
    for snapshot_id, _manifest in database.list(identity)[keep:]:
        database.abandon(snapshot_id)
        pruned += 1
    with writing(engine) as conn:
        for r in records:
            if r.store == "folder" and folder is not None and r.name not in kept_names:
                machines.delete_snapshot(conn, r.id)
    return pruned


def _graph_used(engine: Engine, settings: Settings) -> bool:
    """Whether this machine searches vectors in memory (so an HNSW graph file is read)."""
    from paperfeed.index.semantic import resolve_backend

    return resolve_backend(settings.vector_backend, engine.dialect.name) == "memory"
