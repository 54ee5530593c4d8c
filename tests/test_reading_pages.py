"""The reading pages of #18, as HTML: an author's page, follow and feed; the layout fixes
(no link to a day that has not come, "1 paper", a log-in link, Markdown descriptions, a
plain tab title); math and links in comments, hostile math included; the code link found
in a paper's own text."""

from __future__ import annotations

import re
from datetime import date

import feedparser
import pytest
from fastapi.testclient import TestClient

from community_support import (
    NOW,
    add_paper,
    app_client,
    csrf_of,
    member_client,
    post_form,
    smtp,
)
from paperfeed.deliver.render.comment_text import prepare
from paperfeed.deliver.render.markdown import render_markdown
from paperfeed.deliver.render.page_text import code_label, compact, papers_count, plain
from paperfeed.ingest.code_links import find_code_link

__all__ = ["app_client", "smtp"]


def test_an_author_page_lists_their_papers_newest_first_with_a_feed_and_a_follow(
    app_client: TestClient,
) -> None:
    from datetime import timedelta

    old = add_paper(
        app_client,
        "2611.00001",
        authors=("Ada Lovelace", "Bob"),
        published_at=NOW - timedelta(days=9),
    )
    new = add_paper(app_client, "2611.00002", authors=("Carol", "Ada Lovelace"))
    add_paper(app_client, "2611.00003", authors=("Bob",))
    page = app_client.get("/authors/Ada%20Lovelace")
    assert page.status_code == 200
    order = [m.group(1) for m in re.finditer(r'data-paper="(\d+)"', page.text)]
    assert order == [str(new), str(old)]
    assert "2 papers on this hub" in page.text
    assert 'href="/feeds/authors/Ada%20Lovelace.atom"' in page.text
    assert "Log in</a> to follow" in page.text
    assert app_client.get("/authors/Nobody%20Here").status_code == 404

    feed = feedparser.parse(app_client.get("/feeds/authors/Ada%20Lovelace.atom").content)
    assert [e.title for e in feed.entries] == ["Paper 2611.00002", "Paper 2611.00001"]

    # The paper page links each author to their page.
    paper = app_client.get("/papers/2611.00002").text
    assert '<a href="/authors/Ada%20Lovelace">Ada Lovelace</a>' in paper

    member = member_client(app_client, "reader")
    token = csrf_of(member, "/authors/Ada%20Lovelace")
    done = member.post(
        "/authors/Ada%20Lovelace/follow", data={"csrf": token}, follow_redirects=False
    )
    assert done.status_code == 303 and done.headers["location"] == "/authors/Ada%20Lovelace"
    followed = member.get("/authors/Ada%20Lovelace").text
    assert 'aria-pressed="true"' in followed and "Following" in followed
    assert "Ada Lovelace" in member.get("/account/recommendations").text
    member.post("/authors/Ada%20Lovelace/unfollow", data={"csrf": token})
    assert 'aria-pressed="false"' in member.get("/authors/Ada%20Lovelace").text
    # No follow without the form's token.
    assert member.post("/authors/Bob/follow", data={}).status_code in (400, 403)


def test_layout_fixes(app_client: TestClient) -> None:
    add_paper(app_client, "2611.00001", title="On $\\mathbb{R}^d$ and $\\ell_1$")
    add_paper(app_client, "2611.00009", featured_on=date(2026, 11, 19))
    today = app_client.get("/").text
    # A day's list steps to the nearest days that have papers, over empty days (a weekend)
    # and never to a day that has not come.
    assert 'rel="prev" href="/papers/date/2026-11-19"' in today and 'rel="next"' not in today
    before = app_client.get("/papers/date/2026-11-20").text
    assert 'rel="prev" href="/papers/date/2026-11-19"' in before
    assert 'rel="next" href="/papers/date/2026-11-23"' in before
    first = app_client.get("/papers/date/2026-11-19").text
    assert 'rel="prev"' not in first and 'rel="next" href="/papers/date/2026-11-23"' in first
    # Weeks and months step by the calendar.
    week = app_client.get("/papers/week/2026-W47").text
    assert 'rel="prev" href="/papers/week/2026-W46"' in week
    # Logged out, "For you" says how to log in.
    for_you = app_client.get("/for-you")
    assert for_you.status_code in (401, 403)
    assert 'href="/account/login?next=/for-you"' in for_you.text
    # The tab title is plain text.
    title = re.search(r"<title>(.*?)</title>", app_client.get("/papers/2611.00001").text)
    assert title and title.group(1).startswith("On ℝ^d and ℓ1 ·")
    # "Not interested" is only on For you.
    assert "not-interested" not in today


