"""What every request handler needs, built once by ``create_app()``: settings, the
database engine, the semantic and word indexes, the clock, the trending rule and the
cache of list responses."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import cached_property
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from paperfeed.clock import Clock
from paperfeed.config import Settings
from paperfeed.deliver import rate_limit
from paperfeed.deliver.web.response_cache import ResponseCache
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.semantic import SemanticIndex
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
