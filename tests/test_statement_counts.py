"""How many SQL statements a page costs (refs #16): the list, paper and collection pages
ask the database a fixed number of times, however many papers they show, so a card that
starts loading its own data (an N+1) fails here, as linkding's query-count tests do."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import event

from community_support import (
    NOW,
    add_paper,
    app_client,
    inbox,
    member_client,
    post_form,
    smtp,
)

__all__ = ["app_client", "inbox", "smtp"]

#: The most statements each page may take (measured, plus a little room): a page that
#: grows past its budget has started asking the database per card or per widget.
BUDGET = {"list": 22, "paper": 24, "collection": 18}


@contextmanager
def counted(client: TestClient) -> Iterator[list[str]]:
    """The SQL statements the app's engine runs inside the block."""
    engine = client.app.state.hub.engine  # type: ignore[attr-defined]
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


def _papers(client: TestClient, first: int, count: int) -> list[int]:
    return [add_paper(client, f"2611.{n:05d}") for n in range(first, first + count)]


def _statements(client: TestClient, path: str) -> list[str]:
    client.get(path)  # warm: the response cache and lazily built parts
    with counted(client) as seen:
        answer = client.get(path)
    assert answer.status_code == 200, (path, answer.status_code)
    return seen


def test_a_list_page_asks_the_same_whatever_its_length(app_client: TestClient) -> None:
    member = member_client(app_client, "ann")
    day = f"/papers/date/{NOW.date().isoformat()}"
    ids = _papers(app_client, 1, 3)
    post_form(member, f"/papers/id/{ids[0]}/upvote", {}, page=day)
    few = _statements(member, day)
    _papers(app_client, 100, 30)
    many = _statements(member, day)
    assert member.get(day).text.count('class="paper"') == 33
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= BUDGET["list"], "\n".join(many)


def test_the_paper_page_has_a_fixed_cost(app_client: TestClient) -> None:
    _papers(app_client, 1, 20)
    moderator = member_client(app_client, "moe", "moderator")
    seen = _statements(moderator, "/papers/2611.00001")
    hidden_checks = [s for s in seen if "hidden" in s.lower() and "moderat" in s.lower()]
    assert len(hidden_checks) <= 1, "whether the paper is hidden is asked once a page"
    assert len(seen) <= BUDGET["paper"], "\n".join(seen)


def test_a_collection_page_asks_the_same_whatever_it_holds(app_client: TestClient) -> None:
    owner = member_client(app_client, "cat")
    ids = _papers(app_client, 1, 15)
    post_form(owner, "/collections", {"title": "Reading", "public": "1"}, page="/collections")

    def collect(pid: int) -> None:
        answer = post_form(
            owner, f"/papers/id/{pid}/collect", {"collection_id": "1"}, page="/collections"
        )
        assert answer.status_code == 303

    for pid in ids[:2]:
        collect(pid)
    few = _statements(owner, "/collections/1")
    for pid in ids[2:]:
        collect(pid)
    many = _statements(owner, "/collections/1")
    assert owner.get("/collections/1").text.count('class="paper"') == 15
    assert len(many) == len(few), "\n".join(many)
    assert len(many) <= BUDGET["collection"], "\n".join(many)
