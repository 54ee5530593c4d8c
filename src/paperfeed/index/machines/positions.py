"""Where each machine's indexes stand: the journal position each index file in a
machine's folder reflects (:func:`local_positions`), written with a heartbeat to
``index_machines`` (:func:`record`), and every machine's lag behind the database for
``paperfeed index status`` (:func:`status`) (#17).

The word index's position is the ``lexical`` journal version in its ``state.json``; the
recommendation features' is the vector journal key in their manifest; the HNSW graph has
no journal position (it is checked against the stored vectors by fingerprint when loaded),
so its lag is the papers with a vector that the graph does not hold.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine

from paperfeed.config import Settings
from paperfeed.index import journal
from paperfeed.index.machines.snapshots import file_sets
from paperfeed.store import machines
from paperfeed.store.engine import writing

log = logging.getLogger(__name__)

#: The word index's journal.
WORD_JOURNAL = "lexical"


def database_identity(engine: Engine) -> str:
    """The database's random identity (what names its index files), made on first use."""
    from paperfeed.index.lexical.tantivy_index import WordIndex

    return WordIndex(engine, Path("."), background=False).identity()


def word_schema_version() -> int:
    from paperfeed.index.lexical.tantivy_index import SCHEMA_VERSION

    return SCHEMA_VERSION


def this_machine(settings: Settings) -> str:
    return machines.machine_id(settings.machine_id, settings.index_dir)


# --- positions --------------------------------------------------------------------------------


def local_positions(engine: Engine, settings: Settings) -> dict[str, dict[str, Any]]:
    """The journal position each index in this machine's folder reflects (absent: none)."""
    from paperfeed.index.lexical.tantivy_index import WordIndex

    root = Path(settings.index_dir)
    identity = database_identity(engine)
    found: dict[str, dict[str, Any]] = {}
    if settings.lexical_engine != "database":
        applied = WordIndex(engine, root, background=False).applied_version()
        if applied is not None:
            found["word"] = {"journal": WORD_JOURNAL, "version": applied}
    for kind, _path, data in file_sets(root):
        position = set_position(kind, data, identity)
        if position is not None:
            found[kind] = position
    return found


def set_position(kind: str, data: dict[str, Any], identity: str) -> dict[str, Any] | None:
    """The position a file set's manifest records (None: another database's files)."""
    if "database" in data and str(data["database"]) != identity:
        return None
    position: dict[str, Any] = {"model": data.get("model"), "token": data.get("token")}
    key = data.get("key")
    if isinstance(key, list) and len(key) == 2:
        position |= {"version": int(key[0]), "count": int(key[1])}
    elif "count" in data:
        position["count"] = int(data["count"])
    return position


@dataclass(frozen=True, slots=True)
class Lag:
    """How far one index of one machine is behind the database."""

    index: str
    position: dict[str, Any] | None
    behind: int | None  # papers; None: missing, or too far back for the journal (rebuild)
    what: str  # one line for people


def lags(conn: Connection, positions: dict[str, Any], model: str | None) -> list[Lag]:
    """Each index's lag from a machine's recorded positions."""
    from paperfeed.index.vectors.table import count_model, read_journal

    found: list[Lag] = []
    words = positions.get("word")
    current = journal.read(conn, WORD_JOURNAL)
    if words is None:
        found.append(Lag("word", None, None, "missing"))
    else:
        changed = current.changed_after(int(words["version"]))
        found.append(_lag("word", words, changed))
    if model is None:
        return found
    vectors = read_journal(conn, model)
    if "features" not in positions:
        found.append(Lag("features", None, None, "missing"))
    # The features, and any other file set kept at a vector journal key (the embeddings).
    for kind, position in sorted(positions.items()):
        if kind in ("word", "graph") or "version" not in position:
            continue
        if position.get("model") != model:
            found.append(Lag(kind, position, None, "made by another model"))
        else:
            found.append(_lag(kind, position, vectors.changed_after(int(position["version"]))))
    graph = positions.get("graph")
    if graph is not None and graph.get("model") == model:
        outside = max(0, count_model(conn, model) - int(graph.get("count", 0)))
        what = "in step" if outside == 0 else f"{outside:,} papers outside the graph"
        found.append(Lag("graph", graph, outside, what))
    return found


def _lag(index: str, position: dict[str, Any], changed: Any) -> Lag:
    if changed is None:
        return Lag(index, position, None, "too far behind the journal: rebuilds")
    behind = int(changed.size)
    what = "in step" if behind == 0 else f"{behind:,} paper{'' if behind == 1 else 's'} behind"
    return Lag(index, position, behind, what)


def record(
    engine: Engine, settings: Settings, now: datetime, *, state: str, note: str | None = None
) -> dict[str, Any]:
    """Write this machine's positions and heartbeat; returns the positions."""
    positions = local_positions(engine, settings)
    with writing(engine) as conn:
        machines.record_machine(
            conn,
            machine=this_machine(settings),
            index_dir=settings.index_dir,
            positions=positions,
            state=state,
            note=note,
            now=now,
        )
    return positions


def switch_recorder(engine: Engine, settings: Settings) -> Callable[[str], None]:
    """What the serving app gives its semantic index as ``on_switch``: a switch of what
    answers vector searches (pgvector, then this machine's own index under ``auto``) is
    recorded as this machine's note in ``paperfeed index status``."""

    def recorded(line: str) -> None:
        now: datetime = settings.clock().now()
        try:
            record(engine, settings, now, state="serving", note=f"vector search: {line}")
        except Exception as exc:  # the switch stands; only the record is missing
            log.warning("could not record the vector search switch: %s", exc)

    return recorded


def status(engine: Engine, now: datetime) -> dict[str, Any]:
    """Every machine's indexes and their lag, and the newest snapshot's age."""
    from paperfeed.index.vectors.table import recorded_model

    with engine.connect() as conn:
        recorded = recorded_model(conn)
        model = recorded[0] if recorded else None
        rows = machines.list_machines(conn)
        snapshot = machines.newest_complete(conn)
        listed = []
        for row in rows:
            listed.append(
                {
                    "machine": row.machine_id,
                    "host": row.host,
                    "index_dir": row.index_dir,
                    "state": row.state,
                    "note": row.note,
                    "heartbeat_at": row.heartbeat_at.isoformat(),
                    "heartbeat_age_s": round((now - row.heartbeat_at).total_seconds(), 1),
                    "lag": {
                        lag.index: {
                            "behind": lag.behind,
                            "what": lag.what,
                            "position": lag.position,
                        }
                        for lag in lags(conn, row.positions, model)
                    },
                }
            )
    return {
        "machines": listed,
        "snapshot": None
        if snapshot is None
        else {
            "store": snapshot.store,
            "name": snapshot.name,
            "machine": snapshot.machine_id,
            "created_at": snapshot.created_at.isoformat(),
            "age_s": round((now - snapshot.created_at).total_seconds(), 1),
            "bytes": snapshot.total_bytes,
        },
    }
