"""Hugging Face's own client, ``huggingface_hub``, against a live paperfeed on 127.0.0.1.

A server (uvicorn on the app, in a thread) serves a real database holding real papers:
the recorded ``/api/daily_papers`` day (30 papers of 2026-06-12) and the archive excerpt
(papers of 2024, 2025 and 2026-06-10). ``HfApi(endpoint=...)`` must get from
``list_daily_papers``, ``list_papers`` and ``paper_info`` the same papers as paperfeed's
own JSON list and pages, with every field the client reads filled where the data has it.
Which fields the client reads is read from ``PaperInfo.__init__`` itself, so a client
that starts reading a new field fails here until the hub serves it (or says why not).
"""

from __future__ import annotations

import ast
import inspect
import json
import os
import textwrap
import threading
import time as clock_time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import Engine

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.models import Paper, StoredPaper
from paperfeed.store import papers as store
from paperfeed.store import submissions, users
from paperfeed.store.engine import make_engine, writing
from tests_support import FIXTURES, NewDatabase, seed_hf

NOW = datetime(2026, 6, 13, 16, 0, tzinfo=UTC)  # the day after the recorded daily list
DAY = "2026-06-12"

#: What the hub knows for each key that ``PaperInfo`` reads: whether a served answer
#: must carry it for this paper (``item`` is true for list items, false for
#: ``/api/papers/{id}``), or, as a string, why the hub never serves it.
Needed = Callable[[StoredPaper, bool], bool] | str
KEYS: dict[str, Needed] = {
    "paper": lambda s, item: item,
    "id": lambda s, item: True,
    "authors": lambda s, item: bool(s.paper.authors),
    "publishedAt": lambda s, item: item or s.paper.published_at is not None,
    "title": lambda s, item: True,
    "summary": lambda s, item: True,
    "upvotes": lambda s, item: True,
    "discussionId": lambda s, item: s.paper.discussion_id is not None,
    "numComments": lambda s, item: True,
    "submittedOnDailyAt": lambda s, item: s.paper.featured_on is not None,
    "submittedBy": lambda s, item: s.paper.submitted_by is not None,  # or a member's
    "submittedOnDailyBy": lambda s, item: s.paper.submitted_by is not None,
    "ai_summary": lambda s, item: s.paper.ai_summary is not None,
    "ai_keywords": lambda s, item: bool(s.paper.keywords),
    "organization": lambda s, item: s.paper.organization is not None,
    "projectPage": lambda s, item: s.paper.project_url is not None,
    "githubRepo": lambda s, item: s.paper.code_url is not None,
    "githubStars": lambda s, item: s.paper.github_stars is not None,
    "source": "Hugging Face's source of a paper page; paperfeed's source names its "
    "ingest channel, another thing",
    "linkedModels": "the Hub's models citing the paper: a papers hub has none",
    "numTotalModels": "the Hub's models citing the paper: a papers hub has none",
    "linkedDatasets": "the Hub's datasets citing the paper: a papers hub has none",
    "numTotalDatasets": "the Hub's datasets citing the paper: a papers hub has none",
    "linkedSpaces": "the Hub's Spaces citing the paper: a papers hub has none",
}


def client_reads() -> list[tuple[tuple[str, str], ...]]:
    """What ``PaperInfo.__init__`` reads from an answer: one tuple per assignment, of
    the places it tries in turn, each ``("kwargs", key)`` (the answer's top level) or
    ``("paper", key)`` (the item's ``paper`` object)."""
    from huggingface_hub.hf_api import PaperInfo

    tree = ast.parse(textwrap.dedent(inspect.getsource(PaperInfo.__init__)))
    reads = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Assign):
            continue
        places = tuple(
            (call.func.value.id, call.args[0].value)
            for call in ast.walk(node.value)
            if isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "pop"
            and isinstance(call.func.value, ast.Name)
            and call.func.value.id in ("kwargs", "paper")
            and call.args
            and isinstance(call.args[0], ast.Constant)
            and isinstance(call.args[0].value, str)
        )
        if places:
            reads.append(places)
    return reads


@dataclass
class Hub:
    base: str
    engine: Engine
    id_less: StoredPaper

    def json(self, path: str, **params: Any) -> Any:
        answer = httpx.get(self.base + path, params=params, timeout=60)
        assert answer.status_code == 200, (path, answer.text[:300])
        return answer.json()

    def submitter(self, stored: StoredPaper) -> str | None:
        """Who put the paper on the list: on Hugging Face, else a member here."""
        with self.engine.connect() as conn:
            here = submissions.submitters(conn, [stored.id]).get(stored.id)
        return stored.paper.submitted_by or here

    def stored(self, ident: str) -> StoredPaper:
        with self.engine.connect() as conn:
            found = (
                store.get_by_id(conn, int(ident[2:]))
                if ident.startswith("pf")
                else store.get_by_arxiv_id(conn, ident)
            )
        assert found is not None, ident
        return found


