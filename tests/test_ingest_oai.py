"""The OAI-PMH source: both metadata formats, resumption tokens, expired tokens, bad input."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, date, datetime

import pytest

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.oai import OaiSource
from paperfeed.ingest.oai_records import parse_page, parse_records
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, Rejection, Version
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401
from tests_support import FIXTURES

HEP_TH = (FIXTURES / "arxiv_oai_pmh_ListRecords_arXiv_physics-hep-th_2017-12-14.xml").read_text()
HEP_EX = (FIXTURES / "arxiv_oai_pmh_ListRecords_arXiv_physics-hep-ex_2017-12-14.xml").read_text()
GET_RECORD = (FIXTURES / "arxiv_oai_pmh_GetRecord_arXiv_1401.2122.xml").read_bytes()
#: Hand-written (see its header comment): no recorded arXivRaw response could be found.
RAW = (FIXTURES / "oai_arxivraw.xml").read_text()
PATH = "/oai"
ARXIV_LICENSE = "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def with_token(xml: str, token: str | None, *, cursor: int, size: int) -> str:
    """The response with its resumption token replaced (``None``: the list's last page)."""
    if "<resumptionToken" in xml:
        xml = xml[: xml.index("<resumptionToken")] + xml[xml.index("</ListRecords>") :]
    element = (
        f'<resumptionToken cursor="{cursor}" completeListSize="{size}">{token}</resumptionToken>'
        if token
        else f'<resumptionToken cursor="{cursor}" completeListSize="{size}"/>'
    )
    return xml.replace("</ListRecords>", element + "\n</ListRecords>")


def oai_error(code: str, message: str) -> str:
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<OAI-PMH xmlns="http://www.openarchives.org/OAI/2.0/">'
        "<responseDate>2026-11-20T10:00:00Z</responseDate>"
        '<request verb="ListRecords">http://oaipmh.arxiv.org/oai</request>'
        f'<error code="{code}">{message}</error></OAI-PMH>'
    )


def papers(items: list[Paper | Rejection]) -> list[Paper]:
    assert all(isinstance(i, Paper) for i in items), items
    return [i for i in items if isinstance(i, Paper)]


# --- the arXiv format, on recorded responses -------------------------------------------------


def test_arxiv_format_records_exactly() -> None:
    found = papers(parse_records(HEP_TH.encode()))
    assert [p.arxiv_id for p in found] == ["1412.8323", "1507.07790", "1607.01710"]
    hoehn, castro, correa = found
    assert hoehn.title == (
        "Toolbox for reconstructing quantum theory from rules on information acquisition"
    )
    assert hoehn.authors == ("Philipp A Hoehn",)
    assert hoehn.categories == (
        "quant-ph",
        "gr-qc",
        "hep-th",
        "math-ph",
        "math.MP",
        "physics.hist-ph",
    )
    assert hoehn.primary_category == "quant-ph"
    assert (hoehn.published_at, hoehn.updated_at) == (utc(2014, 12, 29), utc(2017, 12, 13))
    assert hoehn.license == "http://creativecommons.org/licenses/by/4.0/"
    assert hoehn.comments is not None and hoehn.comments.startswith(
        "78 pages, many figures, graphs and references. Version accepted for publication in Quantum"
    )
    assert hoehn.abstract.startswith("We develop an operational approach for reconstructing")
    assert hoehn.abstract.endswith(
        "yields a novel formulation of quantum theory in terms of questions."
    )
    assert (hoehn.version, hoehn.versions) == (None, ())
    assert hoehn.abs_url == "https://arxiv.org/abs/1412.8323"
    assert castro.authors == ("Luis B. Castro", "Edilberto O. Silva")
    assert castro.doi == "10.1088/1751-8121/aa9c53"
    assert castro.journal_ref == "J. Phys. A: Math. Theor. 51 (2018) 035201"
    assert castro.comments == "7 pages"
    assert castro.license == ARXIV_LICENSE
    assert correa.authors == (
        "R. A. C. Correa",
        "D. M. Dantas",
        "P. H. R. S. Moraes",
        "A. de Souza Dutra",
        "C. A. S. Almeida",
    )
    assert (correa.categories, correa.doi, correa.journal_ref) == (
        ("hep-th",),
        "10.1002/andp.201700188",
        None,
    )
    assert {p.source for p in found} == {"oai"}


