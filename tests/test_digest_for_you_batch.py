"""The digest's "For you" composed for a batch of members (#17): the block scoring equals
the page's scoring formula, each member's section equals the page's feed (without its
trending papers) when every paper is new in the edition, only new papers are mailed
otherwise, and a batched run that dies mid-way sends each digest once after a rerun."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from fastapi.testclient import TestClient
from scipy import sparse

from community_support import NOW, Inbox, add_paper, community_settings, make_member, smtp
from digest_support import Sink
from paperfeed.clock import FrozenClock
from paperfeed.deliver import security
from paperfeed.deliver.app import create_app
from paperfeed.deliver.digests.content import DigestContent
from paperfeed.deliver.digests.for_you import ForYouSection
from paperfeed.deliver.digests.send import DigestSender
from paperfeed.deliver.digests.subscriptions import Subscriptions
from paperfeed.index.lexical import database as lexical
from paperfeed.index.recommend.features import Features
from paperfeed.models import Paper
from paperfeed.rank.editions import Edition, schedule_of
from paperfeed.rank.recommend.batch import block_scores, ranked_block
from paperfeed.rank.recommend.feed import Recommender
from paperfeed.rank.recommend.model import Model, scores, train
from paperfeed.store import follows, moderation, subscriptions, votes
from paperfeed.store import papers as paper_store
from paperfeed.store import recommendations as rec
from paperfeed.store.engine import writing
from paperfeed.store.subscriptions import Subscriber

__all__ = ["smtp"]

TOPICS = {
    "speech": "Speech recognition with acoustic models of spoken audio waveforms",
    "graphs": "Graph neural networks passing messages between molecule nodes and edges",
    "vision": "Image segmentation of pixels with convolutional camera detectors",
}
EDITION = Edition("daily", NOW.date())
COUNT = 5


# -- the block scoring against the page's formula (pure) ----------------------------------------


def _features(n: int = 400, d: int = 16, v: int = 60, seed: int = 3) -> Features:
    rng = np.random.default_rng(seed)
    dense = rng.standard_normal((n, d)).astype(np.float32)
    dense /= np.linalg.norm(dense, axis=1, keepdims=True)
    terms = sparse.random(n, v, density=0.1, format="csr", dtype=np.float32, random_state=seed)
    terms.sum_duplicates()
    return Features(np.arange(10, 10 + n, dtype=np.int64), dense, terms)


def _models(features: Features, count: int = 6) -> list[Model]:
    rng = np.random.default_rng(7)
    made = []
    for j in range(count):
        positives = np.sort(rng.choice(len(features.ids), 1 + 2 * j, replace=False))
        negatives = np.sort(rng.choice(len(features.ids), j % 3, replace=False))
        negatives = np.setdiff1d(negatives, positives)
        made.append(train(features, positives, np.ones(len(positives)), negatives, seed=j))
    return made


def test_block_scores_over_every_paper_are_the_pages_scores() -> None:
    features = _features()
    models = _models(features)
    every = np.arange(len(features.ids))
    block = block_scores(models, features, every)
    for j, model in enumerate(models):
        np.testing.assert_allclose(block[:, j], scores(model, features), rtol=1e-4, atol=1e-4)


def test_block_scores_over_candidates_are_the_formula_over_them() -> None:
    """Over a subset, each column is ``scores`` of a corpus made of those rows alone (the
    liked and disliked papers kept among them), and the re-ranked best are capped."""
    from paperfeed.rank.recommend.model import ModelParams

    features = _features()
    models = _models(features)
    liked = np.unique(np.concatenate([m.positive_rows for m in models]))
    disliked = np.unique(np.concatenate([m.negative_rows for m in models]))
    rows = np.unique(np.concatenate([liked, disliked, np.arange(0, 400, 3)]))
    params = ModelParams(rerank=50)
    block = block_scores(models, features, rows, params)
    assert block.shape == (len(rows), len(models))
    assert np.all(np.isfinite(block).sum(axis=0) == 50)
    sub = Features(
        features.ids[rows],
        features.dense[rows],
        features.terms[rows] if features.terms is not None else None,
    )
    for j, model in enumerate(models):
        moved = replace(
            model,
            positive_rows=np.searchsorted(rows, model.positive_rows),
            negative_rows=np.searchsorted(rows, model.negative_rows),
        )
        np.testing.assert_allclose(block[:, j], scores(moved, sub, params), rtol=1e-4, atol=1e-4)
    skip = {int(features.ids[rows[0]])}
    found = ranked_block(
        models[:2], features, [int(i) for i in features.ids[rows]], skips=[skip, set()], limit=7
    )
    assert [len(f) for f in found] == [7, 7]
    assert all(pid not in skip for pid, _ in found[0])
    assert [s for _, s in found[1]] == sorted((s for _, s in found[1]), reverse=True)


# -- the section against the page's feed, on the pass's database -------------------------------


@pytest.fixture
def client(db_url: str, smtp: tuple[Inbox, int], tmp_path: Any) -> Iterator[TestClient]:
    app = create_app(community_settings(db_url, smtp[1], tmp_path, embedder="static"))
    app.state.services.recommender.wait_seconds = None
    with TestClient(app) as c:
        ids: dict[str, list[int]] = {t: [] for t in TOPICS}
        n = 0
        for topic, text in TOPICS.items():
            for i in range(10):
                n += 1
                pid = add_paper(
                    c,
                    f"2611.{n:05d}",
                    title=f"{text.split(' with ')[0].split(' of ')[0]} study {i}",
                    abstract=f"{text}. Variant {i} of the {topic} method.",
                    authors=(f"Ann {topic.title()}", f"Bo {i}"),
                    categories=(f"cs.{topic[:2].upper()}",),
                    primary_category=f"cs.{topic[:2].upper()}",
                    upvotes=n % 7,
                )
                ids[topic].append(pid)
        c.app.state.hub.semantic.embed_missing()  # type: ignore[attr-defined]
        c.app.state.topics = ids  # type: ignore[attr-defined]
        yield c


def _engine(c: TestClient) -> Any:
    return c.app.state.services.accounts.engine  # type: ignore[attr-defined]


def _page_recommender(c: TestClient) -> Recommender:
    found: Recommender = c.app.state.services.recommender  # type: ignore[attr-defined]
    return found


def _digest_section(c: TestClient) -> ForYouSection:
    """A provider with its own recommender (nothing shared with the page's but the
    database, the index folder and the search indexes)."""
    page = _page_recommender(c)
    settings = c.app.state.hub.settings  # type: ignore[attr-defined]
    own = Recommender(
        _engine(c),
        zone=page.zone,
        rule=page.rule,
        half_life_days=page.half_life_days,
        semantic=page.semantic,
        words=page.words,
        index_dir=page.preparation.index_dir,
        topic_memo={},
    )
    return ForYouSection(own, schedule_of(settings), COUNT)


def _members(c: TestClient) -> dict[str, tuple[int, Subscriber]]:
    """Members of every kind the feed tells apart, each subscribed to the digest."""
    ids: dict[str, list[int]] = c.app.state.topics  # type: ignore[attr-defined]
    engine = _engine(c)
    made: dict[str, int] = {}
    for name in ("ada", "bob", "cyd", "dia", "eda", "fay", "gus"):
        made[name] = make_member(c, name).id
    with writing(engine) as conn:

        def upvote(name: str, pids: list[int]) -> None:
            for pid in pids:
                votes.set_vote(conn, paper_id=pid, user_id=made[name], on=True, now=NOW)

        upvote("ada", ids["speech"][:4])
        upvote("bob", ids["graphs"][:3])  # and one "not interested"
        rec.add_signal(
            conn, user_id=made["bob"], paper_id=ids["graphs"][5], kind="not_interested", now=NOW
        )
        upvote("cyd", ids["vision"][:1])  # cold start: a topic joins the one upvote
        rec.add_topic(conn, user_id=made["cyd"], query="image segmentation pixels", now=NOW)
        upvote("dia", ids["vision"][:3])  # an exclusion, and a large exploration share
        rec.add_exclusion(conn, user_id=made["dia"], kind="keyword", value="camera", now=NOW)
        rec.update_settings(conn, user_id=made["dia"], now=NOW, exploration=40)
        upvote("eda", ids["graphs"][:3])  # follows an author of other papers
        follows.follow(
            conn, user_id=made["eda"], name="Ann Speech", co_author="", category="", now=NOW
        )
        upvote("fay", ids["speech"][:3])  # paused
        rec.update_settings(conn, user_id=made["fay"], now=NOW, paused=True)
        # gus has no signal at all: the page shows trending only, the digest nothing.
        moderation.hide_paper(conn, paper_id=ids["speech"][6], by=made["ada"], reason="", now=NOW)
        out: dict[str, tuple[int, Subscriber]] = {}
        for name, user in made.items():
            sid = subscriptions.create(
                conn,
                email=f"{name}@example.org",
                frequency="daily",
                link_key=f"k-{name}",
                now=NOW,
                user_id=user,
            )
            subscriptions.change(conn, sid, status="confirmed", confirmed_at=NOW)
            sub = subscriptions.get(conn, sid)
            assert sub is not None
            out[name] = (user, sub)
    return out


def _page_without_trending(c: TestClient, user: int) -> list[int]:
    now = schedule_of(c.app.state.hub.settings).slot(EDITION)  # type: ignore[attr-defined]
    feed = _page_recommender(c).for_you(user, now=now, limit=COUNT, patient=True)
    return [i.stored.id for i in feed.items if i.recommendation.source != "trending"]


def test_each_members_section_is_the_pages_feed_when_every_paper_is_new(
    client: TestClient,
) -> None:
    members = _members(client)
    provider = _digest_section(client)
    batch = provider.many([sub for _, sub in members.values()], EDITION)
    hidden = client.app.state.topics["speech"][6]  # type: ignore[attr-defined]
    for name, (user, sub) in members.items():
        expected = _page_without_trending(client, user)
        got = [p.id for p in batch[sub.id][0].papers] if sub.id in batch else []
        assert got == expected, name
        assert hidden not in got
        # One member alone is composed as in a batch.
        alone = provider(sub, EDITION)
        assert [p.id for s in alone for p in s.papers] == got, name
    assert {"ada", "bob", "cyd", "dia", "eda"} <= {
        name for name, (_, sub) in members.items() if sub.id in batch
    }
    assert members["fay"][1].id not in batch and members["gus"][1].id not in batch
    speech = set(client.app.state.topics["speech"])  # type: ignore[attr-defined]
    ed = [p.id for p in batch[members["eda"][1].id][0].papers]
    assert ed[0] in speech  # the followed author's paper leads
    di = batch[members["dia"][1].id][0].papers
    assert di and all("camera" not in p.paper.abstract.lower() for p in di)


def test_a_cold_start_topic_is_searched_once_per_edition_however_many_share_it(
    client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The digest's recommender keeps each topic text's papers in its ``topic_memo`` for an
    edition (a new edition forgets them); the page's recommender has none and searches
    each time, so a paper added since joins at once."""
    from paperfeed.rank.recommend import feed as recommend_feed

    ids: dict[str, list[int]] = client.app.state.topics  # type: ignore[attr-defined]
    engine = _engine(client)
    text = "image segmentation pixels"
    users = [make_member(client, f"cold{n}").id for n in range(3)]
    with writing(engine) as conn:
        for n, user in enumerate(users):
            votes.set_vote(conn, paper_id=ids["vision"][n], user_id=user, on=True, now=NOW)
            rec.add_topic(conn, user_id=user, query=text, now=NOW)
        subs = []
        for n, user in enumerate(users):
            sid = subscriptions.create(
                conn,
                email=f"cold{n}@example.org",
                frequency="daily",
                link_key=f"k-cold{n}",
                now=NOW,
                user_id=user,
            )
            subscriptions.change(conn, sid, status="confirmed", confirmed_at=NOW)
            sub = subscriptions.get(conn, sid)
            assert sub is not None
            subs.append(sub)
    asked: list[str] = []
    search = recommend_feed.search

    def counting(*args: Any, **kwargs: Any) -> Any:
        asked.append(str(args[2]))
        return search(*args, **kwargs)

    monkeypatch.setattr(recommend_feed, "search", counting)
    provider = _digest_section(client)
    batch = provider.many(subs, EDITION)
    assert asked == [text]  # three members, one search
    assert all(sub.id in batch for sub in subs)
    assert provider.recommender.topic_memo is not None
    assert set(provider.recommender.topic_memo[text]) & set(ids["vision"])
    provider.edition_papers(Edition("daily", EDITION.day + timedelta(days=1)))
    assert provider.recommender.topic_memo == {}  # the next edition searches afresh
    page = _page_recommender(client)
    assert page.topic_memo is None
    assert page.topic_papers([text]) == page.topic_papers([text])
    assert asked == [text, text, text]


