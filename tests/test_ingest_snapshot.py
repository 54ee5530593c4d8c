"""The arXiv bulk snapshot source, on the real first 200 lines of the Kaggle snapshot."""

from __future__ import annotations

import gzip
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from paperfeed.errors import InvalidInputError, SourceError
from paperfeed.ingest.snapshot import SnapshotSource
from paperfeed.ingest.source import Source
from paperfeed.models import Paper, Parsed, Rejection, Version
from tests_support import FIXTURES

FIXTURE = FIXTURES / "kaggle_arxiv-metadata-oai-snapshot_first200.jsonl"

ABSTRACT_0001 = (
    "A fully differential calculation in perturbative quantum chromodynamics is presented for "
    "the production of massive photon pairs at hadron colliders. All next-to-leading order "
    "perturbative contributions from quark-antiquark, gluon-(anti)quark, and gluon-gluon "
    "subprocesses are included, as well as all-orders resummation of initial-state gluon "
    "radiation valid at next-to-next-to-leading logarithmic accuracy. The region of phase space "
    "is specified in which the calculation is most reliable. Good agreement is demonstrated "
    "with data from the Fermilab Tevatron, and predictions are made for more detailed tests "
    "with CDF and DO data. Predictions are shown for distributions of diphoton pairs produced "
    "at the energy of the Large Hadron Collider (LHC). Distributions of the diphoton pairs from "
    "the decay of a Higgs boson are contrasted with those produced from QCD processes at the "
    "LHC, showing that enhanced sensitivity to the signal can be obtained with judicious "
    "selection of events."
)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


def fixture_lines() -> list[bytes]:
    return FIXTURE.read_bytes().splitlines(keepends=True)


def fixture_record(index: int) -> dict[str, object]:
    record: dict[str, object] = json.loads(fixture_lines()[index])
    return record


def line(record: dict[str, object]) -> bytes:
    return json.dumps(record).encode() + b"\n"


def read_all(path: Path, cursor: str | None = None) -> list[Parsed]:
    return list(SnapshotSource(path).records(cursor))


def by_id(records: list[Parsed]) -> dict[str, Paper]:
    return {
        r.item.arxiv_id: r.item for r in records if isinstance(r.item, Paper) and r.item.arxiv_id
    }


def test_first_record_is_mapped_exactly() -> None:
    first = read_all(FIXTURE)[0]
    assert first.position == 1
    assert first.item == Paper(
        title="Calculation of prompt diphoton production cross sections at Tevatron and LHC "
        "energies",
        abstract=ABSTRACT_0001,
        arxiv_id="0704.0001",
        version=2,
        versions=(
            Version(1, utc(2007, 4, 2, 19, 18, 42)),
            Version(2, utc(2007, 7, 24, 20, 10, 27)),
        ),
        doi="10.1103/PhysRevD.76.013009",
        authors=("C. Balázs", "E. L. Berger", "P. M. Nadolsky", "C.-P. Yuan"),
        categories=("hep-ph",),
        primary_category="hep-ph",
        published_at=utc(2007, 4, 2, 19, 18, 42),
        updated_at=utc(2007, 7, 24, 20, 10, 27),
        license=None,
        comments="37 pages, 15 figures; published version",
        journal_ref="Phys.Rev.D76:013009,2007",
        abs_url="https://arxiv.org/abs/0704.0001",
        pdf_url="https://arxiv.org/pdf/0704.0001",
        source="snapshot",
    )


def test_fields_of_other_fixture_records() -> None:
    papers = by_id(read_all(FIXTURE))
    second = papers["0704.0002"]
    assert second.title == "Sparsity-certifying Graph Decompositions"
    assert second.authors == ("Ileana Streinu", "Louis Theran")
    assert second.categories == ("math.CO", "cs.CG")
    assert second.primary_category == "math.CO"
    assert second.license == "http://arxiv.org/licenses/nonexclusive-distrib/1.0/"
    assert second.doi is None and second.journal_ref is None
    assert second.updated_at == utc(2008, 12, 13, 17, 26, 0)
    # A suffix goes after the surname; an affiliation (4th element) is not part of a name.
    assert papers["0704.0009"].authors[5] == "Neal J. Evans II"
    assert papers["0704.0025"].authors == ("A. S. Mishchenko", "N. Nagaosa")
    assert papers["0704.0025"].categories == ("cond-mat.str-el", "cond-mat.stat-mech")
    many = papers["0704.0064"]
    assert many.version == 5
    assert [v.number for v in many.versions] == [1, 2, 3, 4, 5]
    assert many.published_at == utc(2007, 4, 1, 13, 32, 15)
    assert many.updated_at == utc(2008, 10, 24, 12, 23, 58)


