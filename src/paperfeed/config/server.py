"""Settings of `paperfeed serve`: where it listens, its processes and threads, its cache."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ServerSettings(BaseModel):
    """Web server"""

    host: str = Field("127.0.0.1", description="Address `paperfeed serve` listens on.")
    port: int = Field(8000, ge=1, le=65535, description="Port `paperfeed serve` listens on.")
    workers: int = Field(
        1,
        ge=1,
        le=64,
        description="Worker processes of `paperfeed serve`, each with a listening socket of its "
        "own on the same port (SO_REUSEPORT; more than one needs Linux). One per CPU core.",
    )
    server_threads: int = Field(
        4,
        ge=1,
        le=256,
        description="Threads per server worker that run request handlers (database queries, "
        "search, rendering). More than a few only queue on Python's GIL.",
    )
    response_cache_mb: int = Field(
        32,
        ge=0,
        description="Memory per server worker for answers kept until the next commit to the "
        "database: half for whole responses of the paper lists and searches (the JSON API), "
        "half for searches' results (and the search page's, as visitors see them); 0 turns "
        "both off.",
    )
