"""Collections: public and private, a note per paper, a page and a feed for public ones;
only the owner changes one or reads a private one; the API."""

from __future__ import annotations

import feedparser
from fastapi.testclient import TestClient

from community_support import (
    active_markup,
    add_paper,
    app_client,
    inbox,
    make_member,
    member_client,
    post_form,
    smtp,
    token_for,
)
from paperfeed.deliver.community.collections import readable

__all__ = ["app_client", "inbox", "smtp"]


def test_collection_through_the_pages(app_client: TestClient) -> None:
    pid = add_paper(app_client)
    owner = member_client(app_client, "ann")
    made = post_form(
        owner,
        "/collections",
        {"title": "Reading group", "description": "Week 1", "public": "1"},
        page="/collections",
    )
    assert made.status_code == 303 and made.headers["location"] == "/collections/1"
    added = post_form(
        owner,
        f"/papers/id/{pid}/collect",
        {"collection_id": "1", "note": "Start here"},
        page="/papers/2611.00001",
    )
    assert added.status_code == 303
    page = app_client.get("/collections/1")
    assert page.status_code == 200
    assert (
        "Reading group" in page.text
        and "Start here" in page.text
        and "Paper 2611.00001" in page.text
    )
    assert "Remove</button>" not in page.text, "visitors get no owner forms"
    assert "Reading group" in app_client.get("/collections").text
    post_form(
        owner,
        "/collections/1/papers",
        {"paper": str(pid), "note": "Changed"},
        page="/collections/1",
    )
    assert "Changed" in app_client.get("/collections/1").text
    post_form(owner, f"/collections/1/papers/{pid}/remove", {}, page="/collections/1")
    assert "Paper 2611.00001" not in app_client.get("/collections/1").text
    post_form(owner, "/collections/1/delete", {}, page="/collections/1")
    assert app_client.get("/collections/1").status_code == 404


def test_public_collections_have_a_feed(app_client: TestClient) -> None:
    add_paper(app_client)
    auth = token_for(app_client, make_member(app_client, "bob"))
    made = app_client.post(
        "/api/collections", headers=auth, json={"title": "Diffusion", "public": True}
    ).json()
    app_client.post(
        f"/api/collections/{made['id']}/papers",
        headers=auth,
        json={"paper": "2611.00001", "note": "Key paper"},
    )
    feed = app_client.get(made["feed"])
    assert feed.status_code == 200 and feed.headers["content-type"].startswith(
        "application/atom+xml"
    )
    parsed = feedparser.parse(feed.content)
    assert parsed.feed.title == "paperfeed · Diffusion (a collection by bob)"
    assert [e.title for e in parsed.entries] == ["Paper 2611.00001"]
    assert app_client.get(f"/feeds/collections/{made['id']}.rss").status_code == 200


def test_private_collections_are_the_owners_alone(app_client: TestClient) -> None:
    pid = add_paper(app_client)
    owner = member_client(app_client, "cat")
    post_form(owner, "/collections", {"title": "Secret list"}, page="/collections")
    post_form(owner, f"/papers/id/{pid}/collect", {"collection_id": "1", "note": "mine"}, page="/")
    assert "Secret list" in owner.get("/collections/1").text
    assert app_client.get("/collections/1").status_code == 404
    other = member_client(app_client, "dan")
    assert other.get("/collections/1").status_code == 404
    assert "Secret list" not in other.get("/collections").text
    assert app_client.get("/feeds/collections/1.atom").status_code == 404
    for path, data in [
        ("/collections/1/papers", {"paper": str(pid), "note": "x"}),
        ("/collections/1/edit", {"title": "Taken"}),
        ("/collections/1/delete", {}),
        (f"/collections/1/papers/{pid}/remove", {}),
        (f"/papers/id/{pid}/collect", {"collection_id": "1"}),
    ]:
        assert post_form(other, path, data, page="/collections").status_code == 404, path
    dan = token_for(app_client, make_member(app_client, "dan2"))
    assert app_client.get("/api/collections/1", headers=dan).status_code == 404
    assert app_client.get("/api/collections/1").status_code == 404
    assert "mine" in owner.get("/collections/1").text


