"""Build each source from the settings: what the CLI (and later the scheduler) runs."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from paperfeed.config import Settings
from paperfeed.ingest.decide import Limits
from paperfeed.ingest.http import Fetcher

# Sources are imported where they are built, so a command loads only its own.
if TYPE_CHECKING:
    from paperfeed.ingest.arxiv_api import ArxivApiSource
    from paperfeed.ingest.demo import DemoSource
    from paperfeed.ingest.hf_daily import HfDailySource
    from paperfeed.ingest.oai import OaiSource
    from paperfeed.ingest.rss import RssSource
    from paperfeed.ingest.sample import SampleSource
    from paperfeed.ingest.snapshot import SnapshotSource


def limits(settings: Settings) -> Limits:
    return Limits(
        max_title_chars=settings.max_title_chars, max_abstract_chars=settings.max_abstract_chars
    )


def today(settings: Settings) -> date:
    """Today in the hub's time zone."""
    return settings.clock().now().astimezone(settings.zone).date()


def arxiv_api_source(
    settings: Settings, categories: Sequence[str], since: date, until: date | None
) -> ArxivApiSource:
    from paperfeed.ingest.arxiv_api import ArxivApiSource

    return ArxivApiSource.from_settings(
        settings, categories, since=since, until=until or today(settings), clock=settings.clock()
    )


def oai_source(
    settings: Settings,
    set_spec: str,
    from_day: date | None,
    until: date | None,
    metadata_prefix: str,
) -> OaiSource:
    from paperfeed.ingest.oai import OaiSource

    return OaiSource.from_settings(
        settings,
        set_spec=set_spec,
        from_date=from_day,
        until=until,
        metadata_prefix=metadata_prefix,
        clock=settings.clock(),
    )


def rss_source(settings: Settings, categories: str, feature: bool) -> RssSource:
    from paperfeed.ingest.rss import RssSource

    return RssSource.from_settings(settings, categories, feature=feature, clock=settings.clock())


def snapshot_source(path: Path) -> SnapshotSource:
    from paperfeed.ingest.snapshot import SnapshotSource

    return SnapshotSource(path)


def hf_daily_source(settings: Settings, file: Path | None, day: date | None) -> HfDailySource:
    from paperfeed.ingest.hf_daily import HfDailySource

    if file is not None:
        return HfDailySource(file, day=day)
    assert day is not None
    fetcher = Fetcher(
        retries=settings.http_retries,
        backoff=settings.http_backoff_seconds,
        timeout=settings.http_timeout_seconds,
        clock=settings.clock(),
    )
    return HfDailySource.for_day(settings, day, fetcher)


def sample_source(settings: Settings, *, seed_pages: bool = False) -> DemoSource | SampleSource:
    """The bundled demo (real Hugging Face daily lists), or with ``seed_pages`` the 660
    seed-page papers alone, featured over the last ``sample_days`` days."""
    if not seed_pages:
        from paperfeed.ingest.demo import DemoSource

        return DemoSource()
    from paperfeed.ingest.sample import SampleSource

    return SampleSource(today(settings), days=settings.sample_days)
