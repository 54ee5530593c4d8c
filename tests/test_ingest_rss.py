"""The arXiv RSS/Atom listing: announce types, featuring, prefixes, zones, bad input."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.rss import Announcement, RssSource, parse_listing
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, Rejection
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401
from tests_support import FIXTURES

#: Hand-written from arXiv's RSS/Atom format (see its header comment and fixtures/SOURCE.md).
RECORDED = (FIXTURES / "arxiv_rss_atom_cs.AI_2025-08-20.xml").read_text(encoding="utf-8")
ANNOUNCED = datetime(2025, 8, 20, 4, 0, tzinfo=UTC)  # 2025-08-20T00:00:00-04:00


def papers(listing: list[Announcement]) -> list[Paper]:
    assert all(isinstance(a.item, Paper) for a in listing), listing
    return [a.item for a in listing if isinstance(a.item, Paper)]


def replaced(xml: str, arxiv_id: str, version: int, announce_type: str) -> str:
    """The listing with one entry turned into a replacement (new version, other type)."""
    start = xml.index(f"<id>oai:arXiv.org:{arxiv_id}v1</id>")
    end = xml.index("</entry>", start)
    entry = xml[start:end].replace(f"{arxiv_id}v1", f"{arxiv_id}v{version}")
    entry = re.sub(r"Announce Type: \w+", f"Announce Type: {announce_type}", entry)
    entry = re.sub(
        r"<arxiv:announce_type>[\w-]+<",
        f"<arxiv:announce_type>{announce_type}<",
        entry,
    )
    return xml[:start] + entry + xml[end:]


# --- the parser, on the recorded listing ---------------------------------------------------


def test_recorded_listing_ids_types_and_featuring() -> None:
    listing = parse_listing(RECORDED.encode())
    found = papers(listing)
    assert [
        (p.arxiv_id, p.version, a.announce_type) for p, a in zip(found, listing, strict=True)
    ] == [
        ("2508.14118", 1, "new"),
        ("2508.14163", 1, "new"),
        ("2508.13502", 1, "cross"),
        ("2508.13577", 1, "cross"),
        ("2508.13614", 1, "cross"),
        ("2508.13689", 1, "cross"),
        ("2508.13745", 1, "cross"),
    ]
    assert {p.featured_on for p in found} == {date(2025, 8, 20)}
    assert {p.source for p in found} == {"rss"}


def test_recorded_entry_fields_exactly() -> None:
    first, *_, last = papers(parse_listing(RECORDED.encode()))
    assert first.title == "Budgeted Tool Use for Language Agents under Latency Constraints"
    assert first.authors == ("Mira Okafor", "Tomás Lindqvist", "Wei Zhang")
    assert first.categories == ("cs.AI", "cs.CL")
    assert first.primary_category == "cs.AI"
    assert first.license == "http://creativecommons.org/licenses/by-nc-sa/4.0/"
    assert first.abstract.startswith(
        "Language agents that call external tools spend most of their wall-clock time"
    )
    assert first.abstract.endswith("to support further work on cost-aware agents.")
    assert (first.published_at, first.updated_at) == (ANNOUNCED, ANNOUNCED)
    assert first.abs_url == "https://arxiv.org/abs/2508.14118"
    assert first.pdf_url == "https://arxiv.org/pdf/2508.14118"
    # A cross-list: its primary category (listed first) is not the feed's.
    assert last.authors == ("Grace Liu", "Omar Haddad")
    assert last.categories == ("eess.SY", "cs.AI", "cs.SY")
    assert last.primary_category == "eess.SY"
    assert last.abstract == (
        "We certify a neural landing controller against bounded wind gusts with "
        "reachability analysis."
    )


def test_announce_prefix_is_stripped_with_or_without_trailing_space() -> None:
    by_id = {p.arxiv_id: p for p in papers(parse_listing(RECORDED.encode()))}
    # "Announce Type: cross \nAbstract:" and "Announce Type: cross\nAbstract:" both occur.
    assert by_id["2508.13614"].abstract == (
        "Shortcut features in chest radiograph classifiers are found with counterfactual masks."
    )
    assert not any(p.abstract.startswith(("arXiv:", "Abstract")) for p in by_id.values())
    # TeX accents are kept as arXiv sends them; UTF-8 names arrive intact.
    assert by_id["2508.13577"].authors == ("Jos\\'e Carlos Almeida",)
    assert by_id["2508.13614"].authors == ("Ana Kovač", "Samuel Idowu")


def test_replacements_are_not_featured() -> None:
    xml = replaced(RECORDED, "2508.14163", 3, "replace")
    xml = replaced(xml, "2508.13502", 2, "replace-cross")
    listing = parse_listing(xml.encode())
    by_id = {a.item.arxiv_id: a for a in listing if isinstance(a.item, Paper)}
    replacement = by_id["2508.14163"]
    assert replacement.announce_type == "replace"
    assert isinstance(replacement.item, Paper)
    assert (replacement.item.version, replacement.item.featured_on) == (3, None)
    # The announcement of a v3 is not when the paper was first published.
    assert (replacement.item.published_at, replacement.item.updated_at) == (None, ANNOUNCED)
    assert replacement.item.abstract.startswith("When a household robot's plan fails halfway")
    cross_replacement = by_id["2508.13502"]
    assert cross_replacement.announce_type == "replace-cross"
    assert isinstance(cross_replacement.item, Paper)
    assert cross_replacement.item.featured_on is None
    assert by_id["2508.14118"].item.featured_on == date(2025, 8, 20)  # type: ignore[union-attr]


def test_feature_off_features_nothing() -> None:
    assert {p.featured_on for p in papers(parse_listing(RECORDED.encode(), feature=False))} == {
        None
    }


def test_announcement_day_is_counted_in_the_given_zone() -> None:
    # 04:00 UTC on 20 August is still 19 August in Honolulu.
    honolulu = papers(parse_listing(RECORDED.encode(), zone="Pacific/Honolulu"))
    assert {p.featured_on for p in honolulu} == {date(2025, 8, 19)}
    tokyo = papers(parse_listing(RECORDED.encode(), zone=ZoneInfo("Asia/Tokyo")))
    assert {p.featured_on for p in tokyo} == {date(2025, 8, 20)}


def test_entry_without_published_uses_the_feed_update_time() -> None:
    xml = RECORDED.replace("<published>2025-08-20T00:00:00-04:00</published>", "", 1)
    first = papers(parse_listing(xml.encode()))[0]
    assert first.updated_at == datetime(2025, 8, 20, 4, 0, 12, 412077, tzinfo=UTC)
    assert first.featured_on == date(2025, 8, 20)


# --- bad input -----------------------------------------------------------------------------


def test_entry_without_id_and_impossible_date_are_rejections() -> None:
    xml = RECORDED.replace("<id>oai:arXiv.org:2508.14163v1</id>", "", 1)
    sixth = xml.index("<id>oai:arXiv.org:2508.13689v1</id>")
    xml = xml[:sixth] + xml[sixth:].replace(
        "<published>2025-08-20T00:00:00-04:00</published>",
        "<published>2025-02-30T00:00:00-04:00</published>",
        1,
    )
    listing = parse_listing(xml.encode())
    assert listing[1] == Announcement(Rejection(2, "entry has no <id>"), "new")
    bad_date = listing[5].item
    assert isinstance(bad_date, Rejection)
    assert (bad_date.position, bad_date.ident) == (6, "2508.13689")
    assert bad_date.reason.startswith("bad announcement date '2025-02-30T00:00:00-04:00'")
    assert sum(isinstance(a.item, Paper) for a in listing) == 5


def test_truncated_listing_raises_a_clear_source_error() -> None:
    data = RECORDED.encode()
    with pytest.raises(SourceError, match=r"arXiv RSS listing is truncated"):
        parse_listing(data[:4000])


def test_rss2_or_html_is_refused_with_a_hint() -> None:
    with pytest.raises(SourceError, match=r"not an Atom feed .*rss\.arxiv\.org/atom/"):
        parse_listing(b'<?xml version="1.0"?><rss version="2.0"><channel/></rss>')


def test_wrong_encoding_gives_a_clear_error() -> None:
    # The listing re-encoded as Latin-1: "Tomás" in the first entry becomes b"Tom\xe1s".
    data = RECORDED.encode("latin-1", errors="replace")
    with pytest.raises(SourceError, match=r"not valid utf-8 .* byte 0xe1"):
        parse_listing(data)


# --- the source, against a local server ----------------------------------------------------


@pytest.fixture
def fetcher() -> Iterator[Fetcher]:
    with Fetcher(min_interval=3.0, retries=0, timeout=5.0, clock=FrozenClock(ANNOUNCED)) as f:
        yield f


def test_source_reads_todays_listing_and_exposes_announce_types(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    replay_server.script("/atom/cs.AI+cs.LG", Reply(200, RECORDED))
    src = RssSource(["cs.AI", "cs.LG"], fetcher, f"{replay_server.url}/atom/")
    typed: Source = src
    assert typed.checkpoint_key is None
    records = list(src.records(None))
    assert [(r.position, r.cursor) for r in records] == [(n, None) for n in range(1, 8)]
    assert src.total == 7
    assert src.announce_types == {
        "2508.14118": "new",
        "2508.14163": "new",
        "2508.13502": "cross",
        "2508.13577": "cross",
        "2508.13614": "cross",
        "2508.13689": "cross",
        "2508.13745": "cross",
    }
    assert [r.path for r in replay_server.requests] == ["/atom/cs.AI+cs.LG"]


def test_empty_listing_on_a_day_without_announcements(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    empty = RECORDED[: RECORDED.index("  <entry>")] + "</feed>\n"
    replay_server.script("/atom/math.AG", Reply(200, empty))
    src = RssSource("math.AG", fetcher, f"{replay_server.url}/atom")
    assert list(src.records(None)) == []
    assert (src.total, src.announce_types) == (0, {})


def test_http_error_is_a_source_error(replay_server: ReplayServer, fetcher: Fetcher) -> None:
    replay_server.script("/atom/cs.XX", Reply(404, "Not Found"))
    src = RssSource("cs.XX", fetcher, f"{replay_server.url}/atom")
    with pytest.raises(SourceError, match=r"arXiv RSS answered HTTP 404 for http://127.0.0.1"):
        list(src.records(None))


def test_bad_categories_are_refused(fetcher: Fetcher) -> None:
    with pytest.raises(InvalidInputError, match="not arXiv categories"):
        RssSource(["cs.LG", "cs LG/../x"], fetcher, "http://x")


def test_from_settings_counts_days_in_the_hub_zone() -> None:
    settings = load_settings(timezone="Europe/Paris", arxiv_rss_url="https://rss.example/atom/")
    src = RssSource.from_settings(settings, ["cs.LG", "cs.CV"])
    assert src.url == "https://rss.example/atom/cs.LG+cs.CV"
    assert src.zone == ZoneInfo("Europe/Paris")
    assert src.fetcher.min_interval == settings.arxiv_delay_seconds
