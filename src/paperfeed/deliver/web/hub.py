"""What every request handler needs, built once by ``create_app()``: settings, the
database engine, the semantic and word indexes, the clock, the trending rule, the
cache of list responses, and search kept until the next commit (:meth:`Hub.search`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver import rate_limit
from paperfeed.deliver.web.response_cache import Kept, ResponseCache
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.query import Query
from paperfeed.index.semantic import SemanticIndex
from paperfeed.rank.search import Fusion, SearchResult, search
from paperfeed.rank.trending import TrendingRule


@dataclass
class Hub:
    settings: Settings
    engine: Engine
    semantic: SemanticIndex
    clock: Clock
    #: The tantivy word index (None: the database ranks word matches).
    words: WordIndex | None = None
    #: Whole list responses until the next commit (off unless create_app turns it on).
    responses: ResponseCache = field(default_factory=lambda: ResponseCache(None, 0))
    #: Parts of answers the same for every reader, until the next commit (off unless
    #: create_app turns it on).
    kept: Kept = field(default_factory=lambda: Kept(None, 0))

    def search(self, query: Query, *, mode: str, limit: int, offset: int) -> SearchResult:
        """One page of :func:`~paperfeed.rank.search.search` on the hub's indexes, kept until
        the next commit: the same for every reader (no viewer takes part; hidden papers
        are hidden from all, and hiding one is a commit), so readers asking the same
        search share one, while votes and comments are read for each answer."""
        fusion = Fusion.from_settings(self.settings)

        def run() -> SearchResult:
            return search(
                self.engine,
                self.semantic,
                query,
                mode=mode,
                limit=limit,
                offset=offset,
                fusion=fusion,
                words=self.words,
            )

        return self.kept.get(("search", query, mode, limit, offset, fusion), run, _result_bytes)

    @cached_property
    def trusted_proxies(self) -> tuple[rate_limit.Network, ...]:
        """The proxies whose X-Forwarded-For counts (``PAPERFEED_TRUSTED_PROXIES``)."""
        return rate_limit.trusted_networks(self.settings.trusted_proxies)

    @property
    def zone(self) -> ZoneInfo:
        return self.settings.zone

    @property
    def rule(self) -> TrendingRule:
        return TrendingRule(
            gravity=self.settings.trending_gravity, window_days=self.settings.trending_window_days
        )

    def now(self) -> datetime:
        return self.clock.now()

    def today(self) -> date:
        return self.now().astimezone(self.zone).date()

    def absolute(self, path: str) -> str:
        return self.settings.base_url.rstrip("/") + path


def _result_bytes(result: SearchResult) -> int:
    """About the memory a search's page holds: its papers' texts and a little more each."""
    return 1024 + sum(
        2048 + len(s.paper.title) + len(s.paper.abstract) + 40 * len(s.paper.authors)
        for s in result.papers
    )