def test_collection_descriptions_are_markdown_and_counts_read_well(app_client: TestClient) -> None:
    member = member_client(app_client, "curator")
    pid = add_paper(app_client, "2611.00001")
    made = post_form(
        member,
        "/collections",
        {"title": "Reading", "description": "**Bold** <script>x()</script>", "public": "1"},
        page="/collections",
    )
    assert made.status_code == 303
    where = made.headers["location"]
    post_form(member, f"{where}/papers", {"paper": str(pid), "note": ""}, page=where)
    shown = app_client.get(where).text
    assert "<strong>Bold</strong>" in shown and "<script>x()" not in shown
    assert "1 paper" in shown and "1 papers" not in shown
    assert (
        "1 paper ·" in app_client.get("/collections").text
        or "1 paper<" in app_client.get("/collections").text
    )


@pytest.mark.parametrize(
    "body",
    [
        "$<script>alert(1)</script>$",
        "$$</span><img src=x onerror=alert(1)>$$",
        "$\\href{javascript:alert(1)}{x}$ and [x](javascript:alert(1))",
        '<span class="math" onclick="alert(1)">$x$</span>',
        "\ue0000\ue001 $a$ [l](https://e.org/\ue0000\ue001)",
    ],
)
def test_math_in_comments_never_opens_a_way_to_script(body: str) -> None:
    html = str(render_markdown(body))
    assert "<script" not in html and "<img" not in html
    assert "onerror" not in html.replace("onerror=alert(1)&gt;", "") or "&lt;img" in html
    assert "onclick" not in html.replace('onclick="alert(1)"&gt;', "").replace(
        "onclick=&quot;alert(1)&quot;&gt;", ""
    )
    assert 'href="javascript' not in html


def test_math_and_bare_links_in_comments() -> None:
    html = str(
        render_markdown("Take $a_1 * b_1$ and $$\\sum_i x_i^2$$, see https://github.com/o/r.")
    )
    assert '<span class="math inline">$a_1 * b_1$</span>' in html
    assert '<span class="math display">$$\\sum_i x_i^2$$</span>' in html
    assert (
        '<a href="https://github.com/o/r" rel="nofollow noopener ugc">https://github.com/o/r</a>.'
        in html
    )
    # Code stays code; a price is no math.
    assert "<code>$x$</code>" in str(render_markdown("`$x$`"))
    assert "math" not in str(render_markdown("from $5 to $10"))
    assert prepare("[a](https://x.org) <https://y.org>")[0] == "[a](https://x.org) <https://y.org>"


def test_the_comment_preview_renders_as_the_page_does(app_client: TestClient) -> None:
    member = member_client(app_client, "writer")
    add_paper(app_client, "2611.00001")
    token = csrf_of(member, "/papers/2611.00001")
    shown = member.post("/comments/preview", data={"csrf": token, "body": "$x^2$ https://e.org"})
    assert shown.status_code == 200
    assert '<span class="math inline">$x^2$</span>' in shown.text
    assert 'href="https://e.org"' in shown.text
    assert member.post("/comments/preview", data={"body": "x"}).status_code in (400, 403)


def test_text_helpers() -> None:
    assert (
        plain("$\\ell_1$-\\textsc{Net} on $\\mathbb{R}^d$ and $\\Q$, 50\\%")
        == "ℓ1-Net on ℝ^d and ℚ, 50%"
    )
    assert (compact(999), compact(1234), compact(56_000), compact(1_500_000)) == (
        "999",
        "1.2k",
        "56k",
        "1.5M",
    )
    assert (papers_count(0), papers_count(1), papers_count(2)) == (
        "0 papers",
        "1 paper",
        "2 papers",
    )
    assert code_label("https://github.com/o/r") == "o/r"
    assert (
        find_code_link(None, "Code: https://github.com/Org/Repo/tree/main.")
        == "https://github.com/Org/Repo"
    )
    assert find_code_link("see gitlab.com/g/p.git") == "https://gitlab.com/g/p"
    assert find_code_link("https://huggingface.co/papers/2401.00001 only") is None
    assert (
        find_code_link("https://huggingface.co/spaces/o/demo/tree/main")
        == "https://huggingface.co/spaces/o/demo"
    )
