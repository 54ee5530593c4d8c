"""Moderation: hiding papers, suspending members, roles, the audit log, the admin page;
members may do none of it (403), and the rules are pure."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from community_support import (
    NOW,
    add_paper,
    app_client,
    inbox,
    log_in,
    make_member,
    member_client,
    post_form,
    smtp,
    token_for,
)
from paperfeed.deliver.community.moderation import role_problem, suspend_problem
from paperfeed.store import audit
from paperfeed.store.users import Member

__all__ = ["app_client", "inbox", "smtp"]


def test_hidden_papers_leave_every_list(app_client: TestClient) -> None:
    pid = add_paper(app_client, title="Spam paper")
    add_paper(app_client, "2611.00002", title="Good paper")
    moderator = member_client(app_client, "mod", role="moderator")
    assert "Hide the paper" in moderator.get("/papers/2611.00001").text
    answer = post_form(
        moderator, f"/papers/id/{pid}/hide", {"hidden": "1", "reason": "spam"}, page="/"
    )
    assert answer.status_code == 303
    for path in (
        "/",
        "/trending",
        "/api/daily_papers",
        "/feeds/daily.atom",
        "/feeds/trending.atom",
    ):
        text = app_client.get(path).text
        assert "Spam paper" not in text and "Good paper" in text, path
    page = app_client.get("/papers/2611.00001")
    assert "Spam paper" not in page.text and "hid this paper" in page.text
    assert "Spam paper" in moderator.get("/papers/2611.00001").text
    assert "This paper is hidden" in moderator.get("/papers/2611.00001").text
    voter = token_for(app_client, make_member(app_client, "ann"))
    assert app_client.post("/api/papers/2611.00001/upvote", headers=voter).status_code == 404
    admin_page = moderator.get("/admin").text
    assert "Spam paper" in admin_page and "spam" in admin_page
    post_form(moderator, f"/papers/id/{pid}/hide", {"hidden": "0"}, page="/admin")
    assert "Spam paper" in app_client.get("/").text


def test_a_hidden_or_missing_papers_page_runs_no_similar_search(
    app_client: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Whether the paper is there and hidden is known before the similar papers are looked
    for: a visitor's page of a hidden paper (which shows only that it was hidden) and a
    missing paper's 404 cost no search; a moderator's page still shows similar papers."""
    from paperfeed.deliver.routes.reading import pages

    pid = add_paper(app_client, title="Spam paper")
    good = add_paper(app_client, "2611.00002", title="Good paper")
    pf = add_paper(app_client, None, title="A paper without an arXiv id")  # type: ignore[arg-type]
    moderator = member_client(app_client, "mod", role="moderator")
    for hidden in (pid, pf):
        post_form(moderator, f"/papers/id/{hidden}/hide", {"hidden": "1"}, page="/")
    searched: list[list[int]] = []
    similar = pages.similar

    def counting(*args: Any, **kwargs: Any) -> Any:
        searched.append(list(args[2]))
        return similar(*args, **kwargs)

    monkeypatch.setattr(pages, "similar", counting)
    for path in ("/papers/2611.00001", f"/papers/pf{pf}", f"/papers/id/{pf}"):
        page = app_client.get(path)
        assert page.status_code == 200 and "hid this paper" in page.text, path
    for path in ("/papers/2611.09999", "/papers/id/9999", "/papers/pf9999"):
        assert app_client.get(path).status_code == 404, path
    assert searched == []
    assert moderator.get("/papers/2611.00001").status_code == 200
    assert app_client.get("/papers/2611.00002").status_code == 200
    assert searched == [[pid], [good]]


def test_members_cannot_moderate(app_client: TestClient) -> None:
    pid = add_paper(app_client)
    target = make_member(app_client, "bob")
    member = member_client(app_client, "cat")
    assert member.get("/admin").status_code == 403
    assert post_form(member, f"/papers/id/{pid}/hide", {}, page="/").status_code == 403
    assert post_form(member, f"/admin/users/{target.id}/suspend", {}, page="/").status_code == 403
    role = post_form(member, f"/admin/users/{target.id}/role", {"role": "admin"}, page="/")
    assert role.status_code == 403
    auth = token_for(app_client, make_member(app_client, "dan"))
    api = app_client.post("/api/papers/2611.00001/hide", headers=auth, json={"hidden": True})
    assert api.status_code == 403 and api.json()["ok"] is False
    assert app_client.post("/api/papers/2611.00001/hide", json={}).status_code == 401
    assert app_client.get("/admin", follow_redirects=False).status_code == 303
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    with accounts.engine.connect() as conn:
        assert audit.recent(conn) == []