def test_all_fixture_lines_become_papers_in_order() -> None:
    records = read_all(FIXTURE)
    assert [r.position for r in records] == list(range(1, 201))
    papers = [r.item for r in records]
    assert all(isinstance(p, Paper) for p in papers)
    assert [p.arxiv_id for p in papers if isinstance(p, Paper)] == [
        f"0704.{n:04d}" for n in range(1, 201)
    ]
    for paper in papers:
        assert isinstance(paper, Paper)
        assert "\n" not in paper.title and paper.abstract == paper.abstract.strip()
        assert paper.versions and paper.version == paper.versions[-1].number
        assert paper.published_at == paper.versions[0].submitted_at
        assert all(v.submitted_at and v.submitted_at.tzinfo is UTC for v in paper.versions)
        assert paper.authors and paper.primary_category == paper.categories[0]


def test_gzip_is_detected_by_content_and_gives_identical_records(tmp_path: Path) -> None:
    data = FIXTURE.read_bytes()
    misnamed_gzip = tmp_path / "snapshot.json"
    misnamed_gzip.write_bytes(gzip.compress(data))
    misnamed_plain = tmp_path / "snapshot.json.gz"
    misnamed_plain.write_bytes(data)
    plain = read_all(misnamed_plain)
    compressed = read_all(misnamed_gzip)
    assert SnapshotSource(misnamed_gzip).is_gzip() and not SnapshotSource(misnamed_plain).is_gzip()
    assert [(r.item, r.position) for r in compressed] == [(r.item, r.position) for r in plain]
    assert compressed[-1].cursor == "200"
    assert plain[-1].cursor == f"200@{len(data)}"


@pytest.mark.parametrize("compressed", [False, True], ids=["plain", "gzip"])
def test_resume_skips_exactly_the_lines_already_read(tmp_path: Path, compressed: bool) -> None:
    lines = fixture_lines()
    # Blank lines in the middle must not shift positions or cursors.
    body = b"".join(lines[:50]) + b"\n  \n" + b"".join(lines[50:])
    path = tmp_path / "snapshot"
    path.write_bytes(gzip.compress(body) if compressed else body)
    everything = read_all(path)
    assert len(everything) == 200
    assert everything[50].position == 53
    for stop in (0, 49, 50, 137, 199):
        resumed = read_all(path, everything[stop].cursor)
        assert [(r.item, r.position, r.cursor) for r in resumed] == [
            (r.item, r.position, r.cursor) for r in everything[stop + 1 :]
        ]


