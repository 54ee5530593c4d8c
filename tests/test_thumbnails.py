"""Paper thumbnails (#18): the job draws a PDF's first page or takes Hugging Face's image,
paced and named as arXiv asks, against a replay server; the hub serves the stored image
with a long cache lifetime, and a card without one shows a typographic block instead."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import Engine

from paperfeed.clock import FrozenClock
from paperfeed.config import load_settings
from paperfeed.deliver.app import create_app
from paperfeed.ingest.http import Fetcher
from paperfeed.ingest.thumbnails import (
    ThumbnailJob,
    first_page,
    image_type,
    png,
    thumbnail_job,
    user_agent,
)
from paperfeed.models import Paper
from paperfeed.store import papers as paper_store
from paperfeed.store import thumbnails as store
from paperfeed.store.engine import writing
from replay_server import ReplayServer, Reply, replay_server_fixture  # noqa: F401

NOW = datetime(2026, 11, 23, 12, tzinfo=UTC)


def tiny_pdf(title: bytes = b"A Tiny Paper") -> bytes:
    """A one-page PDF written by hand: a line of text and a blue box."""
    stream = b"BT /F1 28 Tf 72 700 Td (" + title + b") Tj ET 0 0 1 rg 72 500 300 100 re f"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = b"%PDF-1.4\n"
    offsets = []
    for number, body in enumerate(objects, 1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return out


def _papers(engine: Engine, *papers: Paper) -> list[int]:
    with writing(engine) as conn:
        return paper_store.insert_papers(conn, [p.with_arxiv_links() for p in papers], NOW)


def _job(engine: Engine, server: ReplayServer, clock: FrozenClock) -> ThumbnailJob:
    def fetcher(interval: float) -> Fetcher:
        return Fetcher(
            min_interval=interval, retries=0, clock=clock, user_agent=user_agent("ops@hub.example")
        )

    return ThumbnailJob(
        engine, fetcher(3.0), fetcher(1.0), pdf_url=f"{server.url}/pdf", now=clock.now
    )


def test_first_page_is_drawn_as_png() -> None:
    import numpy as np

    image, width, height = first_page(tiny_pdf(), width=300)
    assert image_type(image) == "image/png"
    assert (width, height) == (300, 225)  # the top 4:3 of the page
    # A grey image is written as one channel; a coloured one as RGB.
    grey = png(np.full((4, 5, 3), 200, dtype=np.uint8))
    assert grey[25] == 0 and image[25] == 2  # the IHDR colour type byte


def test_the_job_draws_pdfs_paced_and_takes_imported_thumbnails(
    engine: Engine, replay_server: ReplayServer
) -> None:
    clock = FrozenClock(NOW)
    hf_png = png(__import__("numpy").zeros((10, 16, 3), dtype=__import__("numpy").uint8) + 90)
    first, second, imported, missing = _papers(
        engine,
        Paper("First", "a", arxiv_id="2611.00001", version=2, featured_on=date(2026, 11, 23)),
        Paper("Second", "b", arxiv_id="2611.00002", version=1, featured_on=date(2026, 11, 22)),
        Paper(
            "Imported",
            "c",
            arxiv_id="2611.00003",
            featured_on=date(2026, 11, 21),
            thumbnail_url=f"{replay_server.url}/thumbs/2611.00003.png",
        ),
        Paper("Missing", "d", arxiv_id="2611.00004", version=1, featured_on=date(2026, 11, 20)),
    )
    replay_server.script("/pdf/2611.00001v2", Reply(200, tiny_pdf(b"First")))
    replay_server.script("/pdf/2611.00002v1", Reply(200, tiny_pdf(b"Second")))
    replay_server.script("/thumbs/2611.00003.png", Reply(200, hf_png))
    replay_server.script("/pdf/2611.00004v1", Reply(404, b"no such paper"))

    report = _job(engine, replay_server, clock).run(limit=10)

    assert (report.made, report.failed) == (3, 1), report
    requests = replay_server.requests_to("/pdf/2611.00001v2")
    assert "ops@hub.example" in requests[0].headers["user-agent"]
    # arXiv is asked once every 3 s: three PDF requests, two waits.
    assert clock.slept.count(3.0) == 2
    with engine.connect() as conn:
        found = store.available(conn, [first, second, imported, missing])
        assert found == {first: "image/png", second: "image/png", imported: "image/png"}
        stored = store.get(conn, imported)
        assert stored is not None and stored.image == hf_png
        # The failed one waits a day before the next try; the made ones are never redone.
        assert store.due(conn, now=NOW, limit=10) == []
        later = store.due(conn, now=NOW + timedelta(days=1, minutes=1), limit=10)
        assert [c.paper_id for c in later] == [missing]
        assert later[0].attempts == 1


def test_an_unreachable_arxiv_stops_the_run_and_loses_nothing(
    engine: Engine, replay_server: ReplayServer
) -> None:
    clock = FrozenClock(NOW)
    _papers(engine, Paper("One", "a", arxiv_id="2611.00011", version=1))
    replay_server.script("/pdf/2611.00011v1", Reply(503, b"busy"))
    report = _job(engine, replay_server, clock).run(limit=5)
    assert report.made == 0 and report.failed == 0 and report.stopped
    with engine.connect() as conn:
        assert len(store.due(conn, now=NOW, limit=5)) == 1  # tried again next run


def test_the_hub_serves_thumbnails_and_cards_never_show_a_broken_image(db_url: str) -> None:
    app = create_app(load_settings(database_url=db_url, frozen_time=NOW))
    engine = app.state.hub.engine
    drawn, plain = _papers(
        engine,
        Paper(
            "Drawn $\\mathbb{R}^d$ paper",
            "x",
            arxiv_id="2611.00021",
            featured_on=date(2026, 11, 23),
        ),
        Paper("Plain paper", "y", arxiv_id="2611.00022", featured_on=date(2026, 11, 23)),
    )
    image, width, height = first_page(tiny_pdf(), width=200)
    with writing(engine) as conn:
        store.save(
            conn,
            drawn,
            image=image,
            media_type="image/png",
            width=width,
            height=height,
            source="arxiv",
            attempts=1,
            now=NOW,
        )
    with TestClient(app) as client:
        served = client.get(f"/thumbnails/{drawn}.png")
        assert served.status_code == 200 and served.content == image
        assert served.headers["content-type"] == "image/png"
        assert "max-age=31536000" in served.headers["cache-control"]
        assert client.get(f"/thumbnails/{drawn}.webp").status_code == 404
        assert client.get(f"/thumbnails/{plain}.png").status_code == 404
        assert client.get("/thumbnails/../etc.png").status_code == 404
        page = client.get("/papers/date/2026-11-23").text
    assert f'src="/thumbnails/{drawn}.png"' in page
    assert f"/thumbnails/{plain}." not in page
    assert page.count('class="thumb typo"') == 1


def test_the_job_from_settings_names_the_contact(engine: Engine) -> None:
    settings = load_settings(thumbnails_contact="ops@hub.example", arxiv_delay_seconds=3)
    job = thumbnail_job(settings, engine)
    assert job.arxiv.min_interval == 3
    assert "ops@hub.example" in job.arxiv.user_agent
    assert "paperfeed@localhost" in thumbnail_job(load_settings(), engine).arxiv.user_agent


def test_the_scheduler_runs_the_job_after_each_ingestion() -> None:
    from datetime import time
    from zoneinfo import ZoneInfo

    from paperfeed.deliver.scheduler import Plan, due_jobs
    from paperfeed.rank.editions import DigestSchedule

    plan = Plan(
        DigestSchedule(ZoneInfo("America/New_York")),
        time(20, 30),
        ("rss cs.LG",),
        timedelta(minutes=30),
    )
    jobs = due_jobs(plan, NOW - timedelta(days=7), NOW)
    ingests = [j.at for j in jobs if j.kind == "ingest"]
    thumbs = [j.at for j in jobs if j.kind == "thumbnails"]
    assert ingests and thumbs == [at + timedelta(minutes=30) for at in ingests]
    assert {j.key for j in jobs if j.kind == "thumbnails"} == {"fetch"}
    never = Plan(plan.digests, plan.ingest_at, plan.ingest, None)
    assert not [j for j in due_jobs(never, NOW - timedelta(days=7), NOW) if j.kind == "thumbnails"]