def test_suspending_a_member_stops_their_writes_and_sessions(app_client: TestClient) -> None:
    add_paper(app_client)
    target = make_member(app_client, "eve")
    browser = TestClient(app_client.app)
    log_in(browser, "eve@example.org")
    auth = token_for(app_client, target)
    moderator = member_client(app_client, "mod", role="moderator")
    answer = post_form(
        moderator,
        f"/admin/users/{target.id}/suspend",
        {"suspended": "1", "reason": "abuse"},
        page="/admin",
    )
    assert answer.status_code == 303
    assert browser.get("/account/settings", follow_redirects=False).status_code == 303
    assert app_client.post("/api/papers/2611.00001/upvote", headers=auth).status_code == 403
    again = post_form(browser, "/account/login", {"email": "eve@example.org", "password": "x"})
    assert again.status_code == 401
    from community_support import PASSWORD

    refused = post_form(
        browser, "/account/login", {"email": "eve@example.org", "password": PASSWORD}
    )
    assert refused.status_code == 403 and "suspended" in refused.text
    assert "suspended" in moderator.get("/admin").text
    post_form(moderator, f"/admin/users/{target.id}/suspend", {"suspended": "0"}, page="/admin")
    assert app_client.post("/api/papers/2611.00001/upvote", headers=auth).status_code == 200
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    with accounts.engine.connect() as conn:
        actions = [(e.actor, e.action, e.detail) for e in audit.recent(conn)]
    assert actions == [("mod", "unsuspend", ""), ("mod", "suspend", "abuse")]


def test_roles_are_for_admins(app_client: TestClient) -> None:
    target = make_member(app_client, "fay")
    other_mod = make_member(app_client, "gus", role="moderator")
    moderator = member_client(app_client, "mod", role="moderator")
    assert (
        post_form(
            moderator, f"/admin/users/{target.id}/role", {"role": "moderator"}, page="/admin"
        ).status_code
        == 403
    )
    refused = post_form(moderator, f"/admin/users/{other_mod.id}/suspend", {}, page="/admin")
    assert refused.status_code == 403
    admin = member_client(app_client, "root", role="admin")
    page = admin.get("/admin").text
    assert f'action="/admin/users/{target.id}/role"' in page
    done = post_form(admin, f"/admin/users/{target.id}/role", {"role": "moderator"}, page="/admin")
    assert done.status_code == 303
    bad = post_form(admin, f"/admin/users/{target.id}/role", {"role": "king"}, page="/admin")
    assert bad.status_code == 400
    log = admin.get("/admin").text
    assert "member -&gt; moderator" in log


def test_moderators_hide_comments_through_the_api(app_client: TestClient) -> None:
    add_paper(app_client)
    author = token_for(app_client, make_member(app_client, "hal"))
    made = app_client.post("/api/papers/2611.00001/comments", headers=author, json={"body": "x"})
    cid = made.json()["id"]
    assert app_client.post(f"/api/comments/{cid}/hide", headers=author, json={}).status_code == 403
    mod = token_for(app_client, make_member(app_client, "ivy", role="moderator"))
    hidden = app_client.post(f"/api/comments/{cid}/hide", headers=mod, json={"hidden": True})
    assert hidden.json() == {"id": str(cid), "hidden": True}
    assert app_client.get("/api/papers/2611.00001/comments").json()["count"] == 0


def _m(uid: int, role: str) -> Member:
    return Member(uid, f"{uid}@x", f"u{uid}", role, NOW, NOW, None)  # type: ignore[arg-type]


def test_rules() -> None:
    assert suspend_problem(_m(1, "moderator"), _m(2, "member")) is None
    assert suspend_problem(_m(1, "moderator"), _m(2, "moderator")) is not None
    assert suspend_problem(_m(1, "moderator"), _m(2, "admin")) is not None
    assert suspend_problem(_m(1, "admin"), _m(2, "admin")) is None
    assert suspend_problem(_m(1, "admin"), _m(1, "admin")) == "you cannot suspend yourself"
    assert role_problem(_m(1, "admin"), _m(2, "member"), "moderator") is None
    assert role_problem(_m(1, "moderator"), _m(2, "member"), "moderator") is not None
    assert role_problem(_m(1, "admin"), _m(1, "admin"), "member") is not None
    assert "role: use one of" in (role_problem(_m(1, "admin"), _m(2, "member"), "x") or "")
