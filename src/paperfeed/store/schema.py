"""The whole schema as Alembic sees it: :data:`metadata`, with every table registered.

The tables themselves live in :mod:`paperfeed.store.tables`, one module a domain
(papers, community, digests, recommendations, jobs, thumbnails); the code imports them from
there. This module is what works on the schema as a whole: the migrations' autogenerate
comparison (:func:`include_object_for`), ``paperfeed db copy``'s table list.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from paperfeed.store.pgvector_schema import INDEX_PREFIX as HNSW_INDEX_PREFIX
from paperfeed.store.tables.base import metadata

__all__ = ["include_object_for", "metadata"]


def include_object_for(dialect: str) -> Callable[..., bool]:
    """Alembic's ``include_object`` filter: which tables belong on ``dialect``.

    Tables marked ``info={"dialects": (...)}`` exist only there; SQLite's FTS5
    virtual table and its shadow tables are made by migration SQL, not metadata.
    """

    def include(obj: Any, name: str | None, type_: str, reflected: bool, compare_to: Any) -> bool:
        if type_ == "table":
            if name and name.startswith("papers_fts"):
                return False
            table = metadata.tables.get(name or "")
            dialects = table.info.get("dialects") if table is not None else None
            if dialects and dialect not in dialects:
                return False
        # HNSW indexes: one per embedding model, made at run time (store.pgvector_schema).
        return not (type_ == "index" and reflected and (name or "").startswith(HNSW_INDEX_PREFIX))

    return include
