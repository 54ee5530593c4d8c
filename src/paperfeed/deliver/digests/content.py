"""What goes into each subscriber's digest: looked up here, composed by the pure
:func:`paperfeed.rank.digest.compose`.

* Trending: the trending list (``rank/lists.py``, the same as ``/trending``) as of the
  edition's send time; looked up once per edition, shared by every subscriber.
* Saved searches: the one ``search()`` (``rank/search.py``) with the query's own filters
  plus an ``after:`` date window, keeping the papers the hub first saw since the previous
  edition (:func:`~paperfeed.rank.digest.new_in_window`). Each distinct saved search is
  run once per edition, however many subscribers saved it.
* More sections come from *section providers*: ``provider(subscriber, edition)`` returns
  sections to append (the recommendations issue, #7, registers one that returns a
  ``Section("recommended", ...)`` for members). A provider with a ``many(subscribers,
  edition)`` method composes a whole batch at once (:meth:`DigestContent.digests_for`,
  which the sender calls for each batch it claims). None is registered by default.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from datetime import timedelta

from sqlalchemy import Engine

from paperfeed.config import Settings
from paperfeed.errors import InvalidQueryError
from paperfeed.index.lexical.tantivy_index import WordIndex
from paperfeed.index.query import parse_query
from paperfeed.index.semantic import SemanticIndex
from paperfeed.models import StoredPaper
from paperfeed.rank.digest import Digest, Section, compose, new_in_window
from paperfeed.rank.editions import Edition, schedule_of
from paperfeed.rank.lists import trending_list
from paperfeed.rank.search import Fusion, search
from paperfeed.rank.trending import TrendingRule
from paperfeed.store.subscriptions import Subscriber

log = logging.getLogger(__name__)

SectionProvider = Callable[[Subscriber, Edition], Sequence[Section]]


#: Papers published up to this many days before an edition's window can still be new to
#: the hub in it (arXiv announces a day or two after submission). A wider window would let
#: papers seen in earlier editions crowd new ones out of the search's candidates.
LOOKBACK_DAYS = 3


class DigestContent:
    def __init__(
        self,
        settings: Settings,
        engine: Engine,
        *,
        words: WordIndex | None = None,
        semantic: SemanticIndex | None = None,
        providers: Sequence[SectionProvider] = (),
    ) -> None:
        self.settings = settings
        self.engine = engine
        self.words = words
        self.semantic = semantic
        self.providers = tuple(providers)
        self.schedule = schedule_of(settings)
        self._trending: dict[str, list[StoredPaper]] = {}
        #: The current edition's saved searches: text -> new papers (None: not a query).
        self._searches: tuple[str, dict[str, list[StoredPaper] | None]] = ("", {})

    def trending(self, edition: Edition) -> list[StoredPaper]:
        if edition.key not in self._trending:
            rule = TrendingRule(self.settings.trending_gravity, self.settings.trending_window_days)
            listed = trending_list(
                self.engine,
                now=self.schedule.slot(edition),
                zone=self.settings.zone,
                rule=rule,
                limit=self.settings.digest_trending_count,
            )
            self._trending[edition.key] = listed.papers
        return self._trending[edition.key]

    def saved_search(self, text: str, edition: Edition) -> list[StoredPaper] | None:
        """The new papers of one saved search in ``edition`` (None when it is not a valid
        query), searched once per edition."""
        if self._searches[0] != edition.key:
            self._searches = (edition.key, {})
        memo = self._searches[1]
        if text in memo:
            return memo[text]
        start, end = self.schedule.window(edition)
        after = start.astimezone(self.settings.zone).date() - timedelta(days=LOOKBACK_DAYS)
        count = self.settings.digest_search_count
        try:
            query = parse_query(text)
            query = query.with_filters(after=max(after, query.after or after))
            result = search(
                self.engine,
                self.semantic,
                query,
                mode=self.settings.digest_search_mode,
                limit=min(100, max(10, count * 2)),
                fusion=Fusion.from_settings(self.settings),
                words=self.words,
            )
        except InvalidQueryError as exc:
            log.info("saved search %r skipped: %s", text, exc)
            memo[text] = None
            return None
        memo[text] = new_in_window(result.papers, start, end, count)
        return memo[text]

    def matches(
        self, subscriber: Subscriber, edition: Edition
    ) -> list[tuple[str, list[StoredPaper]]]:
        found: list[tuple[str, list[StoredPaper]]] = []
        for text in subscriber.searches:
            papers = self.saved_search(text, edition)
            if papers is not None:
                found.append((text, papers))
        return found

    def digest_for(self, subscriber: Subscriber, edition: Edition) -> Digest:
        return self.digests_for([subscriber], edition)[subscriber.id]

    def digests_for(self, subscribers: Sequence[Subscriber], edition: Edition) -> dict[int, Digest]:
        """The digests of a batch of subscribers (by id): the shared parts looked up once,
        batch providers asked once for the whole batch."""
        extras: dict[int, list[Section]] = {s.id: [] for s in subscribers}
        for provider in self.providers:
            many = getattr(provider, "many", None)
            if many is not None:
                given: Mapping[int, Sequence[Section]] = many(subscribers, edition)
                for sub in subscribers:
                    extras[sub.id].extend(given.get(sub.id, ()))
            else:
                for sub in subscribers:
                    extras[sub.id].extend(provider(sub, edition))
        trending = self.trending(edition)
        return {
            sub.id: compose(
                edition, trending=trending, matches=self.matches(sub, edition), extra=extras[sub.id]
            )
            for sub in subscribers
        }
