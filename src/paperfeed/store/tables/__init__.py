"""The tables, one module a domain, each index commented with the query it serves.

Every module registers its tables on the one :data:`~paperfeed.store.tables.base.metadata`;
importing any of them imports them all (below), so that metadata always holds the whole
schema and foreign keys between domains resolve. :mod:`paperfeed.store.schema` is that
whole schema as Alembic sees it.
"""

from paperfeed.store.tables import (
    base,
    community,
    digests,
    jobs,
    machines,
    papers,
    recommendations,
    thumbnails,
)

__all__ = [
    "base",
    "community",
    "digests",
    "jobs",
    "machines",
    "papers",
    "recommendations",
    "thumbnails",
]
