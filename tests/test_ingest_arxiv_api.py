"""The arXiv API source: the parser on a recorded response, the client on a local server."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.arxiv_api import (
    ArxivApiError,
    ArxivApiSource,
    build_query,
    fetch_by_ids,
    parse_feed,
)
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, Rejection, Version
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401
from tests_support import FIXTURES

RECORDED = (FIXTURES / "arxiv_api_query_all-transformer_cat-cs.LG.atom.xml").read_bytes()
TEXT = RECORDED.decode("utf-8")
HEAD = TEXT[: TEXT.index("  <entry>")]
ENTRIES = re.findall(r"  <entry>.*?</entry>\n", TEXT, flags=re.DOTALL)
PATH = "/api/query"


def feed(entries: list[str], *, total: int | None = None, start: int = 0) -> bytes:
    """A response made of recorded entries, with arXiv's paging numbers set."""
    head = re.sub(r"<opensearch:startIndex>\d+<", f"<opensearch:startIndex>{start}<", HEAD)
    if total is not None:
        head = re.sub(r"<opensearch:totalResults>\d+<", f"<opensearch:totalResults>{total}<", head)
    return (head + "".join(entries) + "</feed>\n").encode("utf-8")


def papers(items: list[Paper | Rejection]) -> list[Paper]:
    assert all(isinstance(i, Paper) for i in items), items
    return [i for i in items if isinstance(i, Paper)]


# --- the parser, on the recorded response ------------------------------------------------


def test_recorded_feed_parses_every_entry_with_paging_numbers() -> None:
    page = parse_feed(RECORDED)
    assert (page.total, page.start) == (28946, 0)
    found = papers(page.items)
    assert [(p.arxiv_id, p.version) for p in found] == [
        ("2606.13677", 1),
        ("2606.13591", 1),
        ("2606.13568", 1),
        ("2606.13515", 1),
        ("2606.13501", 1),
    ]
    assert {p.source for p in found} == {"arxiv-api"}


def test_recorded_entry_fields_exactly() -> None:
    mana = papers(parse_feed(RECORDED).items)[0]
    published = datetime(2026, 6, 11, 17, 59, 49, tzinfo=UTC)
    assert mana.title == "Mana: Dexterous Manipulation of Articulated Tools"
    assert mana.abstract.startswith("Articulated tool manipulation remains a major challenge")
    assert "(<1 minute per tool)" in mana.abstract
    assert mana.abstract.endswith("a scalable approach to dexterous articulated tool use.")
    assert mana.authors == ("Zhao-Heng Yin", "Guanya Shi", "Pieter Abbeel", "C. Karen Liu")
    assert mana.categories == ("cs.RO", "cs.AI", "cs.CV", "cs.LG")
    assert mana.primary_category == "cs.RO"
    assert mana.published_at == published
    assert mana.published_at.utcoffset() is not None
    assert mana.updated_at == published
    assert mana.versions == (Version(1, published),)
    assert mana.comments == "Project Page: https://zhaohengyin.github.io/mana"
    assert mana.abs_url == "https://arxiv.org/abs/2606.13677v1"
    assert mana.pdf_url == "https://arxiv.org/pdf/2606.13677v1"
    assert (mana.doi, mana.journal_ref, mana.license) == (None, None, None)


def test_recorded_entries_primary_category_first_and_authors_in_order() -> None:
    found = papers(parse_feed(RECORDED).items)
    assert [(p.primary_category, p.categories) for p in found] == [
        ("cs.RO", ("cs.RO", "cs.AI", "cs.CV", "cs.LG")),
        ("cs.AI", ("cs.AI", "cs.LG", "cs.MA")),
        ("cs.LG", ("cs.LG", "math-ph")),
        ("cs.CV", ("cs.CV", "cs.LG", "cs.RO")),
        ("cs.DC", ("cs.DC", "cs.LG", "cs.PF")),
    ]
    gf_dit = found[4]
    assert gf_dit.authors == (
        "Xinwei Qiang",
        "Yifan Hu",
        "Shixuan Sun",
        "Jing Yang",
        "Han Zhao",
        "Chen Chen",
        "Yu Feng",
        "Jingwen Leng",
        "Minyi Guo",
    )
    assert gf_dit.published_at == datetime(2026, 6, 11, 15, 51, 10, tzinfo=UTC)
    # Hard-wrapped lines are joined; no newline or run of spaces survives.
    assert "\n" not in gf_dit.abstract and "  " not in gf_dit.abstract
    assert "service quality. This paper argues" in gf_dit.abstract


