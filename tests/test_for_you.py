"""The "For you" feed through the app: the page explains itself with real liked papers,
"not interested" removes a paper, exclusions are absolute, reset forgets, members never
change each other's feeds, every signal retrains (and nothing else does), the API, the
private feed and the digest section."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from community_support import (
    NOW,
    Inbox,
    add_paper,
    community_settings,
    csrf_of,
    log_in,
    make_member,
    smtp,
    token_for,
)
from paperfeed.deliver.app import create_app
from paperfeed.deliver.digests.for_you import ForYouSection
from paperfeed.index.recommend.cache import FeatureCache
from paperfeed.rank.editions import Edition, schedule_of
from paperfeed.store import collections, subscriptions, votes
from paperfeed.store.engine import writing
from paperfeed.store.subscriptions import Subscriber

__all__ = ["smtp"]

TOPICS = {
    "speech": "Speech recognition with acoustic models of spoken audio waveforms",
    "graphs": "Graph neural networks passing messages between molecule nodes and edges",
    "vision": "Image segmentation of pixels with convolutional camera detectors",
}


@pytest.fixture
def client(db_url: str, smtp: tuple[Inbox, int], tmp_path: Any) -> Iterator[TestClient]:
    app = create_app(community_settings(db_url, smtp[1], tmp_path, embedder="static"))
    # A request waits for the corpus features as long as it takes here: under load their
    # first build may outlast the second a page waits (that fallback is tested apart).
    app.state.services.recommender.wait_seconds = None
    with TestClient(app) as c:
        ids: dict[str, list[int]] = {t: [] for t in TOPICS}
        n = 0
        for topic, text in TOPICS.items():
            for i in range(8):
                n += 1
                pid = add_paper(
                    c,
                    f"2611.{n:05d}",
                    title=f"{text.split(' with ')[0].split(' of ')[0]} study {i}",
                    abstract=f"{text}. Variant {i} of the {topic} method.",
                    authors=(f"Ann {topic.title()}", f"Bo {i}"),
                    categories=(f"cs.{topic[:2].upper()}",),
                    primary_category=f"cs.{topic[:2].upper()}",
                )
                ids[topic].append(pid)
        c.app.state.hub.semantic.embed_missing()  # type: ignore[attr-defined]
        c.app.state.topics = ids  # type: ignore[attr-defined]
        yield c


def topics(c: TestClient) -> dict[str, list[int]]:
    found: dict[str, list[int]] = c.app.state.topics  # type: ignore[attr-defined]
    return found


def engine_of(c: TestClient) -> Any:
    return c.app.state.services.accounts.engine  # type: ignore[attr-defined]


def login(c: TestClient, name: str) -> tuple[TestClient, int]:
    member = make_member(c, name)
    browser = TestClient(c.app)
    log_in(browser, f"{name}@example.org")
    return browser, member.id


def upvote(c: TestClient, user: int, pids: list[int]) -> None:
    with writing(engine_of(c)) as conn:
        for pid in pids:
            votes.set_vote(conn, paper_id=pid, user_id=user, on=True, now=NOW)


def feed_ids(browser: TestClient) -> list[int]:
    answer = browser.get("/api/me/recommendations")
    assert answer.status_code == 200, answer.text
    return [item["paper"]["paper_id"] for item in answer.json()["data"]]


def test_for_you_page_explains_with_real_liked_papers(client: TestClient) -> None:
    browser, user = login(client, "ada")
    liked = topics(client)["speech"][:4]
    upvote(client, user, liked)
    page = browser.get("/for-you")
    assert page.status_code == 200
    assert 'href="/for-you"' in page.text  # the nav link
    api = browser.get("/api/me/recommendations").json()
    assert not api["cold_start"]
    model_items = [i for i in api["data"] if i["source"] == "model"]
    assert model_items
    top = [i["paper"]["paper_id"] for i in model_items[:3]]
    assert set(top) <= set(topics(client)["speech"])
    for item in model_items:
        assert item["reason"]["liked"]
        assert {x["paper_id"] for x in item["reason"]["liked"]} <= set(liked)
        for liked_paper in item["reason"]["liked"]:
            assert f'href="{liked_paper["path"]}">{liked_paper["title"]}</a>' in page.text
    assert not set(liked) & {i["paper"]["paper_id"] for i in api["data"]}


def test_not_interested_removes_the_paper(client: TestClient) -> None:
    browser, user = login(client, "ada")
    upvote(client, user, topics(client)["speech"][:4])
    first = feed_ids(browser)[0]
    answer = browser.post(
        f"/papers/id/{first}/not-interested",
        data={"csrf": csrf_of(browser, "/for-you")},
        headers={"HX-Request": "true"},
    )
    assert answer.status_code == 200 and answer.text == ""
    assert first not in feed_ids(browser)
    assert f'id="fy-{first}"' not in browser.get("/for-you").text


def test_exclusions_are_absolute_and_reset_forgets(client: TestClient) -> None:
    browser, user = login(client, "ada")
    upvote(client, user, topics(client)["speech"][:4])
    token = csrf_of(browser, "/account/recommendations")
    for kind, value in (("keyword", "molecule"), ("category", "cs.VI")):
        done = browser.post(
            "/account/recommendations/exclusions",
            data={"csrf": token, "kind": kind, "value": value},
            follow_redirects=False,
        )
        assert done.status_code == 303
    browser.post("/account/recommendations", data={"csrf": token, "exploration": "100"})
    shown = set(feed_ids(browser))
    assert shown
    assert not shown & set(topics(client)["graphs"] + topics(client)["vision"])

    fresh, _ = login(client, "bob")
    browser.post("/account/recommendations/reset", data={"csrf": token})
    for kind, value in (("keyword", "molecule"), ("category", "cs.VI")):
        browser.post(
            "/account/recommendations/exclusions",
            data={"csrf": token, "kind": kind, "value": value, "remove": "1"},
        )
    browser.post("/account/recommendations", data={"csrf": token, "exploration": "10"})
    after = browser.get("/api/me/recommendations").json()
    assert after["cold_start"]
    assert feed_ids(browser) == feed_ids(fresh)


def test_one_members_signals_never_change_anothers_feed(client: TestClient) -> None:
    ada, ada_id = login(client, "ada")
    bob, bob_id = login(client, "bob")
    upvote(client, ada_id, topics(client)["speech"][:4])
    before = browser_json(ada)
    upvote(client, bob_id, topics(client)["graphs"][:5])
    target = topics(client)["speech"][5]
    bob.post(f"/papers/id/{target}/not-interested", data={"csrf": csrf_of(bob, "/for-you")})
    assert browser_json(ada) == before


def browser_json(browser: TestClient) -> list[tuple[int, str]]:
    data = browser.get("/api/me/recommendations").json()["data"]
    return [(i["paper"]["paper_id"], i["reason"]["text"]) for i in data]


def test_every_signal_retrains_and_nothing_else_does(client: TestClient) -> None:
    browser, user = login(client, "ada")
    recommender = client.app.state.services.recommender  # type: ignore[attr-defined]
    upvote(client, user, topics(client)["speech"][:3])
    feed_ids(browser)
    count = recommender.trainings
    feed_ids(browser)
    browser.get("/for-you")
    assert recommender.trainings == count  # cached while nothing changed
    token = csrf_of(browser, "/account/recommendations")
    engine = engine_of(client)
    pid = topics(client)["graphs"][0]

    def save() -> None:
        with writing(engine) as conn:
            cid = collections.create(
                conn, user_id=user, title="Mine", description="", public=False, now=NOW
            )
            collections.put_item(conn, cid, topics(client)["speech"][6], "", NOW)

    signals = [
        lambda: upvote(client, user, [topics(client)["speech"][4]]),
        save,
        lambda: browser.post(f"/papers/id/{pid}/not-interested", data={"csrf": token}),
        lambda: browser.post(
            "/account/recommendations/seeds", data={"csrf": token, "text": "arXiv:2611.00020"}
        ),
        lambda: browser.post(
            "/account/recommendations/exclusions",
            data={"csrf": token, "kind": "author", "value": "Bo 7"},
        ),
        lambda: browser.post(
            "/account/recommendations/topics", data={"csrf": token, "query": "graph nodes"}
        ),
    ]
    for n, signal in enumerate(signals):
        signal()
        feed_ids(browser)
        assert recommender.trainings == count + n + 1, n
    with engine.connect() as conn:
        from paperfeed.store import recommendations as rec

        seeds = [s.paper_id for s in rec.signals_of(conn, user).positives if s.kind == "seed"]
    assert seeds == [topics(client)["vision"][3]]  # 2611.00020 is the 20th paper


def test_api_needs_a_member_and_takes_a_token(client: TestClient) -> None:
    anonymous = TestClient(client.app)
    assert anonymous.get("/api/me/recommendations").status_code == 401
    assert anonymous.get("/for-you").status_code == 401
    member = make_member(client, "carol")
    upvote(client, member.id, topics(client)["vision"][:3])
    answer = anonymous.get("/api/me/recommendations", headers=token_for(client, member))
    assert answer.status_code == 200
    assert answer.json()["count"] > 0
    ni = anonymous.post(
        f"/api/me/not-interested/{topics(client)['vision'][5]}",
        headers=token_for(client, member),
    )
    assert ni.status_code == 200 and ni.json()["not_interested"]


def test_private_feed_behind_a_revocable_token(client: TestClient) -> None:
    browser, user = login(client, "ada")
    upvote(client, user, topics(client)["speech"][:4])
    token = csrf_of(browser, "/account/recommendations")
    page = browser.post("/account/recommendations/feed", data={"csrf": token})
    match = re.search(
        r'<code id="feed-url">http://testserver(/feeds/for-you/[^<]+)</code>', page.text
    )
    assert match, page.text[:2000]
    anonymous = TestClient(client.app)
    feed = anonymous.get(match.group(1))
    assert feed.status_code == 200
    assert feed.headers["content-type"].startswith("application/atom+xml")
    assert "private" in feed.headers["cache-control"]
    assert feed.text.count("<entry>") == len(feed_ids(browser))
    browser.post("/account/recommendations/feed", data={"csrf": token, "revoke": "1"})
    assert anonymous.get(match.group(1)).status_code == 404


def test_digest_for_you_section(client: TestClient) -> None:
    _, user = login(client, "ada")
    upvote(client, user, topics(client)["speech"][:4])
    settings = client.app.state.hub.settings  # type: ignore[attr-defined]
    schedule = schedule_of(settings)
    provider = ForYouSection(client.app.state.services.recommender, schedule, 3)  # type: ignore[attr-defined]
    edition = Edition("daily", NOW.date())
    with writing(engine_of(client)) as conn:
        sid = subscriptions.create(
            conn, email="ada@example.org", frequency="daily", link_key="k", now=NOW, user_id=user
        )
        found = subscriptions.get(conn, sid)
    assert isinstance(found, Subscriber)
    sections = provider(found, edition)
    assert [s.title for s in sections] == ["For you"]
    assert sections[0].kind == "recommended"
    assert len(sections[0].papers) == 3
    assert {s.id for s in sections[0].papers} <= set(topics(client)["speech"])
    anonymous = Subscriber(**{**found.__dict__, "user_id": None})
    assert provider(anonymous, edition) == []


def test_opening_a_paper_is_a_weak_signal_recorded_once(client: TestClient) -> None:
    from paperfeed.store import recommendations as rec

    browser, user = login(client, "ada")
    pid = topics(client)["graphs"][2]
    page = browser.get(f"/papers/id/{pid}", follow_redirects=True)
    assert f'hx-post="/papers/id/{pid}/viewed"' in page.text
    engine = engine_of(client)
    with engine.connect() as conn:
        assert rec.signals_of(conn, user).positives == ()  # a GET changes nothing
    token = csrf_of(browser, "/for-you")
    assert browser.post(f"/papers/id/{pid}/viewed", data={"csrf": token}).status_code == 204
    with engine.connect() as conn:
        version = rec.signal_version(conn, user)
        assert [(s.paper_id, s.kind) for s in rec.signals_of(conn, user).positives] == [
            (pid, "view")
        ]
    assert browser.post(f"/papers/id/{pid}/viewed", data={"csrf": token}).status_code == 204
    with engine.connect() as conn:
        assert rec.signal_version(conn, user) == version
    assert TestClient(client.app).post(f"/papers/id/{pid}/viewed").status_code in (401, 403)


def test_not_interested_is_only_on_for_you_cards(client: TestClient) -> None:
    """#18: a small "Not interested" button on "For you" alone, not on every list."""
    browser, _ = login(client, "ada")
    topics(client)
    for_you = browser.get("/for-you").text
    assert 'action="/papers/id/' in for_you and '/not-interested"' in for_you
    assert 'aria-label="Not interested"' in for_you
    assert "not-interested" not in browser.get("/").text
    assert "not-interested" not in TestClient(client.app).get("/").text


