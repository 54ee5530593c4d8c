"""The pure part of `paperfeed db copy` (see :mod:`paperfeed.store.copy`): which tables a
copy moves, how a copy into a target in a given state begins, and what it reports."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum

from sqlalchemy import Table

from paperfeed.errors import ConflictError
from paperfeed.store.checksum import TableDigest
from paperfeed.store.schema import metadata


def copied_tables(source_dialect: str, target_dialect: str) -> list[Table]:
    """The schema's tables a copy moves, parents before children. Tables that exist on
    one engine only (PostgreSQL's tsvector table) are derived data: rebuilt, not copied."""
    chosen = []
    for table in metadata.sorted_tables:
        dialects = table.info.get("dialects")
        if dialects and (source_dialect not in dialects or target_dialect not in dialects):
            continue
        chosen.append(table)
    return chosen


class Start(Enum):
    FRESH = "fresh"  # an empty target
    RESUME = "resume"  # a partial copy of this same source
    REPLACE = "replace"  # --force: empty the target first
    DONE = "done"  # a finished copy of this same source: verify only


def decide_start(
    *, recorded_source: str | None, finished: bool, has_rows: bool, source: str, force: bool
) -> Start:
    """How a copy into a target in this state begins (raises when it must not)."""
    if force:
        return Start.REPLACE
    if recorded_source is not None:
        if recorded_source != source:
            raise ConflictError(
                f"the target holds a copy of another database ({recorded_source}); "
                "pass --force to replace everything in it"
            )
        return Start.DONE if finished else Start.RESUME
    if has_rows:
        raise ConflictError(
            "the target database is not empty and holds no copy in progress; "
            "pass --force to delete everything in it and copy anew"
        )
    return Start.FRESH


@dataclass
class TableReport:
    name: str
    rows: int
    source: TableDigest | None = None
    target: TableDigest | None = None

    @property
    def ok(self) -> bool:
        return self.source is not None and self.source == self.target

    def as_dict(self) -> dict[str, object]:
        return {
            "table": self.name,
            "rows": self.rows,
            "source_rows": self.source.rows if self.source else None,
            "target_rows": self.target.rows if self.target else None,
            "source_checksum": self.source.digest if self.source else None,
            "target_checksum": self.target.digest if self.target else None,
            "ok": self.ok,
        }


@dataclass
class CopyReport:
    start: Start
    tables: list[TableReport] = field(default_factory=list)
    copied_rows: int = 0
    seconds: float = 0.0
    #: Seconds spent copying rows, finishing (sequences, derived indexes) and verifying.
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tables)

    @property
    def rows(self) -> int:
        return sum(t.rows for t in self.tables)

    def rows_of(self, name: str) -> int:
        return next((t.rows for t in self.tables if t.name == name), 0)

    def as_dict(self) -> dict[str, object]:
        return {
            "start": self.start.value,
            "tables": len(self.tables),
            "rows": self.rows,
            "papers": self.rows_of("papers"),
            "copied_rows": self.copied_rows,
            "seconds": round(self.seconds, 3),
            "phases": {name: round(value, 3) for name, value in self.phases.items()},
            "checksums_ok": self.ok,
            "per_table": [t.as_dict() for t in self.tables],
        }