SYNTHETIC_ENTRY = """  <entry>
    <id>http://arxiv.org/abs/hep-th/9901001v3</id>
    <title>An  old-style
      identifier</title>
    <updated>2001-02-03T04:05:06Z</updated>
    <published>1999-01-01T10:00:00-05:00</published>
    <summary>  Text.  </summary>
    <link href="http://arxiv.org/abs/hep-th/9901001v3" rel="alternate" type="text/html"/>
    <link title="doi" href="http://dx.doi.org/10.1000/xyz" rel="related"/>
    <link title="pdf" href="http://arxiv.org/pdf/hep-th/9901001v3" rel="related"/>
    <category term="math-ph" scheme="http://arxiv.org/schemas/atom"/>
    <category term="hep-th" scheme="http://arxiv.org/schemas/atom"/>
    <arxiv:primary_category term="hep-th"/>
    <arxiv:doi>10.1000/xyz</arxiv:doi>
    <arxiv:journal_ref>J. Phys. 1 (2001)
      100</arxiv:journal_ref>
    <author><name>A. Author</name><arxiv:affiliation>CERN</arxiv:affiliation></author>
    <author><name>B. Author</name></author>
  </entry>
"""


def test_old_style_id_doi_journal_ref_affiliation_and_time_zones() -> None:
    [paper] = papers(parse_feed(feed([SYNTHETIC_ENTRY])).items)
    assert (paper.arxiv_id, paper.version) == ("hep-th/9901001", 3)
    assert paper.title == "An old-style identifier"
    assert paper.abstract == "Text."
    assert paper.categories == ("hep-th", "math-ph")
    assert paper.authors == ("A. Author", "B. Author")
    assert paper.doi == "10.1000/xyz"
    assert paper.journal_ref == "J. Phys. 1 (2001) 100"
    assert paper.published_at == datetime(1999, 1, 1, 15, 0, tzinfo=UTC)
    assert paper.updated_at == datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)
    assert paper.versions == (Version(3, datetime(2001, 2, 3, 4, 5, 6, tzinfo=UTC)),)
    assert paper.pdf_url == "http://arxiv.org/pdf/hep-th/9901001v3"


# --- bad input -----------------------------------------------------------------------------


def test_error_feed_raises_with_arxivs_message() -> None:
    error = b"""<?xml version="1.0" encoding="UTF-8"?>
<feed xmlns="http://www.w3.org/2005/Atom" xmlns:opensearch="http://a9.com/-/spec/opensearch/1.1/">
  <title>ArXiv Query: search_query=&amp;id_list=1234.1234v&amp;start=0&amp;max_results=10</title>
  <opensearch:totalResults>1</opensearch:totalResults>
  <entry>
    <id>http://arxiv.org/api/errors#incorrect_id_format_for_1234.1234v</id>
    <title>Error</title>
    <summary>incorrect id format for 1234.1234v</summary>
    <updated>2026-06-14T00:00:00-04:00</updated>
    <author><name>arXiv api core</name></author>
  </entry>
</feed>"""
    with pytest.raises(ArxivApiError, match=r"^arXiv API error: incorrect id format for 1234"):
        parse_feed(error)
    assert issubclass(ArxivApiError, SourceError)


def test_entry_without_id_is_a_rejection_with_its_position() -> None:
    broken = re.sub(r"<id>[^<]*</id>", "", ENTRIES[1], count=1)
    items = parse_feed(feed([ENTRIES[0], broken, ENTRIES[2]])).items
    assert items[1] == Rejection(2, "entry has no <id>", None)
    assert [type(i) for i in items] == [Paper, Rejection, Paper]


def test_offset_gives_rejections_their_place_in_the_whole_list() -> None:
    broken = re.sub(r"<id>[^<]*</id>", "", ENTRIES[0], count=1)
    [item] = parse_feed(feed([broken]), offset=1000).items
    assert isinstance(item, Rejection) and item.position == 1001


def test_impossible_date_is_a_rejection() -> None:
    bad = ENTRIES[1].replace("<published>2026-06-11T17:12:11Z", "<published>2026-02-30T17:12:11Z")
    [item] = parse_feed(feed([bad])).items
    assert isinstance(item, Rejection)
    assert (item.position, item.ident) == (1, "2606.13591")
    assert item.reason.startswith("bad <published> date '2026-02-30T17:12:11Z'")


def test_entry_without_title_or_with_a_foreign_id_is_a_rejection() -> None:
    untitled = re.sub(r"<title>[^<]*</title>", "<title> </title>", ENTRIES[2], count=1)
    foreign = ENTRIES[3].replace("http://arxiv.org/abs/2606.13515v1", "urn:x:42")
    items = parse_feed(feed([untitled, foreign])).items
    assert items[0] == Rejection(1, "entry has no title", "2606.13568")
    assert items[1] == Rejection(2, "entry id is not an arXiv id: 'urn:x:42'", "urn:x:42")