def test_followed_authors_lead_and_names_that_collide_are_pinned(client: TestClient) -> None:
    from datetime import timedelta

    from paperfeed.models import Paper
    from paperfeed.store import papers as store

    browser, user = login(client, "ada")
    upvote(client, user, topics(client)["speech"][:4])
    audio = add_paper(
        client,
        "2611.09001",
        title="Lee Wang on waveforms",
        abstract="Speech audio.",
        authors=("Lee Wang", "Bo 1"),
        categories=("cs.SP",),
    )
    graphics = add_paper(
        client,
        "2611.09002",
        title="Lee Wang on meshes",
        abstract="Rendering meshes.",
        authors=("Lee Wang", "Cy Other"),
        categories=("cs.GR",),
    )
    with writing(engine_of(client)) as conn:
        store.insert_papers(
            conn,
            [Paper(title="Old Lee Wang", abstract="Old.", authors=("Lee Wang",), source="t")],
            NOW - timedelta(days=30),
        )
    token = csrf_of(browser, "/account/recommendations?author=Lee+Wang")
    profile = browser.get("/account/recommendations?author=Lee+Wang").text
    assert '<option value="cs.GR">cs.GR (1)</option>' in profile
    assert '<option value="Cy Other">Cy Other (1)</option>' in profile
    browser.post(
        "/account/recommendations/authors",
        data={"csrf": token, "name": "Lee Wang", "category": "cs.GR"},
    )
    data = browser.get("/api/me/recommendations").json()["data"]
    assert data[0]["paper"]["paper_id"] == graphics
    assert data[0]["source"] == "followed" and data[0]["reason"]["authors"] == ["Lee Wang"]
    assert audio not in [i["paper"]["paper_id"] for i in data if i["source"] == "followed"]

    with engine_of(client).connect() as conn:
        from paperfeed.store import follows

        (pinned,) = follows.follows_of(conn, user)
    browser.post(
        "/account/recommendations/authors/remove", data={"csrf": token, "follow_id": str(pinned.id)}
    )
    browser.post("/account/recommendations/authors", data={"csrf": token, "name": "Lee Wang"})
    data = browser.get("/api/me/recommendations").json()["data"]
    lead = [i["paper"]["paper_id"] for i in data if i["source"] == "followed"]
    assert set(lead) == {audio, graphics}  # the 30-day-old one is not new
    assert "new from an author you follow (Lee Wang)" in browser.get("/for-you").text