def test_arxiv_format_hep_ex_and_get_record() -> None:
    found = papers(parse_records(HEP_EX.encode()))
    assert [p.arxiv_id for p in found] == ["1706.05371", "1706.09418", "1707.00874"]
    dercks = found[1]
    assert dercks.title == "R-Parity Violation at the LHC"
    assert dercks.authors == (
        "Daniel Dercks",
        "Herbi Dreiner",
        "Manuel E. Krauss",
        "Toby Opferkuch",
        "Annika Reinert",
    )
    assert dercks.journal_ref == "Eur. Phys. J. C (2017) 77:856"
    assert dercks.doi == "10.1140/epjc/s10052-017-5414-4"
    assert dercks.categories == ("hep-ph", "hep-ex")
    assert len(found[0].authors) == 13 and found[0].authors[-1] == "Mani Tripathi"
    [single] = papers(parse_records(GET_RECORD))
    assert single.arxiv_id == "1401.2122"
    assert single.categories == ("math.AP", "hep-th", "math-ph", "math.DG", "math.MP", "nlin.SI")
    assert single.journal_ref == "Lett. Math. Phys. 108 (2018), no. 2, 359-376"
    assert (single.published_at, single.updated_at) == (utc(2014, 1, 9), utc(2017, 10, 23))


# --- the arXivRaw format -------------------------------------------------------------------


def test_arxivraw_versions_with_dates_and_sizes() -> None:
    found = papers(parse_records(RAW.encode()))
    assert [(p.arxiv_id, p.version) for p in found] == [
        ("0704.0024", 1),
        ("0704.0001", 2),
        ("0704.0002", 2),
        ("0704.0027", 4),
        ("0704.0025", 1),
        ("0704.0044", 4),
    ]
    balazs = found[1]
    assert balazs.versions == (
        Version(1, utc(2007, 4, 2, 19, 18, 42), "37kb"),
        Version(2, utc(2007, 7, 24, 20, 10, 27), "37kb"),
    )
    assert balazs.published_at == utc(2007, 4, 2, 19, 18, 42)
    assert balazs.updated_at == utc(2007, 7, 24, 20, 10, 27)
    assert balazs.title == (
        "Calculation of prompt diphoton production cross sections at Tevatron and LHC energies"
    )
    assert balazs.authors == ("C. Bal\\'azs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan")
    assert (balazs.doi, balazs.journal_ref) == (
        "10.1103/PhysRevD.76.013009",
        "Phys.Rev.D76:013009,2007",
    )
    assert (balazs.categories, balazs.primary_category, balazs.license) == (
        ("hep-ph",),
        "hep-ph",
        None,
    )
    goerbig = found[3]
    assert [v.number for v in goerbig.versions] == [1, 2, 3, 4]
    assert goerbig.versions[-1] == Version(4, utc(2009, 9, 24, 12, 40, 18), "11kb")
    assert goerbig.authors == ("M. O. Goerbig", "J.-N. Fuchs", "K. Kechedzhi", "Vladimir I. Fal'ko")


def test_arxivraw_author_strings_are_split_carefully() -> None:
    by_id = {p.arxiv_id: p for p in papers(parse_records(RAW.encode()))}
    # Oxford comma.
    assert by_id["0704.0024"].authors == ("A.A. Serga", "M. Kostylev", "B. Hillebrands")
    # " and ", with numbered affiliations (containing "and" and commas) dropped.
    assert by_id["0704.0025"].authors == ("A. S. Mishchenko", "N. Nagaosa")
    assert by_id["0704.0025"].categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    # Affiliations in parentheses, wrapped across lines.
    assert by_id["0704.0044"].authors == (
        "A. A. Schekochihin",
        "S. C. Cowley",
        "W. Dorland",
        "G. W. Hammett",
        "G. G. Howes",
        "E. Quataert",
        "T. Tatsuno",
    )
    assert by_id["0704.0002"].authors == ("Ileana Streinu", "Louis Theran")


def test_deleted_records_are_skipped_and_token_is_read() -> None:
    page = parse_page(RAW.encode())
    assert len(page.records) == 7
    assert [r.identifier for r in page.records if r.deleted] == ["oai:arXiv.org:0704.0999"]
    assert (page.token, page.complete_list_size, page.token_cursor) == ("7112835|1001", 1231, 0)
    assert "0704.0999" not in {p.arxiv_id for p in papers(parse_records(RAW.encode()))}


# --- bad input -----------------------------------------------------------------------------


def test_truncated_response_raises_a_clear_source_error() -> None:
    data = RAW.encode()
    with pytest.raises(SourceError, match=r"OAI-PMH response is truncated .*cut off"):
        parse_page(data[: len(data) - 500])


def test_record_without_id_and_impossible_dates_are_rejections() -> None:
    xml = HEP_TH.replace("<id>1412.8323</id>", "", 1)
    xml = xml.replace("<created>2015-07-28</created>", "<created>2015-02-30</created>", 1)
    items = parse_records(xml.encode())
    assert items[0] == Rejection(1, "record has no <id>", "oai:arXiv.org:1412.8323")
    assert isinstance(items[1], Rejection)
    assert items[1].position == 2 and items[1].ident == "1507.07790"
    assert items[1].reason.startswith("bad <created> date '2015-02-30'")
    assert isinstance(items[2], Paper)