def test_truncated_response_raises_a_clear_source_error() -> None:
    with pytest.raises(SourceError, match=r"arXiv API response is truncated .*cut off"):
        parse_feed(RECORDED[: len(RECORDED) // 2])


def test_latin1_bytes_declared_utf8_give_a_clear_error() -> None:
    latin1 = feed([ENTRIES[0]]).decode("utf-8").replace("Mana:", "Mañana:").encode("latin-1")
    with pytest.raises(SourceError, match=r"not valid utf-8 as it declares: byte 0xf1 at offset"):
        parse_feed(latin1)


def test_garbage_is_malformed_not_truncated() -> None:
    with pytest.raises(SourceError, match=r"arXiv API response is malformed XML: .* line 1"):
        parse_feed(b"<feed><entry></feed>")
    with pytest.raises(SourceError, match="not an Atom feed"):
        parse_feed(b"<html><body>Service unavailable</body></html>")


def test_entity_expansion_is_refused() -> None:
    bomb = b'<?xml version="1.0"?><!DOCTYPE f [<!ENTITY a "aaaa">]><feed>&a;</feed>'
    with pytest.raises(SourceError, match="forbidden XML construct"):
        parse_feed(bomb)


def test_ten_megabyte_abstract_passes_the_parser() -> None:
    huge = "word " * 2_000_000
    entry = re.sub(r"<summary>.*?</summary>", f"<summary>{huge}</summary>", ENTRIES[0], flags=re.S)
    started = time.perf_counter()
    [paper] = papers(parse_feed(feed([entry])).items)
    assert len(paper.abstract) == len(huge) - 1
    assert time.perf_counter() - started < 5


# --- the source, against a local server ----------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 6, 14, 3, 0, tzinfo=UTC))


@pytest.fixture
def fetcher(clock: FrozenClock) -> Iterator[Fetcher]:
    """One paced fetcher per test (3 s between requests, no retries), closed afterwards."""
    with Fetcher(min_interval=3.0, retries=0, timeout=5.0, clock=clock) as shared:
        yield shared


def source(server: ReplayServer, fetcher: Fetcher, **kw: object) -> ArxivApiSource:
    options: dict[str, object] = {"since": date(2026, 6, 11), "until": date(2026, 6, 11)}
    options.update(kw)
    return ArxivApiSource("cs.LG", fetcher, f"{server.url}{PATH}", page_size=2, **options)  # type: ignore[arg-type]


def script_three_pages(server: ReplayServer, *, first: int = 0) -> None:
    pages = [feed(ENTRIES[i : i + 2], total=5, start=i) for i in (0, 2, 4)]
    server.script(PATH, *[Reply(200, body) for body in pages[first // 2 :]])


def test_pages_through_three_pages_with_correct_offsets_and_total(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    script_three_pages(replay_server)
    src: Source = source(replay_server, fetcher)  # mypy checks the protocol
    total_before = src.total
    records = list(src.records(None))
    assert [r.item.arxiv_id for r in records if isinstance(r.item, Paper)] == [
        "2606.13677",
        "2606.13591",
        "2606.13568",
        "2606.13515",
        "2606.13501",
    ]
    assert [(r.position, r.cursor) for r in records] == [(n, str(n)) for n in range(1, 6)]
    assert (total_before, src.total) == (None, 5)
    assert [r.params() for r in replay_server.requests] == [
        {
            "search_query": "cat:cs.LG AND submittedDate:[202606110000 TO 202606112359]",
            "start": str(start),
            "max_results": "2",
            "sortBy": "submittedDate",
            "sortOrder": "ascending",
        }
        for start in (0, 2, 4)
    ]
    # One paced connection: 3 s between request starts, on the injected clock.
    assert clock.slept == [3.0, 3.0]


def test_resumes_from_cursor_without_refetching_earlier_pages(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    script_three_pages(replay_server, first=2)
    records = list(source(replay_server, fetcher).records("2"))
    assert [r.position for r in records] == [3, 4, 5]
    assert [r.param("start") for r in replay_server.requests] == ["2", "4"]


def test_resumes_mid_page_at_the_exact_offset(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(PATH, Reply(200, feed(ENTRIES[3:5], total=5, start=3)))
    records = list(source(replay_server, fetcher).records("3"))
    assert [(r.position, r.cursor) for r in records] == [(4, "4"), (5, "5")]
    assert [r.param("start") for r in replay_server.requests] == ["3"]


def test_spurious_empty_page_is_asked_again(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(
        PATH,
        Reply(200, feed(ENTRIES[0:2], total=3)),
        Reply(200, feed([], total=3, start=2)),
        Reply(200, feed(ENTRIES[2:3], total=3, start=2)),
    )
    records = list(source(replay_server, fetcher).records(None))
    assert len(records) == 3
    assert [r.param("start") for r in replay_server.requests] == ["0", "2", "2"]


def test_persistently_empty_page_stops_with_a_resumable_error(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(PATH, *[Reply(200, feed([], total=9, start=4)) for _ in range(3)])
    with pytest.raises(SourceError, match=r"no entries at start=4 of 9 after 3 attempts"):
        list(source(replay_server, fetcher).records("4"))


def test_http_400_with_error_feed_raises_arxivs_message(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    body = (
        HEAD + "<entry><id>http://arxiv.org/api/errors#bad_query</id>"
        "<title>Error</title><summary>malformed query</summary></entry></feed>"
    )
    replay_server.script(PATH, Reply(400, body))
    with pytest.raises(ArxivApiError, match="arXiv API error: malformed query"):
        list(source(replay_server, fetcher).records(None))


def test_http_error_without_feed_names_the_status(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(PATH, Reply(403, "Forbidden"))
    with pytest.raises(SourceError, match=r"arXiv API answered HTTP 403 for http://127\.0\.0\.1"):
        list(source(replay_server, fetcher).records(None))


def test_query_and_checkpoint_key() -> None:
    assert build_query(["cs.LG", "cs.CV"], None, None) == "(cat:cs.LG OR cat:cs.CV)"
    assert build_query(["cs.LG"], datetime(2026, 6, 1, 8, 30, tzinfo=UTC), date(2026, 6, 2)) == (
        "cat:cs.LG AND submittedDate:[202606010830 TO 202606022359]"
    )
    src = ArxivApiSource(
        ["cs.LG", "cs.CV"], Fetcher(), "http://x", since=date(2026, 6, 1), until=date(2026, 6, 3)
    )
    assert src.checkpoint_key == (
        "arxiv-api:(cat:cs.LG OR cat:cs.CV) AND submittedDate:[202606010000 TO 202606032359]"
    )


@pytest.mark.parametrize(
    ("args", "kw", "message"),
    [
        (("cs LG",), {}, "not arXiv categories"),
        ((["cs.LG"],), {"page_size": 2001}, "page_size must be 1..2000"),
        (("cs.LG",), {"since": date(2026, 6, 2), "until": date(2026, 6, 1)}, "empty date window"),
    ],
)
def test_bad_arguments_are_refused(
    args: tuple[object], kw: dict[str, object], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        ArxivApiSource(*args, Fetcher(), "http://x", **kw)  # type: ignore[arg-type]


def test_bad_cursor_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="bad arxiv-api cursor"):
        next(ArxivApiSource("cs.LG", Fetcher(), "http://x").records("page-2"))


def test_fetch_by_ids_uses_id_list(replay_server: ReplayServer, clock: FrozenClock) -> None:
    replay_server.script(PATH, Reply(200, feed(ENTRIES[:2], total=2)))
    with Fetcher(min_interval=3.0, clock=clock) as fetcher:
        found = fetch_by_ids(
            fetcher, f"{replay_server.url}{PATH}", ["2606.13677v1", "arXiv:2606.13591"]
        )
    assert [p.arxiv_id for p in found] == ["2606.13677", "2606.13591"]
    assert replay_server.requests[0].params() == {
        "id_list": "2606.13677v1,2606.13591",
        "start": "0",
        "max_results": "2",
    }


def test_fetch_by_ids_refuses_malformed_ids() -> None:
    with pytest.raises(InvalidInputError, match="not an arXiv identifier"):
        fetch_by_ids(Fetcher(), "http://x", ["not-an-id"])


def test_from_settings_uses_the_configured_url_page_size_and_pacing() -> None:
    settings = load_settings(arxiv_page_size=50, arxiv_delay_seconds=4.0, http_retries=2)
    clock = FrozenClock(datetime(2026, 6, 14, tzinfo=UTC))
    src = ArxivApiSource.from_settings(settings, ["cs.LG"], since=date(2026, 6, 1), clock=clock)
    assert (src.base_url, src.page_size) == (settings.arxiv_api_url, 50)
    assert (src.fetcher.min_interval, src.fetcher.retries, src.fetcher.clock) == (4.0, 2, clock)