def test_another_members_public_collection_is_read_only(app_client: TestClient) -> None:
    add_paper(app_client)
    owner = token_for(app_client, make_member(app_client, "eve"))
    made = app_client.post(
        "/api/collections", headers=owner, json={"title": "Open", "public": True}
    )
    cid = made.json()["id"]
    intruder = token_for(app_client, make_member(app_client, "fay"))
    answer = app_client.post(
        f"/api/collections/{cid}/papers", headers=intruder, json={"paper": "2611.00001"}
    )
    assert answer.status_code == 403
    assert app_client.delete(f"/api/collections/{cid}", headers=intruder).status_code == 403
    assert app_client.get(f"/api/collections/{cid}").json()["size"] == 0


def test_collection_api(app_client: TestClient) -> None:
    add_paper(app_client)
    add_paper(app_client, "2611.00002")
    auth = token_for(app_client, make_member(app_client, "gus"))
    assert app_client.get("/api/collections").status_code == 401
    made = app_client.post("/api/collections", headers=auth, json={"title": "Mine"})
    assert (
        made.status_code == 201 and made.json()["public"] is False and made.json()["feed"] is None
    )
    cid = made.json()["id"]
    full = app_client.post(
        f"/api/collections/{cid}/papers", headers=auth, json={"paper": "2611.00002", "note": "n"}
    ).json()
    assert [(p["paper"]["id"], p["note"]) for p in full["papers"]] == [("2611.00002", "n")]
    mine = app_client.get("/api/collections", headers=auth).json()
    assert mine["count"] == 1 and mine["data"][0]["size"] == 1
    assert app_client.get(f"/api/collections/{cid}", headers=auth).json()["title"] == "Mine"
    gone = app_client.delete(f"/api/collections/{cid}/papers/2611.00002", headers=auth)
    assert gone.status_code == 204
    again = app_client.delete(f"/api/collections/{cid}/papers/2611.00002", headers=auth)
    assert again.status_code == 404
    assert (
        app_client.post(
            f"/api/collections/{cid}/papers", headers=auth, json={"paper": "2611.99999"}
        ).status_code
        == 404
    )
    assert app_client.delete(f"/api/collections/{cid}", headers=auth).status_code == 204
    assert app_client.get(f"/api/collections/{cid}", headers=auth).status_code == 404
    bad = app_client.get("/api/collections/1", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401


def test_hostile_collection_text_is_inert(app_client: TestClient) -> None:
    import re

    pid = add_paper(app_client)
    owner = member_client(app_client, "hal")
    evil = "<script>window.__xss=1</script><img src=x onerror=alert(1)>"
    post_form(
        owner,
        "/collections",
        {"title": f"T {evil}", "description": f"D {evil}", "public": "1"},
        page="/collections",
    )
    post_form(
        owner, f"/papers/id/{pid}/collect", {"collection_id": "1", "note": f"N {evil}"}, page="/"
    )
    for client in (app_client, owner):
        for path in ("/collections/1", "/collections"):
            html = client.get(path).text
            own = {
                s for s in re.findall(r'<script src="([^"]+)"', html) if s.startswith("/static/")
            }
            assert active_markup(html, allowed_scripts=own) == [], path
            assert "&lt;script&gt;" in html
    feed = app_client.get("/feeds/collections/1.atom").text
    assert "<script>" not in feed


def test_readable_rule() -> None:
    from community_support import NOW
    from paperfeed.store.collections import Collection
    from paperfeed.store.users import Member

    c = Collection(1, 7, "o", "t", "", False, NOW, NOW, 0)
    owner = Member(7, "o@x", "o", "member", NOW, NOW, None)
    other = Member(8, "p@x", "p", "admin", NOW, NOW, None)
    assert readable(c, owner) and not readable(c, other) and not readable(c, None)
    assert readable(Collection(1, 7, "o", "t", "", True, NOW, NOW, 0), None)
    assert not readable(None, owner)