def test_while_the_corpus_is_prepared_the_feed_is_trending_and_says_so(
    client: TestClient, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    """A request waits at most wait_seconds for the corpus features: past it the page, the
    API and the reasons say the papers are trending ones while recommendations are
    prepared, and the page's list asks again until then; once made, the model answers."""
    browser, user = login(client, "ada")
    upvote(client, user, topics(client)["speech"][:4])
    recommender = client.app.state.services.recommender  # type: ignore[attr-defined]
    # A process that has no features yet, and whose index folder holds none.
    recommender.preparation._caches.clear()
    recommender.preparation.index_dir = tmp_path / "fresh-index"
    recommender.wait_seconds = 0.2
    release = threading.Event()
    original = FeatureCache._load

    def slow_load(self: FeatureCache, key: tuple[int, int], previous: Any) -> Any:
        assert release.wait(60)
        return original(self, key, previous)

    monkeypatch.setattr(FeatureCache, "_load", slow_load)
    try:
        api = browser.get("/api/me/recommendations").json()
        assert api["preparing"] and api["data"]
        assert {i["source"] for i in api["data"]} == {"trending"}
        assert all("being prepared" in i["reason"]["text"] for i in api["data"])
        page = browser.get("/for-you").text
        assert "Your recommendations are being prepared" in page
        assert 'hx-get="/for-you" hx-trigger="load delay:3s"' in page  # it asks again
    finally:
        release.set()
    assert recommender.prepared(60)
    api = browser.get("/api/me/recommendations").json()
    assert not api["preparing"]
    assert "model" in {i["source"] for i in api["data"]}
    page = browser.get("/for-you").text
    assert "being prepared" not in page and 'hx-trigger="load delay:3s"' not in page