def test_only_papers_new_in_the_edition_are_mailed(client: TestClient) -> None:
    members = _members(client)
    engine = _engine(client)
    old = [
        Paper(
            title=f"Speech recognition of spoken audio, an older study {i}",
            abstract=f"{TOPICS['speech']}. The older variant {i}.",
            arxiv_id=f"2610.{i:05d}",
            authors=("Old Author",),
            categories=("cs.SP",),
            published_at=NOW - timedelta(days=30),
            source="test",
        ).with_arxiv_links()
        for i in range(1, 6)
    ]
    with writing(engine) as conn:
        old_ids = paper_store.insert_papers(conn, old, NOW - timedelta(days=30))
        lexical.sync(conn, old_ids)
    client.app.state.hub.semantic.embed_missing()  # type: ignore[attr-defined]
    user, sub = members["ada"]
    page = _page_recommender(client).for_you(
        user,
        now=schedule_of(client.app.state.hub.settings).slot(EDITION),
        limit=30,
        patient=True,  # type: ignore[attr-defined]
    )
    assert set(old_ids) & {i.stored.id for i in page.items}  # the page ranks them
    sections = _digest_section(client)(sub, EDITION)
    mailed = [p for s in sections for p in s.papers]
    assert len(mailed) == COUNT
    assert not set(old_ids) & {p.id for p in mailed}
    start, end = schedule_of(client.app.state.hub.settings).window(EDITION)  # type: ignore[attr-defined]
    assert all(start < p.first_seen_at <= end for p in mailed)