def test_arxivraw_impossible_version_date_is_a_rejection() -> None:
    xml = RAW.replace("Tue, 24 Jul 2007 20:10:27 GMT", "Fri, 30 Feb 2007 20:10:27 GMT")
    item = parse_records(xml.encode())[1]
    assert isinstance(item, Rejection) and item.ident == "0704.0001"
    assert item.reason.startswith("bad date 'Fri, 30 Feb 2007 20:10:27 GMT' of version v2")


def test_wrong_encoding_gives_a_clear_error() -> None:
    data = HEP_TH.replace("Hoehn", "Höhn").encode("latin-1")
    with pytest.raises(SourceError, match=r"OAI-PMH response is not valid utf-8 .* byte 0xf6"):
        parse_page(data)


# --- the source, against a local server ----------------------------------------------------


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime(2026, 11, 20, 10, 0, tzinfo=UTC))


@pytest.fixture
def fetcher(clock: FrozenClock) -> Iterator[Fetcher]:
    """One paced fetcher per test (3 s between requests, no retries), closed afterwards."""
    with Fetcher(min_interval=3.0, retries=0, timeout=5.0, clock=clock) as shared:
        yield shared


def source(server: ReplayServer, fetcher: Fetcher, **kw: object) -> OaiSource:
    options: dict[str, object] = {
        "set_spec": "physics:hep-th",
        "from_date": date(2017, 12, 14),
        "metadata_prefix": "arXiv",
    }
    options.update(kw)
    return OaiSource(fetcher, f"{server.url}{PATH}", **options)  # type: ignore[arg-type]


FIRST = {"verb": "ListRecords", "metadataPrefix": "arXiv", "set": "physics:hep-th"}


def script_two_pages(server: ReplayServer) -> None:
    server.script(
        PATH,
        Reply(200, with_token(HEP_TH, "tok-1", cursor=0, size=6)),
        Reply(200, with_token(HEP_EX, None, cursor=3, size=6)),
    )