@pytest.fixture(scope="module")
def hub(new_database: NewDatabase, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Hub]:
    import uvicorn

    from paperfeed.deliver.app import create_app
    from paperfeed.ingest.hf_daily import HfDailySource
    from paperfeed.ingest.pipeline import ingest

    directory = tmp_path_factory.mktemp("hf_client")
    url = new_database(directory)
    engine = make_engine(url)
    clock = FrozenClock(NOW)
    seed_hf(engine, clock)  # the recorded day, with its vectors
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PAPERFEED_EMBED_ON_INGEST", "false")
        ingest(engine, HfDailySource(FIXTURES / "hf_daily_excerpt.jsonl"), clock=clock)
    untitled = Paper(
        title="A listing without an arXiv id",
        abstract="Found on a conference page; the hub numbers it.",
        authors=("Ada Lovelace",),
        featured_on=date(2026, 6, 11),
        source="test",
    )
    with writing(engine) as conn:
        (number,) = store.insert_papers(conn, [untitled], NOW)
        id_less = store.get_by_id(conn, number)
        # A member of the hub put it on the list (Hugging Face's submitter of the others).
        member = users.create_user(
            conn, email="ada@x.org", username="ada", password_hash="h", role="member", now=NOW
        )
        submissions.record(conn, paper_id=number, user_id=member.id, now=NOW)
    assert id_less is not None
    settings = load_settings(database_url=url, frozen_time=NOW, index_dir=str(directory))
    server = uvicorn.Server(
        uvicorn.Config(create_app(settings), host="127.0.0.1", port=0, log_level="warning")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = clock_time.monotonic() + 60
    while not server.started:
        assert thread.is_alive() and clock_time.monotonic() < deadline, "the server did not start"
        clock_time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        yield Hub(f"http://127.0.0.1:{port}", engine, id_less)
    finally:
        server.should_exit = True
        thread.join(timeout=30)
        engine.dispose()


@pytest.fixture
def hf(hub: Hub, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Any:
    """``HfApi`` pointed at the hub, as a user would set it up, never at huggingface.co."""
    monkeypatch.setenv("HF_ENDPOINT", hub.base)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_HUB_DISABLE_TELEMETRY", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))  # no token of the machine's user
    monkeypatch.delenv("HF_TOKEN", raising=False)
    from huggingface_hub import HfApi, constants

    # The constants were read when huggingface_hub was first imported in this process.
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(constants, "ENDPOINT", hub.base)
    assert os.environ["HF_ENDPOINT"] == hub.base
    return HfApi(endpoint=hub.base, token=False)


def _ids(infos: Any) -> list[str]:
    return [info.id for info in infos]


def _check_fields(hub: Hub, answer: dict[str, Any], *, item: bool) -> None:
    """Every place ``PaperInfo`` reads is served where the hub knows the field."""
    stored = hub.stored(answer["paper"]["id"] if item else answer["id"])
    paper = answer.get("paper", {}) if item else {}
    for places in client_reads():
        for _, key in places:
            assert key in KEYS, (
                f"huggingface_hub's PaperInfo reads {key!r}: serve it (and add it to KEYS) "
                "or say in KEYS why the hub cannot"
            )
        needed = [k for _, k in places if callable(KEYS[k]) and KEYS[k](stored, item)]  # type: ignore[operator]
        if not needed:
            continue
        served = [
            (where, key)
            for where, key in places
            if (answer if where == "kwargs" else paper).get(key) is not None
        ]
        assert served, f"{stored.paper.arxiv_id or stored.id}: none of {places} is served"


def _check_info(hub: Hub, info: Any, *, item: bool) -> None:
    """The client's object holds the stored paper's values, with the client's types."""
    stored = hub.stored(info.id)
    p = stored.paper
    assert info.title == p.title and info.summary == p.abstract
    assert [a.name for a in info.authors or []] == list(p.authors)
    if p.published_at is not None:
        assert info.published_at == p.published_at
    assert isinstance(info.comments, int) and info.comments >= (p.num_comments or 0)
    assert info.upvotes is None or info.upvotes >= (p.upvotes or 0)
    if p.featured_on is not None:
        # An item's is when the list published it; a paper's, when it joined the list.
        joined = p.submitted_on_daily_at or datetime.combine(p.featured_on, time(), UTC)
        assert info.submitted_at == (p.listed_at or joined if item else joined)
    assert info.discussion_id == p.discussion_id
    assert (info.submitted_by.username if info.submitted_by else None) == hub.submitter(stored)
    assert info.ai_summary == p.ai_summary
    assert info.ai_keywords == (list(p.keywords) if p.keywords else info.ai_keywords)
    assert (info.organization.name if info.organization else None) == p.organization
    assert info.project_page == p.project_url
    assert info.github_repo == p.code_url
    assert info.github_stars == p.github_stars


def test_the_client_reads_only_keys_the_hub_accounts_for() -> None:
    read = {key for places in client_reads() for _, key in places}
    assert {"id", "title", "summary", "numComments", "ai_summary", "githubRepo"} <= read
    assert read <= set(KEYS), sorted(read - set(KEYS))


def test_daily_papers_of_a_day_are_the_lists_papers(hf: Any, hub: Hub) -> None:
    infos = list(hf.list_daily_papers(date=DAY))
    assert len(infos) == 30
    listed = hub.json("/api/pf/daily_papers", date=DAY, sort="publishedAt")
    assert _ids(infos) == [item["paper"]["id"] for item in listed["data"]]
    assert listed["count"] == 30
    published = [info.published_at for info in infos]
    assert published == sorted(published, reverse=True), "default order: publishedAt"
    page = httpx.get(f"{hub.base}/papers/date/{DAY}", params={"sort": "publishedAt"}).text
    positions = [page.index(f'href="/papers/{ident}"') for ident in _ids(infos)]
    assert positions == sorted(positions), "the page lists the same papers in the same order"
    for info in infos:
        _check_info(hub, info, item=True)
    raw = hub.json("/api/daily_papers", date=DAY)
    assert isinstance(raw, list) and len(raw) == 30
    for answer in raw:
        _check_fields(hub, answer, item=True)
    assert any(info.github_stars for info in infos) and any(info.organization for info in infos)
    assert all(info.ai_summary and info.ai_keywords for info in infos)


def test_items_are_huggingface_cos_items(hub: Hub) -> None:
    """Each item of the recorded huggingface.co answer comes back with the same values,
    in the same formats, for every field the hub keeps."""
    recorded = json.loads((FIXTURES / "hf_daily_papers_api.json").read_text())
    served = {item["paper"]["id"]: item for item in hub.json("/api/daily_papers", date=DAY)}
    assert set(served) == {item["paper"]["id"] for item in recorded}
    kept = ("title", "publishedAt", "numComments", "thumbnail")
    kept_in_paper = (
        "id", "publishedAt", "submittedOnDailyAt", "title", "upvotes",
        "discussionId", "ai_summary", "ai_summary_model", "ai_keywords", "githubRepo",
        "githubStars", "projectPage",
    )  # fmt: skip
    for item in recorded:
        ours = served[item["paper"]["id"]]
        assert {k: ours.get(k) for k in kept} == {k: item.get(k) for k in kept}
        theirs = item["paper"]
        assert {k: ours["paper"].get(k) for k in kept_in_paper} == {
            k: theirs.get(k) for k in kept_in_paper
        }
        for text in (ours["summary"], ours["paper"]["summary"]):  # whitespace made plain
            assert text == " ".join(theirs["summary"].split())
        assert [a["name"] for a in ours["paper"]["authors"]] == [
            a["name"] for a in theirs["authors"]
        ]
        for mine, recorded_user in (
            (ours["submittedBy"], item["submittedBy"]),
            (ours["paper"]["submittedOnDailyBy"], theirs["submittedOnDailyBy"]),
        ):
            assert mine["name"] == recorded_user["name"]
            assert mine["fullname"] == recorded_user["fullname"]
        for organization in (item.get("organization"), theirs.get("organization")):
            if organization:
                assert ours["organization"] == ours["paper"]["organization"]
                assert {k: ours["organization"][k] for k in ("name", "fullname")} == {
                    k: organization[k] for k in ("name", "fullname")
                }


@pytest.mark.parametrize("sort", ["trending", "publishedAt", "votes"])
def test_sort_orders_match_the_json_list(hf: Any, hub: Hub, sort: str) -> None:
    infos = list(hf.list_daily_papers(date=DAY, sort=sort))
    listed = hub.json("/api/pf/daily_papers", date=DAY, sort=sort)
    assert _ids(infos) == [item["paper"]["id"] for item in listed["data"]]
    if sort == "votes":
        votes = [info.upvotes or 0 for info in infos]
        assert votes == sorted(votes, reverse=True)


def test_week_month_and_paging(hf: Any, hub: Hub) -> None:
    week = _ids(hf.list_daily_papers(week="2026-W24"))
    month = _ids(hf.list_daily_papers(month="2026-06", limit=100))
    day = _ids(hf.list_daily_papers(date=DAY))
    # 2606.11176 was listed on 2026-06-10 (and again on 06-16: featured on the first).
    assert (
        set(week)
        == set(month) - {hub.id_less.paper.arxiv_id}
        == set(day)
        | {
            "2606.11176",
            f"pf{hub.id_less.id}",
        }
        - {None}
    )
    assert hub.json("/api/pf/daily_papers", month="2026-06")["count"] == len(month) == 32
    first = _ids(hf.list_daily_papers(date=DAY, limit=20))
    second = _ids(hf.list_daily_papers(date=DAY, limit=20, p=1))
    assert len(first) == 20 and len(second) == 10 and set(first) | set(second) == set(day)
    assert _ids(hf.list_daily_papers(date="2024-05-27")) and not list(
        hf.list_daily_papers(date="2024-05-28")
    )


def test_submitter_keeps_that_users_papers(hf: Any, hub: Hub) -> None:
    theirs = list(hf.list_daily_papers(submitter="RKocielnik"))
    assert len(theirs) == 2
    assert {info.submitted_by.username for info in theirs} == {"RKocielnik"}
    assert _ids(hf.list_daily_papers(date=DAY, submitter="RKocielnik")) == _ids(theirs)
    assert not list(hf.list_daily_papers(date="2026-06-10", submitter="RKocielnik"))
    # A member who submitted a paper on this hub is its submitter too.
    ada = list(hf.list_daily_papers(submitter="ada"))
    assert _ids(ada) == [f"pf{hub.id_less.id}"] and ada[0].submitted_by.username == "ada"
    assert hf.paper_info(f"pf{hub.id_less.id}").submitted_by.username == "ada"
    kevin = _ids(hf.list_daily_papers(submitter="KevinQHLin"))
    assert kevin == ["2606.11176"]
    assert not list(hf.list_daily_papers(submitter="nobody-at-all"))


def test_search_is_the_hubs_search(hf: Any, hub: Hub) -> None:
    found = list(hf.list_papers(query="speculative decoding", limit=5))
    assert found and found[0].id == "2606.12243"
    listed = hub.json("/api/pf/papers/search", q="speculative decoding", limit=5)
    assert _ids(found) == [p["id"] for p in listed["data"]]
    for info in found:
        _check_info(hub, info, item=True)
    for answer in hub.json("/api/papers/search", q="speculative decoding", limit=5):
        _check_fields(hub, answer, item=True)
    # Without a query, as without a date: the latest day's papers, newest first.
    assert _ids(hf.list_papers(limit=5)) == _ids(hf.list_daily_papers(date=DAY, limit=5))
    # Nonsense finds nothing; paperfeed's envelope says so and shows the nearest few.
    assert not list(hf.list_papers(query="xqzv blorpt flimflam"))
    nearest = hub.json("/api/pf/papers/search", q="xqzv blorpt flimflam")
    assert nearest["closeMatch"] is False and nearest["notice"] and len(nearest["data"]) <= 5
    # ai_keywords and ai_summary are searched too: phrases in no title or abstract.
    for phrase in ('"autoregressive formulations"', '"self-generated long videos"'):
        assert "2510.02283" in _ids(hf.list_papers(query=phrase)), phrase


def test_paper_info_has_every_field(hf: Any, hub: Hub) -> None:
    for ident in ("2606.12243", "2510.02283", "2405.15738", "2606.11176"):
        info = hf.paper_info(ident)
        assert info.id == ident
        _check_info(hub, info, item=False)
        _check_fields(hub, hub.json(f"/api/papers/{ident}"), item=False)
    full = hf.paper_info("2510.02283")
    assert full.github_repo and full.github_stars and full.organization and full.project_page
    assert full.submitted_by and full.submitted_by.username == "cuijiaxing"
    assert hf.paper_info("2606.12243v2").id == "2606.12243"


def test_every_id_handed_out_opens_its_page(hf: Any, hub: Hub) -> None:
    ids = _ids(hf.list_daily_papers(month="2026-06", limit=100))
    ids += _ids(hf.list_daily_papers(date="2024-05-27"))
    assert f"pf{hub.id_less.id}" in ids
    for ident in ids:
        page = httpx.get(f"{hub.base}/papers/{ident}")
        assert page.status_code == 200, ident
        assert hub.stored(ident).paper.title.split(":")[0][:30] in page.text.replace("&#39;", "'")
    info = hf.paper_info(f"pf{hub.id_less.id}")
    assert info.title == hub.id_less.paper.title and info.published_at is None


def test_unknown_papers_are_the_clients_404(hf: Any) -> None:
    from huggingface_hub.errors import HfHubHTTPError

    for ident in ("2601.00001", "pf999999", "pf²"):
        with pytest.raises(HfHubHTTPError) as raised:
            hf.paper_info(ident)
        assert raised.value.response.status_code == 404
