"""Fixtures and helpers of the community tests: a real SMTP server (aiosmtpd) on
127.0.0.1, an app wired to it with a frozen clock, and members signed up through the
real pages (or made directly, when a test is about something else)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from fastapi.testclient import TestClient

from paperfeed.clock import FrozenClock
from paperfeed.config import Settings, load_settings
from paperfeed.deliver.app import create_app
from paperfeed.store.users import Member, Role
from ports import smtp_server

NOW = datetime(2026, 11, 23, 15, 0, tzinfo=UTC)
SECRET = "test-secret-" + "x" * 40
PASSWORD = "correct horse battery"


@dataclass
class Inbox:
    """Messages the test SMTP server received, newest last."""

    messages: list[EmailMessage] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        with self.lock:
            self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        with self.lock:
            return [m for m in self.messages if m["To"] == address]

    def last_link(self, address: str, wait: float = 10.0) -> str:
        """The first link of the newest mail to ``address``, waiting up to ``wait`` seconds
        for one: account mail goes out after the answer (web/outbox)."""
        deadline = time.monotonic() + wait
        found = self.to(address)
        while not found and time.monotonic() < deadline:
            time.sleep(0.05)
            found = self.to(address)
        assert found, f"no mail to {address}"
        body = found[-1].get_body(("plain",))
        assert body is not None
        match = re.search(r"https?://\S+", body.get_content())
        assert match, body.get_content()
        return match.group(0)


def app_routes() -> list[Any]:
    """Every API route of the app (the routers ``create_app`` includes)."""
    from fastapi.routing import APIRoute

    from paperfeed.deliver.routes.site import ROUTERS

    return [r for router in ROUTERS for r in router.routes if isinstance(r, APIRoute)]


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    controller = smtp_server(inbox)
    try:
        yield inbox, controller.port
    finally:
        controller.stop()


def community_settings(db_url: str, port: int, tmp_path: Any, **extra: Any) -> Settings:
    return load_settings(
        database_url=db_url,
        frozen_time=NOW,
        index_dir=str(tmp_path / "index"),
        base_url="http://testserver",
        secret_key=SECRET,
        smtp_host="127.0.0.1",
        smtp_port=port,
        smtp_tls="none",
        mail_from="paperfeed <hub@paperfeed.test>",
        **extra,
    )


@pytest.fixture
def inbox(smtp: tuple[Inbox, int]) -> Inbox:
    return smtp[0]


@pytest.fixture
def app_client(db_url: str, smtp: tuple[Inbox, int], tmp_path: Any) -> Iterator[TestClient]:
    app = create_app(community_settings(db_url, smtp[1], tmp_path))
    with TestClient(app) as client:
        yield client


def clock_of(client: TestClient) -> FrozenClock:
    clock = client.app.state.hub.clock  # type: ignore[attr-defined]
    assert isinstance(clock, FrozenClock)
    return clock


_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(client: TestClient, path: str = "/account/login") -> str:
    page = client.get(path)
    match = _CSRF.search(page.text)
    assert match, page.text[:500]
    return unescape(match.group(1))


def post_form(client: TestClient, path: str, data: dict[str, str], *, page: str = "") -> Any:
    token = csrf_of(client, page or "/account/login")
    return client.post(path, data={"csrf": token, **data}, follow_redirects=False)


def sign_up(client: TestClient, inbox: Inbox, email: str, username: str) -> None:
    """Sign up, confirm through the mailed link, and log in: the whole flow."""
    answer = post_form(
        client, "/account/signup", {"email": email, "username": username, "password": PASSWORD}
    )
    assert answer.status_code == 200, answer.text
    link = inbox.last_link(email)
    path = link.removeprefix("http://testserver")
    confirm = client.get(path)
    token = re.search(r'name="token" value="([^"]+)"', confirm.text)
    assert token
    done = post_form(client, "/account/verify", {"token": unescape(token.group(1))})
    assert done.status_code == 200 and "confirmed" in done.text, done.text
    log_in(client, email)


def log_in(client: TestClient, email: str, password: str = PASSWORD) -> Any:
    answer = post_form(client, "/account/login", {"email": email, "password": password})
    assert answer.status_code == 303, answer.text
    return answer


def make_member(client: TestClient, username: str, role: Role = "member") -> Member:
    accounts = client.app.state.services.accounts  # type: ignore[attr-defined]
    member: Member = accounts.create_user(
        email=f"{username}@example.org", username=username, password=PASSWORD, role=role
    )
    return member


def token_for(client: TestClient, member: Member) -> dict[str, str]:
    token = client.app.state.services.accounts.create_token(member, "test")  # type: ignore[attr-defined]
    return {"Authorization": f"Bearer {token}"}


def member_client(app_client: TestClient, username: str, role: Role = "member") -> TestClient:
    """A second browser (own cookies) logged in as a new member."""
    make_member(app_client, username, role)
    other = TestClient(app_client.app)
    log_in(other, f"{username}@example.org")
    return other


def add_paper(client: TestClient, arxiv_id: str = "2611.00001", **fields: Any) -> int:
    """Store a paper featured today, as ingestion does (searchable); its id."""
    from paperfeed.index.lexical import database as lexical
    from paperfeed.models import Paper
    from paperfeed.store import papers as store
    from paperfeed.store.engine import writing

    values: dict[str, Any] = {
        "title": f"Paper {arxiv_id}",
        "abstract": "An abstract.",
        "arxiv_id": arxiv_id,
        "featured_on": NOW.date(),
        "published_at": NOW,
        "source": "test",
    }
    values.update(fields)
    engine = client.app.state.services.accounts.engine  # type: ignore[attr-defined]
    with writing(engine) as conn:
        (pid,) = store.insert_papers(conn, [Paper(**values).with_arxiv_links()], NOW)
        lexical.sync(conn, [pid])
    return int(pid)


class _Elements(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.found: list[tuple[str, list[tuple[str, str | None]]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.found.append((tag, attrs))


ACTIVE_TAGS = {"script", "img", "iframe", "svg", "object", "embed", "style", "math", "video"}


def _own_markup(tag: str, values: dict[str, str | None]) -> bool:
    """The pages' own inert elements: decorative icons (``<svg aria-hidden="true">`` with
    shapes only) and thumbnails the hub serves itself. Handlers and script URLs on them are
    still reported below."""
    if tag == "svg":
        return values.get("aria-hidden") == "true"
    if tag == "img":
        return (values.get("src") or "").startswith("/thumbnails/")
    return False


def active_markup(html: str, *, allowed_scripts: set[str] | None = None) -> list[str]:
    """What in ``html`` could run script: script-capable elements, ``on*`` handlers and
    ``javascript:`` URLs. ``allowed_scripts``: the page's own ``<script src>`` values."""
    parser = _Elements()
    parser.feed(html)
    problems = []
    for tag, attrs in parser.found:
        values = dict(attrs)
        if tag == "script" and allowed_scripts is not None and values.get("src") in allowed_scripts:
            continue
        if tag in ACTIVE_TAGS and not _own_markup(tag, values):
            problems.append(f"<{tag} {values}>")
        for name, value in attrs:
            if name.startswith("on"):
                problems.append(f"<{tag} {name}={value!r}>")
            if name in ("href", "src", "action") and (value or "").strip().lower().startswith(
                ("javascript:", "data:", "vbscript:")
            ):
                problems.append(f"<{tag} {name}={value!r}>")
    return problems


def _recorded_feed() -> str:
    from tests_support import FIXTURES

    return (FIXTURES / "arxiv_api_query_all-transformer_cat-cs.LG.atom.xml").read_text()


def one_entry(arxiv_id: str) -> str:
    """The recorded arXiv API feed cut down to the entry of ``arxiv_id``, as an ``id_list``
    query answers."""
    head, _, rest = _recorded_feed().partition("<entry>")
    entries = ["<entry>" + e.split("</entry>")[0] + "</entry>" for e in rest.split("<entry>")]
    (entry,) = [e for e in entries if f"/abs/{arxiv_id}v" in e]
    head = re.sub(r"<opensearch:totalResults>\d+", "<opensearch:totalResults>1", head)
    return f"{head}{entry}\n</feed>\n"


def _empty_feed() -> str:
    head = _recorded_feed().partition("<entry>")[0]
    return re.sub(r"<opensearch:totalResults>\d+", "<opensearch:totalResults>0", head) + "</feed>\n"


EMPTY_FEED = _empty_feed()