def test_a_batched_run_that_dies_midway_sends_each_digest_once_after_a_rerun(
    client: TestClient, tmp_path: Any
) -> None:
    members = _members(client)
    settings = client.app.state.hub.settings  # type: ignore[attr-defined]
    sink = Sink(kill_after=3).start()
    settings = settings.model_copy(
        update={
            "smtp_host": "127.0.0.1",
            "smtp_port": sink.port,
            "smtp_tls": "none",
            "smtp_rate_per_minute": 0,
            "digest_batch_size": 4,
            "digest_connect_attempts": 2,
        }
    )
    engine = _engine(client)
    clock = FrozenClock(NOW)

    def sender() -> DigestSender:
        subs = Subscriptions(settings, engine, clock, security.load_secret(settings))
        content = DigestContent(settings, engine, providers=[_digest_section(client)])
        return DigestSender(settings, engine, clock, subs, content)

    try:
        first = sender().send(EDITION)
        assert first.stopped is not None and first.sent == 3
        sink.stop()
        sink.start()
        rerun = sender().send(EDITION)
        assert rerun.stopped is None and first.sent + rerun.sent == len(members)
    finally:
        sink.stop()
    received = sink.received()
    assert sorted(received) == sorted(f"{name}@example.org" for name in members)
    assert set(received.values()) == {1}
    with_for_you = [m for m in sink.messages if "FOR YOU" in _plain(m)]
    assert len(with_for_you) == 5  # ada, bob, cyd, dia, eda


