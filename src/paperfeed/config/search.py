"""Settings of search: the embedder, where vectors and word matches are searched, and how
hybrid search fuses the two lists."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


class SearchSettings(BaseModel):
    """Search and its indexes"""

    embedder: str = Field(
        "minilm",
        description="Embedding model for search by meaning, one of the bundled embedders: "
        "`minilm` (all-MiniLM-L6-v2, int8 ONNX: best quality, ~40 abstracts/s on 2 cores) or "
        "`static` (a static model distilled from it: thousands of abstracts/s, lower quality). "
        "Changing it needs `paperfeed index rebuild`.",
    )
    embed_on_ingest: bool = Field(
        True,
        description="Embed new and changed papers during ingestion. Turn off for bulk loads "
        "and run `paperfeed index update` afterwards.",
    )
    vector_exact_max: int = Field(
        50_000,
        ge=0,
        description="Search vectors exactly (brute force) up to this many papers; above it an "
        "HNSW graph answers (approximate, much faster on large corpora; built once, about 40 s "
        "at 100 k papers, then reloaded from PAPERFEED_INDEX_DIR). The default keeps hybrid "
        "search within 10 ms at 100 k papers (docs/benchmarks.md).",
    )
    vector_backend: Literal["auto", "memory", "database"] = Field(
        "auto",
        description="Where nearest-neighbour search runs: `memory` (each process loads the "
        "vectors and searches them itself, exactly or by an HNSW graph, see "
        "PAPERFEED_VECTOR_EXACT_MAX), `database` (pgvector's HNSW index inside PostgreSQL, "
        "shared by every worker and machine: nothing to load or build per process; "
        "PostgreSQL only) or `auto` (the database on PostgreSQL, memory on SQLite).",
    )
    index_dir: str = Field(
        "data/index",
        description="Folder for cached index files (the HNSW graph), rebuilt from the "
        "database whenever missing or stale.",
    )
    lexical_engine: Literal["auto", "tantivy", "database"] = Field(
        "auto",
        description="What ranks word matches: `tantivy` (a word index on disk under "
        "PAPERFEED_INDEX_DIR, derived from the database and kept in step with it: about a "
        "millisecond per query at 100 k papers), `database` (SQLite FTS5 or PostgreSQL "
        "tsvector only: tens of milliseconds per 100 k papers with SQLite, hundreds with "
        "PostgreSQL) or `auto` (tantivy, with the database answering whenever the word index "
        "is not in step; on PostgreSQL each machine keeps its own folder, in step through the "
        "change journal in the database).",
    )
    machine_id: str = Field(
        "",
        max_length=128,
        description="This machine's name in `paperfeed index status` (each machine records "
        "there how far its indexes are behind). Empty: the host name plus a digest of "
        "PAPERFEED_INDEX_DIR, stable across restarts.",
    )
    index_snapshot_dir: str = Field(
        "",
        description="A folder every machine of the hub can read (NFS, say) where `paperfeed "
        "index publish` writes snapshots of this machine's index files (word index, HNSW "
        "graph, recommendation features) and where a joining machine restores them from, "
        "then replays the change journal. Empty: snapshots go into the database when "
        "PAPERFEED_INDEX_SNAPSHOT_DATABASE is on, else nowhere.",
    )
    index_snapshot_database: bool = Field(
        False,
        description="Publish index snapshots into the database itself (chunked, for hubs "
        "with no shared folder; see docs/design.md for the cost) when "
        "PAPERFEED_INDEX_SNAPSHOT_DIR is empty.",
    )
    index_snapshot_keep: int = Field(
        2,
        ge=1,
        description="Complete snapshots kept; `paperfeed index publish` deletes older ones.",
    )
    index_snapshot_hours: float = Field(
        24.0,
        ge=0,
        description="The scheduler publishes a snapshot of the index files this often "
        "(hours) when a snapshot store is set (one machine does it, claimed through the "
        "job ledger); 0 never.",
    )
    search_fusion: Literal["normalised", "rrf"] = Field(
        "normalised",
        description="How hybrid search fuses the word and meaning lists: `normalised` "
        "(min-max scaled scores, weighted by PAPERFEED_SEARCH_LEXICAL_WEIGHT) or `rrf` "
        "(reciprocal rank fusion with PAPERFEED_SEARCH_RRF_K). See docs/design.md.",
    )
    search_lexical_weight: float = Field(
        0.7,
        ge=0,
        le=1,
        description="Weight of the word matches in `normalised` fusion (the rest goes to meaning).",
    )
    search_rrf_k: int = Field(
        60,
        ge=1,
        description="The k of reciprocal rank fusion, when PAPERFEED_SEARCH_FUSION=rrf "
        "(larger flattens the weight of top ranks).",
    )