def test_follows_resumption_tokens_across_pages(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    script_two_pages(replay_server)
    src: Source = source(replay_server, fetcher)
    records = list(src.records(None))
    assert [r.item.arxiv_id for r in records if isinstance(r.item, Paper)] == [
        "1412.8323",
        "1507.07790",
        "1607.01710",
        "1706.05371",
        "1706.09418",
        "1707.00874",
    ]
    assert [r.position for r in records] == [1, 2, 3, 4, 5, 6]
    assert src.total == 6
    assert [r.params() for r in replay_server.requests] == [
        {**FIRST, "from": "2017-12-14"},
        {"verb": "ListRecords", "resumptionToken": "tok-1"},
    ]
    assert clock.slept == [3.0]
    after_page = json.loads(records[2].cursor or "")
    assert after_page == {
        "token": "tok-1",
        "from": None,
        "skip": 0,
        "datestamp": "2017-12-14",
        "position": 3,
        "done": False,
    }
    assert json.loads(records[-1].cursor or "")["done"] is True


def test_resumes_from_a_page_boundary_with_the_token(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    script_two_pages(replay_server)
    cursor = list(source(replay_server, fetcher).records(None))[2].cursor
    replay_server.requests.clear()
    replay_server.script(PATH, Reply(200, with_token(HEP_EX, None, cursor=3, size=6)))
    records = list(source(replay_server, fetcher).records(cursor))
    assert [r.position for r in records] == [4, 5, 6]
    assert [r.params() for r in replay_server.requests] == [
        {"verb": "ListRecords", "resumptionToken": "tok-1"}
    ]


def test_resumes_mid_page_skipping_what_was_read(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    script_two_pages(replay_server)
    first_run = list(source(replay_server, fetcher).records(None))
    replay_server.requests.clear()
    script_two_pages(replay_server)
    records = list(source(replay_server, fetcher).records(first_run[0].cursor))
    assert [r.position for r in records] == [2, 3, 4, 5, 6]
    assert records[0].item.arxiv_id == "1507.07790"  # type: ignore[union-attr]
    assert replay_server.requests[0].params() == {**FIRST, "from": "2017-12-14"}


def test_expired_token_from_a_saved_cursor_restarts_from_the_last_datestamp(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    cursor = json.dumps({"token": "tok-old", "datestamp": "2017-12-14", "position": 3})
    replay_server.script(
        PATH,
        Reply(200, oai_error("badResumptionToken", "The resumptionToken has expired")),
        Reply(200, with_token(HEP_EX, None, cursor=0, size=3)),
    )
    src = source(replay_server, fetcher, from_date=date(2017, 1, 1), until=date(2017, 12, 31))
    records = list(src.records(cursor))
    assert [r.position for r in records] == [4, 5, 6]
    assert [r.params() for r in replay_server.requests] == [
        {"verb": "ListRecords", "resumptionToken": "tok-old"},
        {**FIRST, "from": "2017-12-14", "until": "2017-12-31"},
    ]


def test_token_expiring_mid_run_restarts_from_the_last_datestamp_reached(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(
        PATH,
        Reply(200, RAW),  # datestamps 2007-05-30 .. 2015-05-13, token 7112835|1001
        Reply(200, oai_error("badResumptionToken", "expired")),
        Reply(200, with_token(HEP_EX, None, cursor=0, size=3)),
    )
    src = source(
        replay_server,
        fetcher,
        set_spec=None,
        from_date=date(2007, 5, 1),
        metadata_prefix="arXivRaw",
    )
    records = list(src.records(None))
    assert len(records) == 6 + 3
    assert [r.params() for r in replay_server.requests] == [
        {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": "2007-05-01"},
        {"verb": "ListRecords", "resumptionToken": "7112835|1001"},
        {"verb": "ListRecords", "metadataPrefix": "arXivRaw", "from": "2015-05-13"},
    ]
    # The deleted record (5th) is skipped but keeps its place.
    assert [r.position for r in records] == [1, 2, 3, 4, 6, 7, 8, 9, 10]


def test_tokens_rejected_again_and_again_stop_the_run(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    page = Reply(200, with_token(HEP_TH, "tok-again", cursor=0, size=9))
    bad = Reply(200, oai_error("badResumptionToken", "expired"))
    replay_server.script(PATH, bad, page, bad, page, bad)
    src = source(replay_server, fetcher, max_restarts=2)
    cursor = json.dumps({"token": "tok-0", "datestamp": "2017-12-14"})
    with pytest.raises(SourceError, match=r"rejected resumption tokens 3 times without getting"):
        list(src.records(cursor))
    assert replay_server.pending() == {}


def test_no_records_match_is_an_empty_harvest(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(PATH, Reply(200, oai_error("noRecordsMatch", "No records match")))
    assert list(source(replay_server, fetcher).records(None)) == []
    assert len(replay_server.requests) == 1


def test_other_oai_errors_raise_with_code_and_message(
    replay_server: ReplayServer, clock: FrozenClock, fetcher: Fetcher
) -> None:
    replay_server.script(PATH, Reply(200, oai_error("badArgument", "Illegal set")))
    with pytest.raises(SourceError, match="OAI-PMH error badArgument: Illegal set"):
        list(source(replay_server, fetcher).records(None))


def test_http_error_page_is_a_source_error(replay_server: ReplayServer, fetcher: Fetcher) -> None:
    replay_server.script(PATH, Reply(404, "<html>not here</html>"))
    with pytest.raises(SourceError, match="OAI-PMH answered HTTP 404"):
        list(source(replay_server, fetcher).records(None))


def test_checkpoint_key_names_the_whole_job() -> None:
    src = OaiSource(Fetcher(), "http://x", set_spec="cs", from_date=date(2026, 1, 1))
    assert src.checkpoint_key == "oai:arXivRaw:set=cs:from=2026-01-01:until=*"


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"metadata_prefix": "oai_dc"}, "metadata_prefix must be one of arXivRaw, arXiv"),
        ({"set_spec": "cs LG"}, "not an arXiv OAI set"),
        ({"from_date": date(2026, 2, 1), "until": date(2026, 1, 1)}, "empty date range"),
    ],
)
def test_bad_arguments_are_refused(kw: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        OaiSource(Fetcher(), "http://x", **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize("cursor", ["tok-1", "[1, 2]", '{"skip": "x"}', '{"nope": 1}'])
def test_bad_cursor_is_refused(cursor: str) -> None:
    with pytest.raises(InvalidInputError, match="bad oai cursor"):
        next(OaiSource(Fetcher(), "http://x").records(cursor))


def test_from_settings_uses_the_configured_endpoint_and_pacing() -> None:
    settings = load_settings(arxiv_delay_seconds=3.0)
    src = OaiSource.from_settings(settings, set_spec="cs")
    assert (src.base_url, src.metadata_prefix, src.set_spec) == (
        settings.arxiv_oai_url,
        "arXivRaw",
        "cs",
    )
    assert src.fetcher.min_interval == 3.0


def test_a_finished_harvest_cursor_reads_nothing(
    replay_server: ReplayServer, fetcher: Fetcher
) -> None:
    script_two_pages(replay_server)
    last = list(source(replay_server, fetcher).records(None))[-1].cursor
    replay_server.requests.clear()
    assert list(source(replay_server, fetcher).records(last)) == []
    assert replay_server.requests == []