def _plain(message: Any) -> str:
    body = message.get_body(("plain",))
    assert body is not None
    text: str = body.get_content()
    return text


def test_a_saved_search_is_run_once_per_edition_however_many_saved_it(
    db_url: str, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from digest_support import MONDAY, add_papers, add_subscriber, digest_settings
    from paperfeed.deliver.digests import content as content_module
    from paperfeed.store.engine import make_engine

    engine = make_engine(db_url)
    try:
        add_papers(engine, ["Sparse attention for long documents", "Graph pooling layers"])
        for n in range(6):
            add_subscriber(
                engine,
                f"s{n}@example.org",
                searches=("sparse attention", "graph pooling") if n % 2 else ("sparse attention",),
            )
        asked: list[str] = []
        search = content_module.search

        def counting(*args: Any, **kwargs: Any) -> Any:
            asked.append(str(args[2]))
            return search(*args, **kwargs)

        monkeypatch.setattr(content_module, "search", counting)
        settings = digest_settings(db_url, 25, tmp_path)
        content = DigestContent(settings, engine)
        with engine.connect() as conn:
            subs = subscriptions.many(conn, subscriptions.confirmed_ids(conn, "daily", NOW))
        digests = content.digests_for(list(subs.values()), MONDAY)
        assert len(asked) == 2  # two distinct saved searches, six subscribers
        for sub in subs.values():
            sections = [s for s in digests[sub.id].sections if s.kind == "search"]
            assert [s.query for s in sections] == list(sub.searches)
            assert all(s.papers for s in sections)
        assert content.digest_for(subs[min(subs)], MONDAY) == digests[min(subs)]
        assert len(asked) == 2  # the same edition: nothing searched again
    finally:
        engine.dispose()
