"""Comments: Markdown rendered safely, replies one level deep, edit and delete one's own,
moderators hide (audited); the form and the API."""

from __future__ import annotations

from fastapi.testclient import TestClient

from community_support import (
    active_markup,
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
from paperfeed.deliver.community.comments import check_body, reply_problem, threads
from paperfeed.deliver.render.markdown import render_markdown
from paperfeed.store import audit
from paperfeed.store.comments import Comment

__all__ = ["app_client", "inbox", "smtp"]


def _comment_api(client: TestClient, auth: dict[str, str], body: str, parent: int | None = None):  # type: ignore[no-untyped-def]
    payload: dict[str, object] = {"body": body}
    if parent is not None:
        payload["parent_id"] = parent
    return client.post("/api/papers/2611.00001/comments", headers=auth, json=payload)


def test_comment_reply_and_list_through_the_api(app_client: TestClient) -> None:
    add_paper(app_client)
    ann = token_for(app_client, make_member(app_client, "ann"))
    first = _comment_api(app_client, ann, "**Nice** result, see [the code](https://example.org).")
    assert first.status_code == 201, first.text
    body = first.json()
    assert body["author"] == "ann" and body["paper"] == "2611.00001" and body["parent_id"] is None
    assert "<strong>Nice</strong>" in body["html"]
    assert 'rel="nofollow noopener ugc"' in body["html"]
    reply = _comment_api(app_client, ann, "Agreed.", parent=body["id"])
    assert reply.status_code == 201 and reply.json()["parent_id"] == body["id"]
    deeper = _comment_api(app_client, ann, "Too deep.", parent=reply.json()["id"])
    assert deeper.status_code == 400 and "one level deep" in deeper.json()["error"]
    listed = app_client.get("/api/papers/2611.00001/comments").json()
    assert [c["body"] for c in listed["data"]] == [body["body"], "Agreed."]
    assert _comment_api(app_client, {}, "no token").status_code == 401
    empty = _comment_api(app_client, ann, "   ")
    assert empty.status_code == 400


def test_comments_on_the_paper_page(app_client: TestClient) -> None:
    add_paper(app_client)
    page = app_client.get("/papers/2611.00001")
    assert "No comments yet." in page.text and "Log in</a> to comment" in page.text
    make_member(app_client, "bob")
    log_in(app_client, "bob@example.org")
    answer = post_form(
        app_client, "/papers/id/1/comments", {"body": "First *thought*"}, page="/papers/2611.00001"
    )
    assert answer.status_code == 303 and answer.headers["location"] == "/papers/2611.00001#c1"
    page = app_client.get("/papers/2611.00001")
    assert "<em>thought</em>" in page.text and 'id="c1"' in page.text
    reply = post_form(
        app_client,
        "/papers/id/1/comments",
        {"body": "A reply", "parent_id": "1"},
        page="/papers/2611.00001",
    )
    assert reply.status_code == 303
    assert 'class="comment reply" id="c2"' in app_client.get("/papers/2611.00001").text


def test_only_the_author_edits_or_deletes(app_client: TestClient) -> None:
    add_paper(app_client)
    author = member_client(app_client, "cat")
    post_form(author, "/papers/id/1/comments", {"body": "Mine"}, page="/papers/2611.00001")
    other = member_client(app_client, "dan")
    assert other.get("/comments/1/edit").status_code == 403
    denied = post_form(other, "/comments/1/edit", {"body": "Hijacked"}, page="/papers/2611.00001")
    assert denied.status_code == 403
    assert post_form(other, "/comments/1/delete", {}, page="/papers/2611.00001").status_code == 403
    assert "Mine" in app_client.get("/papers/2611.00001").text
    assert "Mine" in author.get("/comments/1/edit").text
    edited = post_form(
        author, "/comments/1/edit", {"body": "Mine, edited"}, page="/papers/2611.00001"
    )
    assert edited.status_code == 303
    page = app_client.get("/papers/2611.00001").text
    assert "Mine, edited" in page and "edited" in page
    post_form(author, "/comments/1/delete", {}, page="/papers/2611.00001")
    page = app_client.get("/papers/2611.00001").text
    assert "Mine, edited" not in page and "[deleted]" in page


def test_moderators_hide_and_it_is_audited(app_client: TestClient) -> None:
    add_paper(app_client)
    author = member_client(app_client, "eve")
    post_form(author, "/papers/id/1/comments", {"body": "Spam spam"}, page="/papers/2611.00001")
    member = member_client(app_client, "fay")
    assert post_form(member, "/comments/1/hide", {}, page="/papers/2611.00001").status_code == 403
    moderator = member_client(app_client, "gus", role="moderator")
    assert "Hide</button>" in moderator.get("/papers/2611.00001").text
    hidden = post_form(
        moderator, "/comments/1/hide", {"hidden": "1", "reason": "spam"}, page="/papers/2611.00001"
    )
    assert hidden.status_code == 303
    assert "Spam spam" not in app_client.get("/papers/2611.00001").text
    assert "Spam spam" not in author.get("/papers/2611.00001").text
    mod_view = moderator.get("/papers/2611.00001").text
    assert "Spam spam" in mod_view and "hidden by moderators" in mod_view
    assert app_client.get("/api/papers/2611.00001/comments").json()["count"] == 0
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    with accounts.engine.connect() as conn:
        (entry,) = audit.recent(conn)
    assert (entry.actor, entry.action, entry.target_type, entry.detail) == (
        "gus",
        "hide",
        "comment",
        "spam",
    )


def test_suspended_members_cannot_comment(app_client: TestClient) -> None:
    from paperfeed.store import users
    from paperfeed.store.engine import writing

    add_paper(app_client)
    member = make_member(app_client, "hal")
    auth = token_for(app_client, member)
    accounts = app_client.app.state.services.accounts  # type: ignore[attr-defined]
    with writing(accounts.engine) as conn:
        users.set_suspended(conn, member.id, accounts.clock.now())
    assert _comment_api(app_client, auth, "hello").status_code == 403


def test_markdown_is_sanitised() -> None:
    for hostile in [
        "<script>alert(1)</script>",
        "<img src=x onerror=alert(1)>",
        "[x](javascript:alert(1))",
        '<a href="https://x" onclick="alert(1)">y</a>',
        "<iframe src='https://evil.test'></iframe>",
        "![x](https://evil.test/x.png)",
        '<svg onload="alert(1)">',
    ]:
        assert active_markup(str(render_markdown(hostile))) == [], hostile


def _c(cid: int, parent: int | None = None, hidden: bool = False) -> Comment:
    from community_support import NOW

    return Comment(cid, 1, 1, "u", parent, "b", NOW, None, None, NOW if hidden else None)


def test_thread_rules() -> None:
    assert reply_problem(None, 1) == "no such comment on this paper"
    assert reply_problem(_c(1), 2) == "no such comment on this paper"
    assert "one level deep" in (reply_problem(_c(2, parent=1), 1) or "")
    assert reply_problem(_c(1), 1) is None
    comments = [_c(1), _c(2, 1), _c(3, hidden=True), _c(4, hidden=True), _c(5, 4)]
    seen = threads(comments, moderator=False)
    assert [(t.comment.id, [r.id for r in t.replies]) for t in seen] == [(1, [2]), (4, [5])]
    assert len(threads(comments, moderator=True)) == 3
    assert check_body("  hi\r\n ") == "hi"


def test_text_with_a_nul_character_is_a_clear_error_not_a_500(app_client: TestClient) -> None:
    """Regression: PostgreSQL cannot store NUL in text, and psycopg's refusal surfaced as a
    500 from every write (comments, collections, subscriptions) and from search filters;
    SQLite stored it, and a later ``db copy`` to PostgreSQL stopped on it (#15). A NUL is
    now refused on both databases, before anything is stored."""
    add_paper(app_client)
    auth = token_for(app_client, make_member(app_client, "nul"))
    answer = _comment_api(app_client, auth, "before\x00after")
    search = app_client.get("/search?q=author:%00x")
    listed = app_client.get("/api/papers/2611.00001/comments").json()["count"]
    assert answer.status_code == 400 and "NUL" in answer.json()["error"]
    assert search.status_code == 400 and "NUL" in search.text
    assert listed == 0