def test_plain_resume_by_line_number_alone_or_with_a_stale_offset(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(FIXTURE.read_bytes())
    everything = read_all(path)
    line_only = read_all(path, "120")
    assert [r.item for r in line_only] == [r.item for r in everything[120:]]
    # An offset that is not the start of a line is not trusted: lines are counted instead.
    stale = read_all(path, "120@7")
    assert [r.position for r in stale] == list(range(121, 201))
    assert [r.item for r in stale] == [r.item for r in everything[120:]]


def test_a_malformed_cursor_is_refused() -> None:
    with pytest.raises(InvalidInputError, match="not a snapshot cursor"):
        next(SnapshotSource(FIXTURE).records("line-12"))


def test_each_bad_line_is_one_rejection_and_the_stream_goes_on(tmp_path: Path) -> None:
    good = fixture_record(1)
    no_id = {k: v for k, v in fixture_record(2).items() if k != "id"}
    bad_date = fixture_record(3)
    bad_date["versions"] = [{"version": "v1", "created": "Mon, 30 Feb 2007 10:00:00 GMT"}]
    latin1 = line(fixture_record(4)).replace(b"From dyadic", "Café dyadic".encode("latin-1"))
    huge = fixture_record(5)
    huge["abstract"] = "word " * 2_000_000  # 10 MB: size limits are the pipeline's job
    bad_id = fixture_record(6)
    bad_id["id"] = "not an id"
    body = b"".join(
        [
            line(good),  # 1
            b'{"id": "0704.9999", "title": \n',  # 2: invalid JSON
            latin1,  # 3
            line(no_id),  # 4
            b"\n",  # 5: blank, skipped
            line(bad_date),  # 6
            b"[1, 2, 3]\n",  # 7: not an object
            line(huge),  # 8
            line(good),  # 9: the same id again, yielded (dedup is the pipeline's job)
            line(bad_id),  # 10
            fixture_lines()[7],  # 11
        ]
    )
    path = tmp_path / "bad.jsonl"
    path.write_bytes(body)
    records = read_all(path)
    assert [r.position for r in records] == [1, 2, 3, 4, 6, 7, 8, 9, 10, 11]
    kinds = {r.position: r.item for r in records}
    rejected = {p: item for p, item in kinds.items() if isinstance(item, Rejection)}
    assert sorted(rejected) == [2, 3, 4, 6, 7, 10]
    assert rejected[2].reason.startswith("invalid JSON")
    assert rejected[3].reason.startswith("not valid UTF-8: byte 0xe9")
    assert rejected[4].reason == "missing id" and rejected[4].ident is None
    assert "impossible date 'Mon, 30 Feb 2007 10:00:00 GMT'" in rejected[6].reason
    assert rejected[6].ident == "0704.0004"
    assert rejected[7].reason == "expected a JSON object, got list"
    assert rejected[10].ident == "not an id" and "not an arXiv identifier" in rejected[10].reason
    assert all(item.position == p for p, item in rejected.items())
    big = kinds[8]
    assert isinstance(big, Paper) and big.arxiv_id == "0704.0006"
    assert len(big.abstract) == 10_000_000 - 1
    first, again = kinds[1], kinds[9]
    assert isinstance(first, Paper) and first == again and first.arxiv_id == "0704.0002"
    last = kinds[11]
    assert isinstance(last, Paper) and last.arxiv_id == "0704.0008"


def test_old_style_ids_unsorted_versions_and_the_free_text_authors(tmp_path: Path) -> None:
    record = fixture_record(0)
    record["id"] = "hep-th/9901001"
    record["authors_parsed"] = []
    record["authors"] = "A. One, B. Two and C.\n  Three"
    record["versions"] = [
        {"version": "v2", "created": "Tue, 24 Jul 2007 20:10:27 GMT"},
        {"version": "v1", "created": "Mon, 2 Apr 2007 19:18:42 GMT"},
    ]
    record["doi"] = ""
    path = tmp_path / "old.jsonl"
    path.write_bytes(line(record))
    (parsed,) = read_all(path)
    paper = parsed.item
    assert isinstance(paper, Paper)
    assert paper.arxiv_id == "hep-th/9901001"
    assert paper.authors == ("A. One", "B. Two", "C. Three")
    assert paper.version == 2 and paper.published_at == utc(2007, 4, 2, 19, 18, 42)
    assert paper.doi is None


def test_a_record_without_versions_uses_update_date(tmp_path: Path) -> None:
    record = fixture_record(0)
    record["versions"] = []
    path = tmp_path / "no-versions.jsonl"
    path.write_bytes(line(record))
    (parsed,) = read_all(path)
    assert isinstance(parsed.item, Paper)
    assert parsed.item.version is None and parsed.item.published_at is None
    assert parsed.item.updated_at == utc(2008, 11, 26)


def test_checkpoint_key_names_the_file_and_its_size(tmp_path: Path) -> None:
    path = tmp_path / "snapshot.json"
    path.write_bytes(fixture_lines()[0])
    source: Source = SnapshotSource(path)  # mypy checks the protocol
    assert source.name == "snapshot"
    assert source.checkpoint_key == f"snapshot:{path.resolve()}:{path.stat().st_size}"
    with path.open("ab") as more:
        more.write(fixture_lines()[1])
    assert source.checkpoint_key.endswith(f":{path.stat().st_size}")


def test_missing_truncated_and_corrupt_files_are_source_errors(tmp_path: Path) -> None:
    with pytest.raises(SourceError, match="cannot read snapshot file"):
        list(SnapshotSource(tmp_path / "absent.json").records(None))
    packed = gzip.compress(FIXTURE.read_bytes() * 5)
    truncated = tmp_path / "truncated.json.gz"
    truncated.write_bytes(packed[: len(packed) // 2])
    seen = []
    with pytest.raises(SourceError, match="truncated"):
        for record in SnapshotSource(truncated).records(None):
            seen.append(record)
    assert seen and all(isinstance(r.item, Paper) for r in seen)
    corrupt = tmp_path / "corrupt.json.gz"
    middle = len(packed) // 2
    corrupt.write_bytes(packed[:middle] + bytes(256) + packed[middle + 256 :])
    with pytest.raises(SourceError, match="corrupt"):
        list(SnapshotSource(corrupt).records(None))


@pytest.mark.slow  # writes and streams a large file
def test_a_large_gzip_file_is_streamed_in_constant_memory(tmp_path: Path) -> None:
    lines = fixture_lines()
    path = tmp_path / "big.json.gz"
    with gzip.open(path, "wb", compresslevel=1) as out:
        for _ in range(100):
            out.writelines(lines)
    uncompressed = 100 * sum(len(x) for x in lines)
    assert uncompressed > 28_000_000
    count = 0
    tracemalloc.start()
    try:
        for record in SnapshotSource(path).records(None):
            count += isinstance(record.item, Paper)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 20_000
    assert peak < 4_000_000
